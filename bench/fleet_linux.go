package bench

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"

	"github.com/glassmq/glassmq/codec"
)

// deviceShard drives a share of the fleet's devices from one goroutine with
// raw non-blocking sockets and one epoll instance, edge-triggered: per
// message one write (a PUBLISH, with the PUBACKs the device owes in the same
// write) and, per wake-up, one read per device with input, which takes every
// packet waiting. No goroutine, timer or netpoller registration per device,
// so 18,000 devices cost the load generator little more than their system
// calls. Everything but the atomics belongs to the goroutine running run
// until it returns.
type deviceShard struct {
	f      *fleet
	epfd   int
	devs   []*device // in order of their phase in the sending period
	byFD   map[int32]*device
	buf    []byte // read buffer
	acks   []byte // PUBACKs a device owes, gathered over one read
	events [256]syscall.EpollEvent

	cmds   *Tracker  // commands received, all from publisher 0
	cmdLat Histogram // command latency, backend to device
	lag    Histogram // how late each PUBLISH left, against its schedule

	sent     atomic.Uint64 // telemetry PUBLISHes written
	acked    atomic.Uint64 // their PUBACKs
	cmdGot   atomic.Uint64 // distinct commands received
	caughtUp atomic.Bool   // every PUBLISH due before the fleet's end was written
	subacked int           // devices whose SUBACK came
	skipped  uint64        // sends skipped: the device's window was full
	strays   uint64        // PUBACKs with nothing in flight
	closed   int           // devices whose connection failed
	errs     []error       // the first few problems
}

// device is one connected device. Loop-owned by its shard.
type device struct {
	fd       int
	index    uint32
	pkt      []byte // its PUBLISH; packet ID and payload header rewritten per send
	idAt     int    // offset of the packet ID in pkt; QoS 1 only
	payAt    int    // offset of the payload in pkt
	nextID   uint16
	inflight int
	seq      uint32
	subacked bool
	dead     bool
	partial  []byte // an incomplete packet read so far
	out      []byte // bytes the socket did not take yet
}

// newDeviceShards hands the connected descriptors fds (device i is fds[i])
// to shards deviceShards, device i to shard i mod shards, and registers
// them with each shard's epoll.
func newDeviceShards(f *fleet, fds []int, shards int) ([]*deviceShard, error) {
	out := make([]*deviceShard, shards)
	for k := range out {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			for _, s := range out[:k] {
				s.close()
			}
			return nil, fmt.Errorf("bench: epoll_create1: %w", err)
		}
		out[k] = &deviceShard{f: f, epfd: epfd, byFD: map[int32]*device{}, buf: make([]byte, 64<<10),
			cmds: NewTracker(1, 0)}
	}
	payload := make([]byte, f.cfg.Payload)
	for i := MinPayload; i < len(payload); i++ {
		payload[i] = 'x'
	}
	for i, fd := range fds {
		s := out[i%shards]
		d := &device{fd: fd, index: uint32(i)}
		p := codec.Publish{QoS: f.cfg.QoS, TopicName: f.telemetryTopic(i), Payload: payload}
		if p.QoS > 0 {
			p.PacketID = 1
		}
		d.pkt = codec.AppendPublish(nil, &p)
		d.payAt = len(d.pkt) - len(payload)
		d.idAt = d.payAt - 2
		s.devs = append(s.devs, d)
		s.byFD[int32(fd)] = d
		// Nagle off, as Go does for its own connections: a device's PUBLISH
		// written while its PUBACK of a command is not yet acknowledged by
		// TCP would otherwise wait for the broker's delayed ACK (a p99.9 of
		// 32 ms at QoS 1 for every broker alike).
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
			s.kill(d, fmt.Errorf("TCP_NODELAY: %w", err))
			continue
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET, Fd: int32(fd)}
		if err := syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			s.kill(d, fmt.Errorf("epoll_ctl: %w", err))
		}
	}
	return out, nil
}

