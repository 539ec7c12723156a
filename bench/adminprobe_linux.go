package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"syscall"
	"time"
)

// lockedCaller is the admin probe's measuring client: one keep-alive
// connection, a blocking socket outside Go's poller, read and written by
// one goroutine locked to its own OS thread. The answer wakes that thread
// straight from the kernel, so what the probe adds to a request's time is
// one thread's wake-up, not the poller's and a second goroutine's as with
// net/http.
//
// The thread is locked by the goroutine that calls do: run serves a
// caller's requests on such a goroutine.
type lockedCaller struct {
	addr string
	fd   int // -1 when not connected
	br   *bufio.Reader
	w    bytes.Buffer
}

// ioTimeout bounds one read or write on the probe's socket.
const ioTimeout = 5 * time.Second

func newLockedCaller(addr string) (*lockedCaller, error) {
	l := &lockedCaller{addr: addr, fd: -1}
	l.br = bufio.NewReaderSize(fdReader{l}, 16<<10)
	return l, l.dial()
}

func (l *lockedCaller) dial() error {
	ap, err := net.ResolveTCPAddr("tcp", l.addr)
	if err != nil {
		return err
	}
	var sa syscall.Sockaddr
	family := syscall.AF_INET
	if ip4 := ap.IP.To4(); ip4 != nil {
		s := &syscall.SockaddrInet4{Port: ap.Port}
		copy(s.Addr[:], ip4)
		sa = s
	} else {
		family = syscall.AF_INET6
		s := &syscall.SockaddrInet6{Port: ap.Port}
		copy(s.Addr[:], ap.IP.To16())
		sa = s
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	tv := syscall.NsecToTimeval(int64(ioTimeout))
	if err := errors.Join(
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1),
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv),
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv),
		syscall.Connect(fd, sa),
	); err != nil {
		syscall.Close(fd)
		return err
	}
	l.fd = fd
	l.br.Reset(fdReader{l})
	return nil
}

// fdReader reads the caller's socket with blocking read system calls.
type fdReader struct{ l *lockedCaller }

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(r.l.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, fmt.Errorf("admin: no answer within %v: %w", ioTimeout, err)
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (l *lockedCaller) do(req *http.Request) (int, []byte, time.Duration, error) {
	l.w.Reset()
	if err := req.Write(&l.w); err != nil {
		return 0, nil, 0, err
	}
	status, body, d, err := l.roundTrip(req)
	if err != nil && !errors.Is(err, syscall.EAGAIN) {
		// The broker may have closed an idle keep-alive connection: once
		// more on a new one.
		l.close()
		if derr := l.dial(); derr != nil {
			return 0, nil, 0, derr
		}
		status, body, d, err = l.roundTrip(req)
	}
	return status, body, d, err
}

func (l *lockedCaller) roundTrip(req *http.Request) (int, []byte, time.Duration, error) {
	if l.fd < 0 {
		return 0, nil, 0, errors.New("admin: not connected")
	}
	b := l.w.Bytes()
	t0 := time.Now()
	for len(b) > 0 {
		n, err := syscall.Write(l.fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, nil, 0, err
		}
		b = b[n:]
	}
	resp, err := http.ReadResponse(l.br, req)
	if err != nil {
		return 0, nil, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.Close {
		l.close()
	}
	return resp.StatusCode, body, d, err
}

func (l *lockedCaller) close() {
	if l.fd >= 0 {
		syscall.Close(l.fd)
		l.fd = -1
	}
}

// lockThread pins the calling goroutine to its OS thread for good: the
// thread ends with the goroutine.
func lockThread() { runtime.LockOSThread() }

// selfCPU returns this process's CPU time so far, user and system,
// counting threads that have ended (the probe's locked threads end with
// their workers; /proc's per-thread times would lose them).
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
