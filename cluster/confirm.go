package cluster

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Confirmation of QoS 1/2 messages. A loop round that forwarded a QoS 1 or
// 2 message ends with Flush(true): the Router publishes the round's
// batches, then a marker carrying its number on MarkerSubject, which every
// node subscribes to on the same ordered path as the batches. NATS keeps
// one connection's order to each receiver across subjects, so when a node
// takes the marker it has taken every batch sent before it that was meant
// for it; it hands them to its engine, then answers on the origin's ack
// subject. Flush(true) returns once every node alive when the marker left
// answered, so the loop writes PUBACK/PUBREC only after every other node
// has the message. A node counts as alive while its heartbeats
// (HeartbeatSubject, every heartbeatEvery) keep coming: one that stops for
// memberTimeout is not waited for.
const (
	MarkerSubject    = "mq.mk"  // markers after QoS 1/2 batches, every node subscribes
	HeartbeatSubject = "mq.hb"  // every node's heartbeat
	ackPrefix        = "mq.ack" // + "." + EncodeToken(node name): answers to that node's markers

	heartbeatEvery = 250 * time.Millisecond
	memberTimeout  = 1500 * time.Millisecond
	// confirmTimeout bounds one wait: a node that keeps beating but does
	// not answer (its marker lost when a route broke) does not hold a
	// loop longer. The acks then go out unconfirmed, counted.
	confirmTimeout = 3 * time.Second
)

// member is another node as the Router knows it from its heartbeats.
type member struct {
	since     time.Time // first heartbeat heard
	heard     time.Time // last heartbeat heard
	confirmed uint64    // highest marker of this run it answered
}

// confirmer is the Router's side of confirmation: who is alive and what
// they confirmed. Its methods are safe for concurrent use.
type confirmer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	members map[string]*member // by node name
	marks   []markAt           // markers sent and when, oldest first, until confirmed
	closed  bool
}

// markAt is a marker number and when it left.
type markAt struct {
	seq uint64
	at  time.Time
}

// startConfirm subscribes to heartbeats and answers and starts the
// heartbeat goroutine.
func (r *Router) startConfirm() error {
	c := &r.confirm
	c.cond = sync.NewCond(&c.mu)
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
	r.hb = appendField(nil, r.node.Name())
	go r.heartbeat()
	return nil
}

// heartbeat tells the other nodes this one is alive, and wakes waiters
// so they notice nodes that stopped, until Close.
func (r *Router) heartbeat() {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		r.node.nc.Publish(HeartbeatSubject, r.hb)
		select {
		case <-t.C:
			r.confirm.cond.Broadcast()
		case <-r.done:
			return
		}
	}
}

// heard records another node's heartbeat.
func (r *Router) heard(m *nats.Msg) {
	name, _, ok := field(m.Data)
	if !ok || string(name) == r.node.Name() {
		return
	}
	c := &r.confirm
	now := time.Now()
	c.mu.Lock()
	mb := c.members[string(name)]
	if mb == nil {
		mb = &member{since: now}
		c.members[string(name)] = mb
	}
	mb.heard = now
	c.mu.Unlock()
	c.cond.Broadcast()
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
	c.mu.Lock()
	if mb := c.members[string(name)]; mb != nil && seq > mb.confirmed {
		mb.confirmed = seq
	}
	c.mu.Unlock()
	c.cond.Broadcast()
}

// markLocked publishes a marker for everything forwarded so far. The
// caller holds r.mu.
func (r *Router) markLocked() {
	r.mk = appendField(appendField(r.mk[:0], r.node.Name()), r.origin)
	r.mk = binary.AppendUvarint(r.mk, r.seq)
	if err := r.node.nc.Publish(MarkerSubject, r.mk); err != nil {
		r.log.Warn("cluster: marker", "err", err)
	}
	r.markSeq = r.seq
	c := &r.confirm
	c.mu.Lock()
	c.marks = append(c.marks, markAt{r.seq, time.Now()})
	c.mu.Unlock()
}

// waitConfirmed waits until every node alive when marker seq (or the
// first marker at or after it) left answered it, or until Close.
func (r *Router) waitConfirmed(seq uint64) {
	c := &r.confirm
	c.mu.Lock()
	defer c.mu.Unlock()
	var sent time.Time
	for _, m := range c.marks {
		if m.seq >= seq {
			sent = m.at
			break
		}
	}
	start := time.Now()
	for !c.closed && !c.confirmedLocked(seq, sent, time.Now()) {
		if time.Since(start) > confirmTimeout {
			r.Unconfirmed.Add(1)
			r.log.Warn("cluster: QoS 1/2 messages not confirmed by every node in time", "number", seq, "waited", confirmTimeout)
			break
		}
		c.cond.Wait() // woken by answers, heartbeats and the heartbeat ticker
	}
	// Forget the markers every node has answered, and those nobody waits
	// for any more.
	k, now := 0, time.Now()
	for k < len(c.marks) && (now.Sub(c.marks[k].at) > confirmTimeout || c.confirmedLocked(c.marks[k].seq, c.marks[k].at, now)) {
		k++
	}
	c.marks = c.marks[k:]
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

// answer tells a marker's origin that this node has taken everything the
// origin sent before it.
func (r *Router) answer(data []byte) {
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

// closeConfirm wakes every waiter for good.
func (r *Router) closeConfirm() {
	c := &r.confirm
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cond.Broadcast()
	for _, s := range []*nats.Subscription{r.hbSub, r.ackSub, r.mkSub} {
		if s != nil {
			s.Unsubscribe()
		}
	}
}