// run subscribes every device to its command topic, then publishes on
// schedule once the fleet's start is set, and handles what comes back,
// until the fleet's quit is set.
func (s *deviceShard) run() {
	f := s.f
	for _, d := range s.devs {
		if !d.dead {
			s.write(d, codec.AppendSubscribe(s.acks[:0], 1, []codec.Subscription{{TopicFilter: f.commandTopic(int(d.index)), QoS: f.cfg.QoS}}))
		}
	}
	s.acks = s.acks[:0]
	cursor, round := 0, int64(0)
	for !f.quit.Load() {
		timeout := 10 // ms: how often quit is looked at when nothing happens
		if start := f.start.Load(); start != 0 && len(s.devs) > 0 {
			end, now := f.end.Load(), f.clock.now()
			for {
				d := s.devs[cursor]
				due := start + f.phase(d.index) + round*f.period
				if due >= end {
					s.caughtUp.Store(true)
					break
				}
				if due > now {
					timeout = min(timeout, int((due-now+999_999)/1_000_000))
					break
				}
				s.publish(d, due, now)
				if cursor++; cursor == len(s.devs) {
					cursor, round = 0, round+1
				}
			}
		}
		n, err := syscall.EpollWait(s.epfd, s.events[:], timeout)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			s.addErr(fmt.Errorf("epoll_wait: %w", err))
			return
		}
		for _, ev := range s.events[:max(n, 0)] {
			d := s.byFD[ev.Fd]
			if d == nil || d.dead {
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 && len(d.out) > 0 {
				s.flush(d)
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLERR|syscall.EPOLLHUP|syscall.EPOLLRDHUP) != 0 && !d.dead {
				s.read(d)
			}
		}
	}
}

// publish sends d's next telemetry message, due at due, now.
func (s *deviceShard) publish(d *device, due, now int64) {
	if d.dead {
		return
	}
	if s.f.cfg.QoS > 0 {
		if d.inflight >= s.f.cfg.Window {
			s.skipped++
			return
		}
		if d.nextID++; d.nextID == 0 {
			d.nextID = 1
		}
		d.pkt[d.idAt], d.pkt[d.idAt+1] = byte(d.nextID>>8), byte(d.nextID)
		d.inflight++
	}
	putHeader(d.pkt[d.payAt:], d.index, d.seq, now)
	d.seq++
	s.lag.Record(now - due)
	s.sent.Add(1)
	s.write(d, d.pkt)
}

// write sends b on d's socket, keeping what the socket does not take for
// flush, after whatever waits there already.
func (s *deviceShard) write(d *device, b []byte) {
	if len(d.out) > 0 {
		d.out = append(d.out, b...)
		s.flush(d)
		return
	}
	n, err := rawWrite(d.fd, b)
	if err != nil && !errors.Is(err, syscall.EAGAIN) {
		s.kill(d, fmt.Errorf("write: %w", err))
		return
	}
	if n < len(b) {
		d.out = append(d.out, b[n:]...)
	}
}

// flush writes what d's socket did not take before.
func (s *deviceShard) flush(d *device) {
	for len(d.out) > 0 {
		n, err := rawWrite(d.fd, d.out)
		if errors.Is(err, syscall.EAGAIN) {
			return
		}
		if err != nil {
			s.kill(d, fmt.Errorf("write: %w", err))
			return
		}
		d.out = d.out[:copy(d.out, d.out[n:])]
	}
}

