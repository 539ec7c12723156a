//go:build linux

package bench

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// The fleet scenario: Config.Devices devices, each publishing telemetry to
// ROOT/i/telemetry at Config.DeviceRate messages per second, spread evenly
// over the period, and subscribed to its command topic ROOT/i/cmd;
// Config.Backends backends subscribed to ROOT/+/telemetry (each receives
// every device's telemetry); one more backend connection publishes commands
// to the devices in turn at Config.CommandRate per device per second. It
// reports the broker's CPU time per delivered message (telemetry to
// backends plus commands to devices), end-to-end latency at the offered
// rate, the broker's RSS per device and the load generator's own CPU.

// fleet is one run of the fleet scenario.
type fleet struct {
	cfg     *Config
	clock   *clock
	nonce   string
	n       int   // devices connected
	nshards int   // device shards, one goroutine each
	period  int64 // ns between two messages of one device

	start    atomic.Int64 // when publishing starts, ns since the clock's epoch; 0 before
	end      atomic.Int64 // no message is due at or after it
	quit     atomic.Bool  // the shards stop
	subacked atomic.Int64 // devices subscribed to their command topic

	shards   []*deviceShard
	backends []*subscriber
	cmd      *commander
	wg       sync.WaitGroup
	mu       sync.Mutex
	errs     []error // from the backends' and the commander's goroutines
}

