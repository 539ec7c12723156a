package cluster

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Confirmation of QoS 1/2 messages. A loop round that forwarded a QoS 1 or
// 2 message ends with Flush(true): the Router publishes the round's
// batches, then a marker carrying the number of its last message on
// MarkerSubject, which every
// node subscribes to on the same ordered path as the batches. NATS keeps
// one connection's order to each receiver across subjects, so when a node
// takes the marker it has taken every batch sent before it that was meant
// for it; it hands them to its engine, then answers on the origin's ack
// subject. Flush never waits: the loop holds the round's PUBACK/PUBREC on
// their connections and asks WhenConfirmed to release them once every
// node alive when the marker left answered, so they go out only after
// every other node has the message, and the loop serves everything else
// meanwhile. A node counts as alive while its heartbeats
// (HeartbeatSubject, every heartbeatEvery) keep coming: one that stops for
// memberTimeout is not waited for.
const (
	MarkerSubject    = "mq.mk"  // markers after QoS 1/2 batches, every node subscribes
	HeartbeatSubject = "mq.hb"  // every node's heartbeat
	ackPrefix        = "mq.ack" // + "." + EncodeToken(node name): answers to that node's markers

	heartbeatEvery = 250 * time.Millisecond
	memberTimeout  = 1500 * time.Millisecond
)

// confirmTimeout bounds one wait: a node that keeps beating but does not
// answer (its marker lost when a route broke) does not hold acks longer.
// They then go out unconfirmed, counted. A variable only so that tests can
// lengthen it before they start routers.
var confirmTimeout = 3 * time.Second

// member is another node as the Router knows it from its heartbeats.
type member struct {
	since     time.Time // first heartbeat heard
	heard     time.Time // last heartbeat heard
	confirmed uint64    // highest marker of this run it answered
	backlog   bool      // its last heartbeat said its receive queue is backlogged
}

// confirmer is the Router's side of confirmation: who is alive and what
// they confirmed. Its methods are safe for concurrent use.
type confirmer struct {
	mu      sync.Mutex
	members map[string]*member // by node name
	marks   []markAt           // markers sent and when, oldest first, until confirmed
	waiters []waiter           // WhenConfirmed calls not yet released
	done    atomic.Uint64      // every number up to this is confirmed (or given up on); written under mu
	self    uint64             // this node's last shared marker it took back (shared.go)
	closed  bool
}

// markAt is a marker number and when it left.
type markAt struct {
	seq    uint64
	at     time.Time
	shared bool // shared batches left before it: this node must take its shared copy too (shared.go)
}

// startConfirm subscribes to heartbeats and answers and starts the
// heartbeat goroutine.
func (r *Router) startConfirm() error {
	c := &r.confirm
	c.members = map[string]*member{}
	nc := r.node.nc
	var err error
	if r.hbSub, err = nc.Subscribe(HeartbeatSubject, r.heard); err != nil {
		return err
	}
	if r.ackSub, err = nc.Subscribe(ackPrefix+"."+EncodeToken(r.node.Name()), r.acked); err != nil {
		return err
	}
	if r.mkSub, err = nc.ChanSubscribe(MarkerSubject, r.in); err != nil {
		return err
	}
	if r.stopSub, err = nc.Subscribe(stopSubject, r.stopNotice); err != nil { // leave.go
		return err
	}
	r.hb = appendField(nil, r.node.Name())
	go r.heartbeat()
	return nil
}

// heartbeat tells the other nodes this one is alive, and moves the
// confirmation on past nodes that stopped and waits that ran out, until
// Close.
func (r *Router) heartbeat() {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	name := len(r.hb)
	for {
		// The name, then 1 while the receive queue is backlogged
		// (backlog.go); a heartbeat without it reads as 0.
		r.hb = append(r.hb[:name], 0)
		if r.backlogged() {
			r.hb[name] = 1
		}
		if !r.silent(time.Now()) { // fenced or not storing: the others count this node as stopped (quiet.go)
			r.node.nc.Publish(HeartbeatSubject, r.hb)
		}
		select {
		case <-t.C:
			r.advance()
		case <-r.done:
			return
		}
	}
}