// read reads what waits on d's socket and handles each whole packet. A read
// that fills less than the buffer took everything: with edge-triggered
// epoll, more input brings another event, so no read ends in EAGAIN.
func (s *deviceShard) read(d *device) {
	for !d.dead {
		b := s.buf
		k := copy(b, d.partial)
		n, err := rawRead(d.fd, b[k:])
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return
		case err != nil:
			s.kill(d, fmt.Errorf("read: %w", err))
			return
		case n == 0:
			s.kill(d, errors.New("connection closed by the broker"))
			return
		}
		w, now, r := k+n, s.f.clock.now(), 0
		for r < w && !d.dead {
			size, err := codec.Frame(b[r:w], 0)
			if err != nil {
				s.kill(d, err)
				return
			}
			if size == 0 {
				break
			}
			s.handle(d, b[r:r+size], now)
			r += size
		}
		d.partial = append(d.partial[:0], b[r:w]...)
		if len(s.acks) > 0 && !d.dead {
			s.write(d, s.acks)
		}
		s.acks = s.acks[:0]
		if w < len(b) {
			return
		}
	}
}

// handle takes one packet the broker sent d, arrived at now.
func (s *deviceShard) handle(d *device, pkt []byte, now int64) {
	switch codec.PacketType(pkt) {
	case codec.TypePuback:
		if d.inflight == 0 {
			s.strays++
			return
		}
		d.inflight--
		s.acked.Add(1)
	case codec.TypeSuback:
		var ack codec.Suback
		if _, err := ack.Decode(pkt); err != nil {
			s.kill(d, err)
			return
		}
		if len(ack.ReturnCodes) != 1 || ack.ReturnCodes[0] > 2 {
			s.kill(d, fmt.Errorf("SUBACK return codes %x for the command topic", ack.ReturnCodes))
			return
		}
		if !d.subacked {
			d.subacked = true
			s.subacked++
			s.f.subacked.Add(1)
		}
	case codec.TypePublish:
		var p codec.Publish
		if _, err := p.Decode(pkt); err != nil {
			s.kill(d, err)
			return
		}
		if p.QoS == 1 {
			s.acks = codec.AppendPuback(s.acks, p.PacketID)
		}
		pub, seq, sent, ok := header(p.Payload)
		if !ok || pub != 0 {
			s.addErr(fmt.Errorf("device %d: a message on %q that no backend of this run sent", d.index, p.TopicName))
			return
		}
		if s.cmds.Record(pub, seq) {
			s.cmdLat.Record(now - sent)
			s.cmdGot.Add(1)
		}
	default:
		s.kill(d, fmt.Errorf("unexpected %v", codec.PacketType(pkt)))
	}
}

// kill closes d after a failure; the run goes on with the other devices.
func (s *deviceShard) kill(d *device, err error) {
	if d.dead {
		return
	}
	d.dead = true
	s.closed++
	s.addErr(fmt.Errorf("device %d: %w", d.index, err))
	_ = syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_DEL, d.fd, nil)
	_ = syscall.Close(d.fd)
}

func (s *deviceShard) addErr(err error) {
	if len(s.errs) < 4 {
		s.errs = append(s.errs, err)
	}
}

// close resets and closes every device's connection (no TIME_WAIT left for
// thousands of ports) and the epoll instance.
func (s *deviceShard) close() {
	linger := syscall.Linger{Onoff: 1, Linger: 0}
	for _, d := range s.devs {
		if !d.dead {
			_ = syscall.SetsockoptLinger(d.fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &linger)
			_ = syscall.Close(d.fd)
			d.dead = true
		}
	}
	_ = syscall.Close(s.epfd)
}

func closeFD(fd int) { _ = syscall.Close(fd) }

// openDevices connects n devices with the raw-socket dialer, window at a
// time, counting each finished attempt in done, and returns their
// descriptors, the attempts that failed and the first error.
func openDevices(c *Config, nonce string, n, window int, done *atomic.Int64) (fds []int, failed int, first error, err error) {
	d, err := newIdleDialer(c, "dev", nonce)
	if err != nil {
		return nil, 0, nil, err
	}
	d.openIdle(n, window, done)
	fds = d.opened
	d.opened = nil // now the shards' to close
	d.closeAll()
	return fds, d.failed, d.first, nil
}