func (f *fleet) fail(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

func (f *fleet) telemetryTopic(i int) []byte {
	return []byte(f.cfg.TopicRoot + "/" + strconv.Itoa(i) + "/telemetry")
}

func (f *fleet) commandTopic(i int) []byte {
	return []byte(f.cfg.TopicRoot + "/" + strconv.Itoa(i) + "/cmd")
}

// phase is the offset of device i's messages within the period: the fleet's
// sends are spread evenly, not in bursts.
func (f *fleet) phase(i uint32) int64 { return int64(i) * f.period / int64(f.n) }

func (f *fleet) sent() (n uint64) {
	for _, s := range f.shards {
		n += s.sent.Load()
	}
	return n
}

func (f *fleet) delivered() (n uint64) {
	for _, b := range f.backends {
		n += b.unique.Load()
	}
	for _, s := range f.shards {
		n += s.cmdGot.Load()
	}
	return n
}

// runFleet runs the fleet scenario.
func runFleet(c *Config) (Result, error) {
	r := newResult(c)
	r.Variant = strconv.Itoa(c.Devices) + " devices"
	if err := RaiseFileLimit(c.Devices + c.Backends + 256); err != nil {
		return r, err
	}
	growFDTable(c.Devices + c.Backends + 256)
	// The shards block in epoll_wait holding their thread; with no spare P
	// the backends' goroutines would wait for sysmon to retake it (up to
	// 10 ms when it has backed off), which showed as a p99.9 of 32 ms for
	// every broker alike. A P per shard plus two for the rest avoids that.
	shards := max(1, runtime.GOMAXPROCS(0))
	if prev := runtime.GOMAXPROCS(0); prev < shards+2 {
		runtime.GOMAXPROCS(shards + 2)
		defer runtime.GOMAXPROCS(prev)
	}
	f := &fleet{cfg: c, clock: newClock(), nonce: newNonce(), period: int64(1e9 / c.DeviceRate), nshards: shards}
	var rss0 int64
	if c.BrokerPID > 0 {
		var err error
		if rss0, err = VmRSS(c.BrokerPID); err != nil {
			return r, err
		}
	}
	defer f.close()
	if err := f.connect(&r); err != nil {
		return r, err
	}
	var bcpu0, bcpu1 time.Duration
	var err error
	if c.BrokerPID > 0 {
		if bcpu0, err = ProcessCPU(c.BrokerPID); err != nil {
			return r, err
		}
	}
	self0, serr0 := ProcessCPU(os.Getpid())
	wall0 := time.Now()

	t0 := f.clock.now() + int64(5*time.Millisecond)
	f.end.Store(t0 + int64(c.FleetDuration))
	f.start.Store(t0)
	prog := startProgress(c.Progress, label(c)+" "+r.Variant, func() (uint64, uint64) { return f.sent(), f.delivered() })
	if f.cmd != nil {
		f.wg.Go(func() { f.cmd.send(t0, t0+int64(c.FleetDuration)) })
	}
	time.Sleep(time.Duration(t0 + int64(c.FleetDuration) - f.clock.now()))
	f.waitSenders(time.Now().Add(c.Drain))
	f.waitDeliveries(time.Now().Add(c.Drain))
	prog.stop()

	if c.BrokerPID > 0 {
		if bcpu1, err = ProcessCPU(c.BrokerPID); err != nil {
			r.addError(err)
		}
		if rss1, err := VmRSS(c.BrokerPID); err != nil {
			r.addError(err)
		} else {
			r.RSSBeforeKiB, r.RSSAfterKiB = rss0, rss1
			r.RSSPerConnB = float64(rss1-rss0) * 1024 / float64(f.n)
		}
	}
	self1, serr1 := ProcessCPU(os.Getpid())
	wall := time.Since(wall0)
	f.quit.Store(true)
	f.close()
	f.collect(&r)
	if r.Delivered > 0 && bcpu1 > bcpu0 {
		r.CPUPerMsgUs = float64(bcpu1-bcpu0) / float64(time.Microsecond) / float64(r.Delivered+r.CmdDelivered)
		r.MsgPerCPUSecond = 1e6 / r.CPUPerMsgUs
	}
	if serr0 == nil && serr1 == nil {
		r.ClientCPU = float64(self1-self0) / float64(wall)
	}
	return r, nil
}

// connect opens the backends, the devices and the command publisher, and
// waits until every device has its SUBACK.
func (f *fleet) connect(r *Result) error {
	c := f.cfg
	deadline := time.Now().Add(30 * time.Second)
	hint := int(c.FleetDuration.Seconds()*c.DeviceRate) + 8
	for i := range c.Backends {
		conn, err := c.dialFlow(5 * time.Second)
		if err != nil {
			return fmt.Errorf("backend %d: %w", i, err)
		}
		b := newSubscriber(i, conn, f.clock, c.Devices, hint)
		f.backends = append(f.backends, b)
		if err := handshake(conn, fmt.Sprintf("backend-%s-%d", f.nonce, i), c, "", "", deadline); err != nil {
			return fmt.Errorf("backend %d: %w", i, err)
		}
		if err := subscribe(conn, c.TopicRoot+"/+/telemetry", c.QoS, deadline); err != nil {
			return fmt.Errorf("backend %d: %w", i, err)
		}
		f.wg.Go(func() {
			if err := b.receive(); err != nil {
				f.fail(fmt.Errorf("backend %d: %w", b.index, err))
			}
		})
	}
	var done atomic.Int64
	prog := startProgress(c.Progress, "connecting devices", func() (uint64, uint64) { return uint64(done.Load()), uint64(f.subacked.Load()) })
	defer prog.stop()
	fds, failed, first, err := openDevices(c, f.nonce, c.Devices, c.Dialers, &done)
	if err != nil {
		return err
	}
	r.ConnectFailed = failed
	if first != nil {
		r.addError(fmt.Errorf("%d devices did not connect, first: %w", failed, first))
	}
	if len(fds) == 0 {
		return fmt.Errorf("bench: no device connected: %v", first)
	}
	f.n = len(fds)
	if f.shards, err = newDeviceShards(f, fds, f.nshards); err != nil {
		for _, fd := range fds {
			closeFD(fd)
		}
		return err
	}
	for _, s := range f.shards {
		f.wg.Go(s.run)
	}
	for f.subacked.Load() < int64(f.n) {
		if time.Now().After(deadline) {
			r.addError(fmt.Errorf("%d of %d devices had no SUBACK after 30s", int64(f.n)-f.subacked.Load(), f.n))
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c.CommandRate > 0 {
		conn, err := c.dialFlow(5 * time.Second)
		if err != nil {
			return fmt.Errorf("command publisher: %w", err)
		}
		f.cmd = &commander{f: f, conn: conn, rate: c.CommandRate * float64(f.n), wake: make(chan struct{}, 1)}
		if err := handshake(conn, "commands-"+f.nonce, c, "", "", deadline); err != nil {
			return fmt.Errorf("command publisher: %w", err)
		}
		f.wg.Go(func() {
			if err := f.cmd.readAcks(); err != nil && !f.cmd.stop.Load() {
				f.fail(fmt.Errorf("command publisher: %w", err))
			}
		})
	}
	return nil
}

// waitSenders returns when every shard and the commander have written
// what fell due before the fleet's end (a starved goroutine may still be
// catching up when the period is over), or at until.
func (f *fleet) waitSenders(until time.Time) {
	for time.Now().Before(until) {
		done := f.cmd == nil || f.cmd.done.Load()
		for _, s := range f.shards {
			done = done && (s.caughtUp.Load() || len(s.devs) == 0)
		}
		if done {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitDeliveries returns when every message sent so far has reached every
// backend and every command its device, when nothing has arrived for a
// while (the rest is lost), or at until.
func (f *fleet) waitDeliveries(until time.Time) {
	const stall = 5 * time.Second // a loaded machine can pause deliveries for a second; a real loss costs 5 s more
	lastN, lastChange := f.delivered(), time.Now()
	for {
		// Telemetry and commands are waited for apart: a command counted
		// as received a moment before its sender counts it sent must not
		// stand in for telemetry still on its way.
		var tele, cmds, cmdWant uint64
		for _, b := range f.backends {
			tele += b.unique.Load()
		}
		for _, s := range f.shards {
			cmds += s.cmdGot.Load()
		}
		if f.cmd != nil {
			cmdWant = f.cmd.sent.Load()
		}
		if tele >= f.sent()*uint64(len(f.backends)) && cmds >= cmdWant {
			return
		}
		n := tele + cmds
		now := time.Now()
		if n != lastN {
			lastN, lastChange = n, now
		} else if now.Sub(lastChange) > stall || now.After(until) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// close stops and closes everything; it may be called more than once.
func (f *fleet) close() {
	f.quit.Store(true)
	if f.cmd != nil {
		f.cmd.stop.Store(true)
		f.cmd.conn.Close()
	}
	for _, b := range f.backends {
		b.stopping.Store(true)
		b.conn.Close()
	}
	f.wg.Wait()
	for _, s := range f.shards {
		s.close()
	}
}

// collect fills r from the stopped run.
func (f *fleet) collect(r *Result) {
	c := f.cfg
	r.Connections, r.Subscribers, r.Publishers = f.n, len(f.backends), f.n
	r.OfferedRate = float64(f.n) * c.DeviceRate
	var lag, cmdLat, lat Histogram
	sent := make([]uint64, f.n)
	var skipped, strays uint64
	closed := 0
	for _, s := range f.shards {
		for _, d := range s.devs {
			sent[d.index] = uint64(d.seq)
		}
		r.Sent += s.sent.Load()
		r.CmdDelivered += s.cmdGot.Load()
		lag.Merge(&s.lag)
		cmdLat.Merge(&s.cmdLat)
		skipped += s.skipped
		strays += s.strays
		closed += s.closed
		r.Duplicates += s.cmds.Duplicates
		for _, err := range s.errs {
			r.addError(err)
		}
	}
	for _, b := range f.backends {
		r.Expected += r.Sent
		r.Lost += b.tracker.Lost(sent)
		r.Duplicates += b.tracker.Duplicates
		r.Reordered += b.tracker.Reordered
		r.Delivered += b.tracker.Unique
		lat.Merge(&b.latency)
		if n := b.errs.Load(); n > 0 {
			r.addError(fmt.Errorf("backend %d: %d malformed payloads", b.index, n))
		}
	}
	if f.cmd != nil {
		r.CmdSent = f.cmd.sent.Load()
		r.CmdLost = r.CmdSent - min(r.CmdSent, r.CmdDelivered)
	}
	r.Elapsed = c.FleetDuration.Seconds()
	r.Rate = float64(r.Delivered+r.CmdDelivered) / r.Elapsed
	r.PubRate = float64(r.Sent) / r.Elapsed
	r.setLatency(&lat)
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	r.CmdP50, r.CmdP99 = us(cmdLat.Quantile(0.5)), us(cmdLat.Quantile(0.99))
	r.LagP99 = us(lag.Quantile(0.99))
	r.Skipped = skipped
	f.mu.Lock()
	for _, err := range f.errs {
		r.addError(err)
	}
	f.mu.Unlock()
	if strays > 0 {
		r.addError(fmt.Errorf("%d PUBACKs for no message in flight", strays))
	}
	if closed > 0 {
		r.addError(fmt.Errorf("%d device connections failed during the run", closed))
	}
}

// commander is the backend that publishes commands: to device 0, 1, 2 ...
// in turn, at rate per second in all, each numbered (publisher 0) and
// stamped with its send time.
type commander struct {
	f        *fleet
	conn     net.Conn
	rate     float64
	sent     atomic.Uint64
	inflight atomic.Int64
	stop     atomic.Bool
	done     atomic.Bool   // send has returned
	wake     chan struct{} // a PUBACK freed a window slot
}

// send publishes on schedule from start until end (ns since the epoch).
func (m *commander) send(start, end int64) {
	defer m.done.Store(true)
	f := m.f
	qos := f.cfg.QoS
	payload := make([]byte, f.cfg.Payload)
	var batch []byte
	var id uint16
	var seq uint64
	for !m.stop.Load() {
		now := f.clock.now()
		last := now >= end
		if last {
			now = end // what fell due up to the end still goes: a late wake-up must not shorten the run
		}
		due := uint64(0)
		if now > start {
			due = uint64(float64(now-start) * m.rate / 1e9)
		}
		batch = batch[:0]
		for seq < due && (qos == 0 || m.inflight.Load() < int64(f.cfg.Window)) {
			dev := int(seq % uint64(f.n))
			putHeader(payload, 0, uint32(seq), now)
			p := codec.Publish{QoS: qos, TopicName: f.commandTopic(dev), Payload: payload}
			if qos > 0 {
				if id++; id == 0 {
					id = 1
				}
				p.PacketID = id
				m.inflight.Add(1)
			}
			batch = codec.AppendPublish(batch, &p)
			seq++
		}
		if len(batch) > 0 {
			if _, err := m.conn.Write(batch); err != nil {
				return
			}
			m.sent.Store(seq)
		}
		if last {
			return
		}
		select {
		case <-m.wake:
		case <-time.After(time.Millisecond):
		}
	}
}

// readAcks counts the PUBACKs of the commands until the connection closes.
func (m *commander) readAcks() error {
	return readLoop(m.conn, m.f.clock, func(pkt []byte, _ int64) error {
		if codec.PacketType(pkt) != codec.TypePuback {
			return fmt.Errorf("unexpected %v", codec.PacketType(pkt))
		}
		if m.inflight.Add(-1) < 0 {
			m.inflight.Add(1)
		}
		select {
		case m.wake <- struct{}{}:
		default:
		}
		return nil
	}, nil)
}
