package bench

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// topology is who publishes and who subscribes to which topic in a run.
type topology struct {
	pubTopic []int // topic index of each publisher
	subTopic []int // topic index of each subscriber
	topics   int
}

func topologyOf(c *Config) topology {
	switch c.Scenario {
	case "fanin":
		return topology{pubTopic: make([]int, c.Publishers), subTopic: []int{0}, topics: 1}
	case "fanout":
		return topology{pubTopic: []int{0}, subTopic: make([]int, c.Subscribers), topics: 1}
	case "latency":
		return topology{pubTopic: []int{0}, subTopic: []int{0}, topics: 1}
	default: // pairs, admin
		t := topology{pubTopic: make([]int, c.Pairs), subTopic: make([]int, c.Pairs), topics: c.Pairs}
		for i := range c.Pairs {
			t.pubTopic[i], t.subTopic[i] = i, i
		}
		return t
	}
}

// backlogBytes caps Config.Backlog for big payloads: at most this many bytes
// of messages sent and not yet delivered.
const backlogBytes = 32 << 20

// flow is one run of publishers and subscribers: fanin, fanout, pairs,
// latency, and the load under admin.
type flow struct {
	cfg   *Config
	top   topology
	clock *clock
	nonce string
	pubs  []*publisher
	subs  []*subscriber
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error
	// beforeClose, when set, runs after the deliveries are in and before
	// the connections close (the admin scenario stops its requests there).
	beforeClose func()
	// stall is how long waitDeliveries waits with no delivery before it
	// counts the rest as lost; 0 means 500 ms.
	stall time.Duration
}

func newNonce() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (f *flow) topic(i int) string { return fmt.Sprintf("bench/%s/%d", f.nonce, i) }