// heard records another node's heartbeat.
func (r *Router) heard(m *nats.Msg) {
	name, rest, ok := field(m.Data)
	if !ok || string(name) == r.node.Name() {
		return
	}
	backlog := len(rest) > 0 && rest[0] == 1
	c := &r.confirm
	now := time.Now()
	c.mu.Lock()
	mb := c.members[string(name)]
	if mb == nil {
		mb = &member{since: now}
		c.members[string(name)] = mb
	} else if now.Sub(mb.heard) > memberTimeout {
		// Back after a silence (restarted, or it had stopped, leave.go):
		// the markers that left meanwhile were not waited for, and are
		// not now; it answers those that left since.
		mb.since = now
	}
	mb.heard, mb.backlog = now, backlog
	c.mu.Unlock()
}

// acked records another node's answer to one of this node's markers.
func (r *Router) acked(m *nats.Msg) {
	name, b, ok := field(m.Data)
	var origin []byte
	if ok {
		origin, b, ok = field(b)
	}
	var seq uint64
	if ok {
		seq, _, ok = uvarint(b)
	}
	if !ok || string(origin) != r.origin {
		return // garbled, or an answer to a previous run of this node
	}
	c := &r.confirm
	now := time.Now()
	c.mu.Lock()
	if mb := c.members[string(name)]; mb != nil && seq > mb.confirmed {
		mb.confirmed = seq
	}
	fns := r.advanceLocked(now)
	c.mu.Unlock()
	run(fns)
}

// markLocked publishes a marker for everything forwarded so far. The
// caller holds r.mu.
func (r *Router) markLocked() {
	seq := r.seq.Load() // every QoS 1/2 message up to it left before this marker: they are numbered under mu
	r.mk = appendField(appendField(r.mk[:0], r.node.Name()), r.origin)
	r.mk = binary.AppendUvarint(r.mk, seq)
	var shared bool
	r.mk, shared = r.appendMarkFlag(r.mk)
	if err := r.node.nc.Publish(MarkerSubject, r.mk); err != nil {
		r.log.Warn("cluster: marker", "err", err)
	}
	if shared {
		r.sharedMarkLocked()
	}
	r.markSeq = seq
	c := &r.confirm
	c.mu.Lock()
	c.marks = append(c.marks, markAt{seq, time.Now(), shared})
	c.mu.Unlock()
}

// Confirmed reports whether every QoS 1/2 message numbered up to seq (a
// number Forward returned) is confirmed: every node alive when its marker
// left, and still alive, answered it, or the wait for it ended at
// confirmTimeout. Safe for concurrent use.
func (r *Router) Confirmed(seq uint64) bool {
	c := &r.confirm
	if seq <= c.done.Load() {
		return true
	}
	c.mu.Lock()
	fns := r.advanceLocked(time.Now())
	c.mu.Unlock()
	run(fns)
	return seq <= c.done.Load()
}

// WhenConfirmed calls fn once every QoS 1/2 message numbered up to seq is
// confirmed (see Confirmed), or once the Router is closed: at once, on the
// caller's goroutine, when it already is; otherwise later, on a goroutine
// of the Router, which fn must not block. The marker covering seq must
// have left (Flush with mark) before the call. Safe for concurrent use.
func (r *Router) WhenConfirmed(seq uint64, fn func()) {
	c := &r.confirm
	c.mu.Lock()
	fns := r.advanceLocked(time.Now())
	if seq > c.done.Load() && !c.closed {
		c.waiters = append(c.waiters, waiter{seq, fn})
		fn = nil
	}
	c.mu.Unlock()
	run(fns)
	if fn != nil {
		fn()
	}
}

// WaitConfirmed blocks until WhenConfirmed(seq) would call its function.
// Safe for concurrent use; for callers that may block, never event loops.
func (r *Router) WaitConfirmed(seq uint64) {
	ch := make(chan struct{})
	r.WhenConfirmed(seq, func() { close(ch) })
	<-ch
}

// waiter is a function waiting for the confirmation of seq.
type waiter struct {
	seq uint64
	fn  func()
}

// advance moves the confirmation watermark and calls the waiters it
// releases.
func (r *Router) advance() {
	c := &r.confirm
	c.mu.Lock()
	fns := r.advanceLocked(time.Now())
	c.mu.Unlock()
	run(fns)
}

