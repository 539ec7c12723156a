package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/glassmq/glassmq/codec"
)

// connectTimeout bounds one connection attempt, CONNECT to CONNACK.
const connectTimeout = 10 * time.Second

// idleDialer opens idle MQTT connections on one goroutine with raw,
// non-blocking sockets: socket, connect, write and read per connection when
// the broker answers by the time the dialer comes back to the connection,
// plus epoll_ctl when it has not. That is under half the system calls of Go's
// net.Dial (no keep-alive options, SO_ERROR, getsockname or getpeername, and
// no netpoller park and wake-up per connection). The connect-rate scenario
// measures the broker, so the load generator must outrun it on one core.
type idleDialer struct {
	sa      [28]byte // raw sockaddr_in or sockaddr_in6 of the broker
	saLen   uintptr
	family  int
	epfd    int
	cfg     *Config // its credentials go into every CONNECT
	prefix  string  // client IDs are prefix-nonce-i
	nonce   string
	pkt     []byte                  // CONNECT being built
	id      []byte                  // its client ID
	pending map[int32]*pendingDial  // by descriptor
	fresh   []*pendingDial          // pending and not in epoll, oldest first
	events  [128]syscall.EpollEvent // one epoll_wait's worth
	opened  []int                   // descriptors with a CONNACK
	hist    Histogram               // CONNECT to CONNACK
	failed  int
	first   error
}

// pendingDial is one connection between socket() and its CONNACK.
type pendingDial struct {
	fd    int
	i     int // connection number, for the client ID
	start time.Time
	wrote bool
	got   int
	ack   [4]byte
}

// newIdleDialer returns a dialer of c.Addr whose clients are named
// prefix-nonce-i.
func newIdleDialer(c *Config, prefix, nonce string) (*idleDialer, error) {
	addr := c.Addr
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bench: -addr %q: %w", addr, err)
	}
	d := &idleDialer{cfg: c, prefix: prefix, nonce: nonce, pending: map[int32]*pendingDial{}}
	ip := ta.IP
	if ip == nil {
		ip = net.IPv4(127, 0, 0, 1) // ":1883": this host
	}
	if ip4 := ip.To4(); ip4 != nil {
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&d.sa))
		sa.Family = syscall.AF_INET
		copy(sa.Addr[:], ip4)
		d.family, d.saLen = syscall.AF_INET, syscall.SizeofSockaddrInet4
	} else {
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&d.sa))
		sa.Family = syscall.AF_INET6
		copy(sa.Addr[:], ip.To16())
		if ta.Zone != "" { // fe80::1%eth0
			ifi, err := net.InterfaceByName(ta.Zone)
			if err != nil {
				return nil, fmt.Errorf("bench: -addr %q: zone: %w", addr, err)
			}
			sa.Scope_id = uint32(ifi.Index)
		}
		d.family, d.saLen = syscall.AF_INET6, syscall.SizeofSockaddrInet6
	}
	// The port is in network byte order at the same offset in both.
	d.sa[2], d.sa[3] = byte(ta.Port>>8), byte(ta.Port)
	if d.epfd, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("bench: epoll_create1: %w", err)
	}
	return d, nil
}

