package admin

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// schedFIFO is Linux's SCHED_FIFO policy.
const schedFIFO = 1

// setRealtime makes the calling thread SCHED_FIFO at priority prio.
func setRealtime(prio int) error {
	param := struct{ priority int32 }{int32(prio)}
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedFIFO, uintptr(unsafe.Pointer(&param)))
	if e != 0 {
		return os.NewSyscallError("sched_setscheduler", e)
	}
	return nil
}

// blockingConn is a TCP connection read and written with blocking system
// calls, outside Go's poller, for one thread that owns it. Deadlines are
// the socket's SO_RCVTIMEO and SO_SNDTIMEO. Close may come from any
// goroutine: it shuts the socket down, which ends a blocked read or write;
// the owner closes the descriptor (closeFD) once it is done with it.
type blockingConn struct {
	fd     int
	la, ra net.Addr
	once   sync.Once
}

// newBlockingConn moves tc's socket to a blocking descriptor of its own and
// closes tc.
func newBlockingConn(tc *net.TCPConn) (*blockingConn, error) {
	f, err := tc.File() // a duplicate descriptor
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		return nil, os.NewSyscallError("dup", err)
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	bc := &blockingConn{fd: fd, la: tc.LocalAddr(), ra: tc.RemoteAddr()}
	tc.Close()
	return bc, nil
}

func (c *blockingConn) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(c.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, os.ErrDeadlineExceeded
		case err != nil:
			return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.la, Addr: c.ra, Err: err}
		case n == 0 && len(p) > 0:
			return 0, net.ErrClosed
		}
		return n, nil
	}
}

func (c *blockingConn) Write(p []byte) (int, error) {
	w := 0
	for w < len(p) {
		n, err := syscall.Write(c.fd, p[w:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return w, os.ErrDeadlineExceeded
		case err != nil:
			return w, &net.OpError{Op: "write", Net: "tcp", Source: c.la, Addr: c.ra, Err: err}
		}
		w += n
	}
	return w, nil
}

// Close shuts the socket down both ways. Safe for concurrent use.
func (c *blockingConn) Close() error {
	c.once.Do(func() { _ = syscall.Shutdown(c.fd, syscall.SHUT_RDWR) })
	return nil
}

// closeFD closes the descriptor; the owner calls it once, last.
func (c *blockingConn) closeFD() { syscall.Close(c.fd) }

func (c *blockingConn) LocalAddr() net.Addr  { return c.la }
func (c *blockingConn) RemoteAddr() net.Addr { return c.ra }

func (c *blockingConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}
func (c *blockingConn) SetReadDeadline(t time.Time) error  { return c.timeout(syscall.SO_RCVTIMEO, t) }
func (c *blockingConn) SetWriteDeadline(t time.Time) error { return c.timeout(syscall.SO_SNDTIMEO, t) }

// timeout sets opt to the time left until t (none for the zero time; a
// past t gives the shortest timeout the kernel takes).
func (c *blockingConn) timeout(opt int, t time.Time) error {
	var d time.Duration
	if !t.IsZero() {
		d = max(time.Until(t), time.Microsecond)
	}
	tv := syscall.NsecToTimeval(d.Nanoseconds())
	return os.NewSyscallError("setsockopt", syscall.SetsockoptTimeval(c.fd, syscall.SOL_SOCKET, opt, &tv))
}