// advanceLocked moves c.done past every marker, oldest first, that is
// confirmed or whose wait ran out, forgets those markers, and returns the
// functions of the waiters that are now released, for the caller to call
// once it has let go of c.mu. A later marker is never confirmed before an
// earlier one: a node that must answer the later one was alive when the
// earlier one left, and answers come in order. The caller holds c.mu.
func (r *Router) advanceLocked(now time.Time) []func() {
	c := &r.confirm
	done := c.done.Load()
	o := r.orph.Load()
	hold := ^uint64(0) // markers from this number on wait for records of dead nodes (orphan.go)
	if o != nil && !c.closed {
		o.noticeLocked(c, now)
		hold = o.holdLocked()
	}
	k := 0
	for ; k < len(c.marks); k++ {
		m := c.marks[k]
		if m.seq >= hold {
			break // its messages are on their way to a dead node's records
		}
		if !c.closed && (!c.confirmedLocked(m.seq, m.at, now) || m.shared && c.self < m.seq) {
			if now.Sub(m.at) <= confirmTimeout || c.backlogLocked(m.seq, m.at, now) {
				break // a node working through its backlog is waited for (backlog.go)
			}
			r.Unconfirmed.Add(1)
			r.log.Warn("cluster: QoS 1/2 messages not confirmed by every node in time", "number", m.seq, "waited", confirmTimeout)
		}
		done = max(done, m.seq)
	}
	if k > 0 {
		c.marks = append(c.marks[:0], c.marks[k:]...)
	}
	c.done.Store(done)
	if o != nil {
		o.pruneLocked(done)
	}
	var fns []func()
	j := 0
	for _, w := range c.waiters {
		if w.seq <= done || c.closed {
			fns = append(fns, w.fn)
		} else {
			c.waiters[j] = w
			j++
		}
	}
	clear(c.waiters[j:])
	c.waiters = c.waiters[:j]
	return fns
}

func run(fns []func()) {
	for _, fn := range fns {
		fn()
	}
}

// confirmedLocked reports whether every node that was alive when a marker
// sent at sent left, and is still alive now, answered seq.
func (c *confirmer) confirmedLocked(seq uint64, sent, now time.Time) bool {
	for _, mb := range c.members {
		if mb.since.After(sent) || now.Sub(mb.heard) > memberTimeout {
			continue // joined after the marker left, or gone
		}
		if mb.confirmed < seq {
			return false
		}
	}
	return true
}

// backlogLocked reports whether a node that must still answer seq (see
// confirmedLocked) says its receive queue is backlogged (backlog.go).
func (c *confirmer) backlogLocked(seq uint64, sent, now time.Time) bool {
	for _, mb := range c.members {
		if !mb.since.After(sent) && now.Sub(mb.heard) <= memberTimeout && mb.confirmed < seq && mb.backlog {
			return true
		}
	}
	return false
}

// answer tells a marker's origin that this node has taken everything the
// origin sent before it, unless this node cannot vouch for that now
// (quiet.go).
func (r *Router) answer(data []byte) {
	if !r.mayAnswer() {
		return
	}
	name, b, ok := field(data)
	var origin []byte
	if ok {
		origin, b, ok = field(b)
	}
	var seq uint64
	if ok {
		seq, _, ok = uvarint(b)
	}
	if !ok {
		r.Dropped.Add(1)
		return
	}
	r.ack = appendField(appendField(r.ack[:0], r.node.Name()), origin)
	r.ack = binary.AppendUvarint(r.ack, seq)
	if err := r.node.nc.Publish(ackPrefix+"."+EncodeToken(string(name)), r.ack); err != nil {
		r.log.Warn("cluster: marker answer", "err", err)
	}
}

// closeConfirm releases every waiter for good.
func (r *Router) closeConfirm() {
	c := &r.confirm
	c.mu.Lock()
	c.closed = true
	fns := r.advanceLocked(time.Now())
	c.mu.Unlock()
	run(fns)
	for _, s := range []*nats.Subscription{r.hbSub, r.ackSub, r.mkSub, r.stopSub} {
		if s != nil {
			s.Unsubscribe()
		}
	}
}