// openIdle opens n connections, window at a time, counting each finished
// one (opened or failed) in done. The opened descriptors stay open until
// closeAll.
func (d *idleDialer) openIdle(n, window int, done *atomic.Int64) {
	next := 0
	lastScan := time.Now()
	for len(d.opened)+d.failed < n {
		for len(d.pending) < window && next < n {
			if !d.start(next) {
				done.Add(1)
			}
			next++
		}
		finished := d.sweep()
		done.Add(int64(finished))
		// sweep leaves nothing fresh: every pending connection is in epoll.
		// With slots freed, collect what epoll has and start more at once;
		// otherwise wait for it.
		wait := 100 // ms
		if finished > 0 {
			wait = 0
		}
		k, err := syscall.EpollWait(d.epfd, d.events[:], wait)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			err = fmt.Errorf("epoll_wait: %w", err)
			for fd, p := range d.pending { // nothing can finish them now
				d.fail(p, err)
				delete(d.pending, fd)
				done.Add(1)
			}
			d.fresh = nil
			return
		}
		for _, ev := range d.events[:max(k, 0)] {
			if p := d.pending[ev.Fd]; p != nil && d.step(p, ev.Events) {
				delete(d.pending, ev.Fd)
				done.Add(1)
			}
		}
		// Look for attempts past the timeout a few times a second, not
		// after every epoll_wait: the scan would cost the load generator
		// more per connection the faster a broker answers.
		now := time.Now()
		if now.Sub(lastScan) < 100*time.Millisecond {
			continue
		}
		lastScan = now
		for fd, p := range d.pending {
			if now.Sub(p.start) > connectTimeout {
				d.fail(p, fmt.Errorf("no CONNACK within %v", connectTimeout))
				delete(d.pending, fd)
				done.Add(1)
			}
		}
	}
}

// start opens connection i's socket and starts its TCP handshake, and
// reports whether it is under way (false: it failed and was counted).
func (d *idleDialer) start(i int) bool {
	p := &pendingDial{fd: -1, i: i, start: time.Now()}
	fd, err := rawSocket(d.family)
	if err != nil {
		d.fail(p, fmt.Errorf("socket: %w", err))
		return false
	}
	p.fd = fd
	if err := rawConnect(fd, &d.sa, d.saLen); err != nil && !errors.Is(err, syscall.EINPROGRESS) {
		d.fail(p, fmt.Errorf("connect: %w", err))
		return false
	}
	// On loopback the handshake has usually finished by the time connect
	// returns, so the CONNECT goes out at once and sweep reads the answer
	// later. EAGAIN means the handshake has not finished: epoll says when.
	if err := d.writeConnect(p); err == nil {
		p.wrote = true
		d.fresh = append(d.fresh, p)
	} else if !errors.Is(err, syscall.EAGAIN) {
		d.fail(p, fmt.Errorf("CONNECT: %w", err))
		return false
	} else if err := d.watch(p, syscall.EPOLLOUT); err != nil {
		d.fail(p, err)
		return false
	}
	d.pending[int32(fd)] = p
	return true
}

// watch registers p with epoll for input (and extra events), edge-triggered:
// an idle client brings no events after its CONNACK.
func (d *idleDialer) watch(p *pendingDial, extra uint32) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET | extra, Fd: int32(p.fd)}
	if err := syscall.EpollCtl(d.epfd, syscall.EPOLL_CTL_ADD, p.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// sweep reads the CONNACKs of fresh connections, oldest first, and returns
// how many finished. At the first one without an answer yet it hands that
// one and all after it (started later still) to epoll.
func (d *idleDialer) sweep() int {
	finished := 0
	for i, p := range d.fresh {
		if d.step(p, syscall.EPOLLIN) {
			delete(d.pending, int32(p.fd))
			finished++
			continue
		}
		for _, p := range d.fresh[i:] {
			if err := d.watch(p, 0); err != nil {
				d.fail(p, err)
				delete(d.pending, int32(p.fd))
				finished++
			}
		}
		break
	}
	clear(d.fresh)
	d.fresh = d.fresh[:0]
	return finished
}

// epollET is EPOLLET as the uint32 that EpollEvent.Events holds (package
// syscall declares it negative).
const epollET = 1 << 31

// writeConnect sends p's CONNECT. A CONNECT is tens of bytes on a fresh
// socket, so a short write means something is wrong, and is an error.
func (d *idleDialer) writeConnect(p *pendingDial) error {
	pkt := d.connect(p)
	n, err := rawWrite(p.fd, pkt)
	if err == nil && n < len(pkt) {
		err = fmt.Errorf("short write of %d of %d bytes", n, len(pkt))
	}
	return err
}

// connect returns p's CONNECT packet, valid until the next call.
func (d *idleDialer) connect(p *pendingDial) []byte {
	d.id = fmt.Appendf(d.id[:0], "%s-%s-%d", d.prefix, d.nonce, p.i)
	d.pkt = d.cfg.connectPacket(d.pkt[:0], d.id)
	return d.pkt
}

// fail counts p (nil when no connection is involved) as failed, keeps the
// first error, and closes p's socket.
func (d *idleDialer) fail(p *pendingDial, err error) {
	d.failed++
	if d.first == nil {
		d.first = err
	}
	if p != nil && p.fd >= 0 {
		_ = syscall.Close(p.fd)
	}
}

// closeAll resets and closes every connection and the epoll instance: a
// reset leaves no TIME_WAIT behind for thousands of ports.
func (d *idleDialer) closeAll() {
	linger := syscall.Linger{Onoff: 1, Linger: 0}
	for _, fd := range d.opened {
		_ = syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &linger)
		_ = syscall.Close(fd)
	}
	for _, p := range d.pending {
		_ = syscall.Close(p.fd)
	}
	d.opened, d.pending = nil, nil
	_ = syscall.Close(d.epfd)
}