func (f *flow) fail(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

// connect opens, handshakes and subscribes every connection, subscribers
// first, and starts their readers. On error the caller must still close.
func (f *flow) connect() error {
	c := f.cfg
	f.clock = newClock()
	f.nonce = newNonce()
	deadline := time.Now().Add(10 * time.Second)
	hint := int(min(c.Count, 1<<20))
	subAddr := c.Addr
	if c.SubAddr != "" {
		subAddr = c.SubAddr // another node of a cluster: every message crosses nodes
	}
	for i, t := range f.top.subTopic {
		conn, err := c.dialFlowTo(subAddr, 5*time.Second)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		s := newSubscriber(i, conn, f.clock, len(f.top.pubTopic), hint)
		s.v5 = c.Protocol == Protocol5
		f.subs = append(f.subs, s)
		if err := handshake(conn, fmt.Sprintf("bench-%s-s%d", f.nonce, i), c, "SUB", f.topic(t), deadline); err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		if !c.Relay {
			if err := subscribeV(conn, f.topic(t), c.QoS, c.Protocol, deadline); err != nil {
				return fmt.Errorf("subscriber %d: %w", i, err)
			}
		}
	}
	if c.SubAddr != "" {
		// The subscriptions reach the publishers' node through the
		// cluster, normally within milliseconds; a second covers a loaded
		// machine, so no message is lost before they arrive.
		time.Sleep(time.Second)
	}
	for i, t := range f.top.pubTopic {
		conn, err := c.dialFlow(5 * time.Second)
		if err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
		rate := 0.0
		if c.Scenario == "latency" {
			rate = c.Rate
		}
		p := newPublisher(uint32(i), conn, f.topic(t), c.QoS, c.Payload, c.Window, c.Count, rate, f.clock)
		p.v5 = c.Protocol == Protocol5
		f.pubs = append(f.pubs, p)
		if err := handshake(conn, fmt.Sprintf("bench-%s-p%d", f.nonce, i), c, "PUB", f.topic(t), deadline); err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
	}
	f.start()
	return nil
}

// start bounds the backlog, when the run has one, and starts the readers of
// every connection that connect opened.
func (f *flow) start() {
	c := f.cfg
	if c.Backlog > 0 {
		fan := make([]uint64, len(f.pubs))
		for j, t := range f.top.pubTopic {
			for _, u := range f.top.subTopic {
				if u == t {
					fan[j]++
				}
			}
		}
		limit := uint64(min(c.Backlog, max(1000, backlogBytes/c.Payload)))
		gate := func() bool {
			var due uint64
			for j, p := range f.pubs {
				due += p.sent.Load() * fan[j]
			}
			return due-min(due, f.delivered()) <= limit
		}
		for _, p := range f.pubs {
			p.gate = gate
		}
	}
	for _, s := range f.subs {
		f.wg.Go(func() {
			if err := s.receive(); err != nil {
				f.fail(fmt.Errorf("subscriber %d: %w", s.index, err))
			}
		})
	}
	for _, p := range f.pubs {
		f.wg.Go(func() {
			if err := p.readAcks(); err != nil && !p.stop.Load() {
				f.fail(fmt.Errorf("publisher %d: %w", p.index, err))
			}
		})
	}
}

// close closes every connection and waits for the readers.
func (f *flow) close() {
	for _, p := range f.pubs {
		p.stop.Store(true)
		p.conn.Close()
	}
	for _, s := range f.subs {
		s.stopping.Store(true)
		s.conn.Close()
	}
	f.wg.Wait()
}

// expected returns the deliveries due to subscriber i so far: what the
// publishers of its topic sent.
func (f *flow) expected(i int) uint64 {
	var n uint64
	for j, t := range f.top.pubTopic {
		if t == f.top.subTopic[i] {
			n += f.pubs[j].sent.Load()
		}
	}
	return n
}

func (f *flow) delivered() (n uint64) {
	for _, s := range f.subs {
		n += s.unique.Load()
	}
	return n
}

func (f *flow) sent() (n uint64) {
	for _, p := range f.pubs {
		n += p.sent.Load()
	}
	return n
}

// run publishes for the configured duration or count, waits for the
// deliveries, closes the connections and fills r.
func (f *flow) run(r *Result, label string) {
	c := f.cfg
	start := f.clock.now()
	drainUntil := time.Now().Add(c.Duration + c.Drain)
	timer := time.AfterFunc(c.Duration, func() {
		for _, p := range f.pubs {
			p.stop.Store(true)
		}
	})
	defer timer.Stop()
	prog := startProgress(c.Progress, label, func() (uint64, uint64) { return f.sent(), f.delivered() })
	var pubs sync.WaitGroup
	for _, p := range f.pubs {
		pubs.Go(func() {
			if err := p.send(drainUntil); err != nil {
				f.fail(err)
			}
		})
	}
	pubs.Wait()
	pubEnd := f.clock.now()
	for _, p := range f.pubs {
		p.stop.Store(true) // from now on a closed connection is not an error
	}
	f.waitDeliveries(drainUntil)
	prog.stop()

	var hist Histogram
	first, last := int64(0), int64(0)
	for _, s := range f.subs {
		if v := s.first.Load(); v != 0 && (first == 0 || v < first) {
			first = v
		}
		last = max(last, s.last.Load())
	}
	if f.beforeClose != nil {
		f.beforeClose()
	}
	f.close()
	sentVec := make([]uint64, len(f.pubs))
	for i, s := range f.subs {
		for j, t := range f.top.pubTopic {
			sentVec[j] = 0
			if t == f.top.subTopic[i] {
				sentVec[j] = f.pubs[j].sent.Load()
			}
		}
		r.Expected += f.expected(i)
		r.Lost += s.tracker.Lost(sentVec)
		r.Duplicates += s.tracker.Duplicates
		r.Reordered += s.tracker.Reordered
		r.Delivered += s.tracker.Unique
		hist.Merge(&s.latency)
		if n := s.errs.Load(); n > 0 {
			r.addError(fmt.Errorf("subscriber %d: %d malformed payloads", i, n))
		}
	}
	for _, p := range f.pubs {
		r.Sent += p.sent.Load()
		if n := p.errs.Load(); n > 0 {
			r.addError(fmt.Errorf("publisher %d: %d acknowledgements for no message in flight", p.index, n))
		}
	}
	r.Publishers, r.Subscribers = len(f.pubs), len(f.subs)
	if last > start {
		r.Elapsed = float64(last-start) / 1e9
		r.Rate = float64(r.Delivered) / r.Elapsed
	}
	if pubEnd > start {
		r.PubRate = float64(r.Sent) / (float64(pubEnd-start) / 1e9)
	}
	r.setLatency(&hist)
	f.mu.Lock()
	for _, err := range f.errs {
		r.addError(err)
	}
	f.mu.Unlock()
}

// waitDeliveries returns when every subscriber has all its messages, when
// none has progressed for a while (the rest is lost), or at until.
func (f *flow) waitDeliveries(until time.Time) {
	stall := f.stall
	if stall == 0 {
		stall = 500 * time.Millisecond
	}
	lastN, lastChange := f.delivered(), time.Now()
	for {
		done := true
		for i, s := range f.subs {
			if s.unique.Load() < f.expected(i) {
				done = false
				break
			}
		}
		if done {
			return
		}
		now := time.Now()
		if n := f.delivered(); n != lastN {
			lastN, lastChange = n, now
		} else if now.Sub(lastChange) > stall || now.After(until) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// runFlow is fanin, fanout, pairs and latency.
func runFlow(c *Config) (Result, error) {
	r := newResult(c)
	f := &flow{cfg: c, top: topologyOf(c)}
	if err := f.connect(); err != nil {
		f.close()
		return r, err
	}
	var cpu0, cpu1 time.Duration
	var err0, err1 error
	if c.BrokerPID != 0 { // the broker's CPU per message: steadier than msg/s on a shared machine
		cpu0, err0 = ProcessCPU(c.BrokerPID)
	}
	f.run(&r, label(c))
	if c.BrokerPID != 0 {
		cpu1, err1 = ProcessCPU(c.BrokerPID)
		if err := errors.Join(err0, err1); err != nil {
			r.addError(err)
		} else if r.Delivered > 0 && cpu1 > cpu0 {
			r.CPUPerMsgUs = float64(cpu1-cpu0) / float64(time.Microsecond) / float64(r.Delivered)
			r.MsgPerCPUSecond = 1e6 / r.CPUPerMsgUs
		}
	}
	return r, nil
}

func newResult(c *Config) Result {
	return Result{Target: c.Target, Scenario: c.Scenario, QoS: c.QoS, Payload: c.Payload}
}

func label(c *Config) string {
	return fmt.Sprintf("%s %s qos%d %dB", c.Target, c.Scenario, c.QoS, c.Payload)
}