// step advances p on epoll events evs and reports whether p is finished.
func (d *idleDialer) step(p *pendingDial, evs uint32) bool {
	if !p.wrote && evs&syscall.EPOLLOUT != 0 {
		if err := d.writeConnect(p); err != nil {
			d.fail(p, fmt.Errorf("CONNECT: %w", err))
			return true
		}
		p.wrote = true
	}
	if evs&syscall.EPOLLIN != 0 || evs&(syscall.EPOLLERR|syscall.EPOLLHUP|syscall.EPOLLRDHUP) != 0 {
		for p.got < len(p.ack) {
			n, err := rawRead(p.fd, p.ack[p.got:])
			switch {
			case errors.Is(err, syscall.EAGAIN):
				return false
			case err != nil:
				d.fail(p, fmt.Errorf("CONNACK: %w", err))
				return true
			case n == 0:
				d.fail(p, errors.New("CONNACK: connection closed by the broker"))
				return true
			}
			p.got += n
		}
		var ack codec.Connack
		if _, err := ack.Decode(p.ack[:]); err != nil {
			d.fail(p, fmt.Errorf("CONNACK: %w", err))
			return true
		}
		if ack.ReturnCode != codec.Accepted {
			d.fail(p, fmt.Errorf("CONNACK return code %#02x", ack.ReturnCode))
			return true
		}
		d.hist.Record(int64(time.Since(p.start)))
		d.opened = append(d.opened, p.fd)
		return true
	}
	return false
}

// The dialer's socket, connect, write and read never block (the sockets are
// non-blocking), so they go through RawSyscall: no scheduler bookkeeping
// around each call, and no P left in a system call state for sysmon to
// notice and retake (with GOMAXPROCS=1 that kept sysmon waking every 70 µs
// on the load generator's one core). epoll_wait, which blocks, stays a
// normal system call.

func rawSocket(family int) (int, error) {
	fd, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(family), syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

func rawConnect(fd int, sa *[28]byte, n uintptr) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(sa)), n); e != 0 {
		return e
	}
	return nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawRead(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// growFDTable grows this process's descriptor table to hold n descriptors
// before the timed part starts. Linux grows it by doubling, and in a
// multi-threaded process each growth waits for an RCU grace period (5-15 ms
// here) inside connect(): the load generator's own stall, which would
// otherwise show in every broker's connect p99. The broker does the same at
// start (broker/fdtable.go); this package may not import broker.
func growFDTable(n int) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return
	}
	defer f.Close()
	sc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = sc.Control(func(fd uintptr) {
		nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, uintptr(n-1))
		if errno == 0 {
			syscall.Close(int(nfd))
		}
	})
}
