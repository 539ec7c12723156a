package broker

import (
	"slices"
	"sync"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// loopState is the per-event-loop state of the engine: decode scratch,
// routing scratch, the connections touched in this round and the batches
// waiting for other loops. It belongs to its loop (or, for the foreign
// loopState, to whoever holds Engine.foreign).
type loopState struct {
	e    *Engine
	idx  int
	loop Loop // nil for the foreign loopState
	st   *stats.Loop

	// Counts of this round, published to st once per flush.
	recv, sent      stats.Local
	msgsIn, msgsOut uint64

	// Decode scratch: views into the current frame, valid while handling it.
	connect codec.Connect
	publish codec.Publish
	ack     codec.Ack
	sub     codec.Subscribe
	unsub   codec.Unsubscribe

	targets []target
	remote  remoteMatch // the foreign loopState's: DeliverRemote's last match (cluster.go)
	codes   []byte
	pace    loopPace           // connections sending retained messages (retainedpace.go)
	sending []session.Inflight // scratch for Conn.pump
	enc     []byte             // one encoded QoS 0 PUBLISH, shared by local subscribers
	enc5    []byte             // the same in 5.0 form, for 5.0 subscribers
	props5  []byte             // forwardable 5.0 properties of the client PUBLISH being routed (v5.go)
	expires int64              // its expiry, epoch ms; 0 for never
	from    *clientSession     // its publisher's session (No Local, shared subscriptions' hash_clientid); nil for the broker's own
	ids     []uint32           // scratch: subscription identifiers of one 5.0 delivery

	// MQTT 5.0 enhanced authentication (enhauth.go).
	auth      codec.Auth          // decode scratch
	exchanges map[*Conn]*exchange // exchanges in progress; nil until the first
	// 5.0 introspection (v5info.go): the DISCONNECT of the connection closing now.
	closeCode session.DisconnectCode

	touched   []*Conn  // connections with output or a pump pending this round
	flushing  bool     // flush is running: a nested call (a transport closing inside Write) leaves the work to it
	out       []*batch // by target loop index: deliveries waiting for the end of the round
	outIdx    []int    // indexes of out that are non-nil
	pubSeq    uint64   // numbers the messages routed by this loop
	msgID     uint64   // trace ID of the client message being routed, 0 for none (tracehooks.go)
	traceTime int64    // epoch µs of this round's trace events, 0 until the first (tracehooks.go)
	ticket    uint64   // store ticket of the last op this loop applied

	heldConns []*Conn // connections whose held acks wait for a store sync

	clusterSeq  uint64 // cluster number of the client QoS 1/2 message just forwarded, for its ack; 0: none (cluster.go)
	clusterMark bool   // this round held an ack for the cluster: Flush sends a marker (clusterack.go)

	in handoff // batches other loops hand to this one (unused on the foreign loopState)

	bufs    [][]byte // empty large output buffers for connections to take (see Conn.reserve)
	pooled  int      // their total capacity
	poolLow int      // fewest buffers in the pool since the last trimPool
}

// Output buffers: when a connection's out must grow, it takes a pooled
// buffer if a big enough one is free; otherwise it doubles. After each flush
// a buffer above keepOut bytes goes back to the pool (if it is at most
// maxPooledCap and the pool holds under maxPoolBytes) rather than to the
// garbage collector, so a busy subscriber does not allocate and copy its way
// up to a round's output again in every round.
const (
	keepOut      = 16 << 10
	maxPooledCap = 1 << 20
	maxPoolBytes = 4 << 20
)

// regrow returns a buffer holding b with room for need bytes: the newest
// pooled buffer when it is big enough, else a new one of twice b's capacity
// (at least need). It releases b. Loop-only.
func (ls *loopState) regrow(b []byte, need int) []byte {
	var nb []byte
	if k := len(ls.bufs); k > 0 && cap(ls.bufs[k-1]) >= need {
		nb = ls.bufs[k-1]
		ls.bufs[k-1] = nil
		ls.bufs = ls.bufs[:k-1]
		ls.pooled -= cap(nb)
		ls.poolLow = min(ls.poolLow, k-1)
	} else {
		nb = make([]byte, 0, max(2*cap(b), need))
	}
	nb = append(nb, b...)
	ls.release(b)
	return nb
}

// release puts b in the pool if it is worth keeping and the pool has room.
// The caller must not use b afterwards. Loop-only.
func (ls *loopState) release(b []byte) {
	if c := cap(b); c > keepOut && c <= maxPooledCap && ls.pooled+c <= maxPoolBytes {
		ls.bufs = append(ls.bufs, b[:0])
		ls.pooled += c
	}
}

// trimPool drops the pooled buffers that no connection took since the last
// call: the engine's ticker runs it on every loop once a second, so a loop
// that went quiet gives its buffers back to the garbage collector.
// Loop-only.
func (ls *loopState) trimPool() {
	n := ls.poolLow // the bottom n buffers stayed in the pool all along
	for _, b := range ls.bufs[:n] {
		ls.pooled -= cap(b)
	}
	k := copy(ls.bufs, ls.bufs[n:])
	clear(ls.bufs[k:])
	ls.bufs = ls.bufs[:k]
	ls.poolLow = k
}

func newLoopState(e *Engine, idx int, l Loop) *loopState {
	return &loopState{e: e, idx: idx, loop: l, st: e.stats.Loop(idx)}
}

// batch carries one round's deliveries from one loop to another, through
// the target's hand-off queue. QoS 0 packets are encoded once per message
// per batch into buf.
type batch struct {
	target   *loopState
	buf      []byte
	items    []batchItem
	lastSq   uint64 // pubSeq of the message last encoded into buf
	lastAt   int    // where that encoding starts in buf
	lastN    int    // and its size
	lastSq5  uint64 // the same for the 5.0 encoding, when a 5.0 subscriber needs one
	lastAt5  int
	lastN5   int
	queuedAt int64 // monoNow when pushed, for the wait-time histogram
}

// batchItem is one delivery: n > 0 writes buf[off:off+n] (a QoS 0 PUBLISH,
// or 1 + more of them back to back) to conn; n == 0 asks conn to pump its
// session queue.
type batchItem struct {
	conn   *Conn
	off, n int
	more   int
}

// add0 adds the delivery to c of the QoS 0 PUBLISH at buf[off:off+n], the
// last one encoded. When the batch's last item delivers to c the encoding
// just before it, that item grows instead: a run of messages to one
// connection (a busy topic from another node, or another loop's publisher
// with one subscriber here) is then one append to c's output, not one per
// message.
func (b *batch) add0(c *Conn, off, n int) {
	if k := len(b.items) - 1; k >= 0 {
		if it := &b.items[k]; it.conn == c && it.n > 0 && it.off+it.n == off {
			it.n += n
			it.more++
			return
		}
	}
	b.items = append(b.items, batchItem{conn: c, off: off, n: n})
}

var batchPool = sync.Pool{New: func() any { return new(batch) }}

// dropQoS0 removes b's QoS 0 deliveries, keeping its pump requests in
// order, and returns how many messages it removed.
func (b *batch) dropQoS0() int {
	k, n := 0, 0
	for _, it := range b.items {
		if it.n == 0 {
			b.items[k] = it
			k++
		} else {
			n += 1 + it.more
		}
	}
	clear(b.items[k:])
	b.items = b.items[:k]
	b.buf = b.buf[:0]
	return n
}

// recycle empties b and returns it to the pool.
func (b *batch) recycle() {
	clear(b.items)
	b.items = b.items[:0]
	b.target = nil
	if cap(b.buf) > 1<<20 {
		b.buf = nil // do not pin a burst's memory in the pool
	}
	b.buf = b.buf[:0]
	batchPool.Put(b)
}

func (ls *loopState) batchFor(target *loopState) *batch {
	for len(ls.out) <= target.idx {
		ls.out = append(ls.out, nil)
	}
	b := ls.out[target.idx]
	if b == nil {
		b = batchPool.Get().(*batch)
		b.target, b.lastSq, b.lastSq5 = target, 0, 0
		ls.out[target.idx] = b
		ls.outIdx = append(ls.outIdx, target.idx)
	}
	return b
}

// touch marks c for a flush at the end of this round. Loop-only.
func (ls *loopState) touch(c *Conn) {
	if !c.touched {
		c.touched = true
		ls.touched = append(ls.touched, c)
	}
}

// flush ends a round: pumps and writes every touched connection once, then
// pushes each other loop's batch onto that loop's hand-off queue (which
// wakes the loop at most once however many batches wait). Loop-only.
func (ls *loopState) flush() {
	if ls.flushing {
		return
	}
	ls.flushing = true
	if ls.e.cluster != nil {
		ls.flushCluster() // this round's forwards leave, with a marker when acks wait for them (cluster.go)
	}
	for i, c := range ls.heldConns { // before the writes: an ack the cluster already confirmed goes now
		c.waitHeld()
		ls.heldConns[i] = nil
	}
	ls.heldConns = ls.heldConns[:0]
	for i := 0; i < len(ls.touched); i++ { // pump may touch more
		c := ls.touched[i]
		c.touched = false
		if c.needPump {
			c.needPump = false
			c.pump()
		}
		c.flushOut()
		ls.touched[i] = nil
	}
	ls.touched = ls.touched[:0]
	if ls.e.cluster != nil {
		// A connection that closed in a write above may have published its
		// will: it must not wait for this loop's next round, which may
		// never come (a loop's QoS 0 forwards leave only with its flush).
		ls.flushCluster()
	}
	ls.publishCounts()
	for _, idx := range ls.outIdx {
		b := ls.out[idx]
		ls.out[idx] = nil
		if n := b.target.in.push(b); n > 0 {
			ls.st.DroppedHandoff.Add(uint64(n))
		}
	}
	ls.outIdx = ls.outIdx[:0]
	if ls.traceTime != 0 { // this round recorded trace events: readers may see them now
		ls.ring().Sync()
	}
	ls.flushing, ls.traceTime = false, 0 // the next round's traces read the clock afresh
}

// publishCounts moves the round's counts into the loop's atomic shard.
func (ls *loopState) publishCounts() {
	ls.recv.FlushTo(&ls.st.Received)
	ls.sent.FlushTo(&ls.st.Sent)
	if ls.msgsIn != 0 {
		ls.st.MessagesReceived.Add(ls.msgsIn)
		ls.msgsIn = 0
	}
	if ls.msgsOut != 0 {
		ls.st.MessagesSent.Add(ls.msgsOut)
		ls.msgsOut = 0
	}
}

// runBatch performs deliveries handed over by another loop and recycles b;
// the caller flushes. Loop-only.
func (ls *loopState) runBatch(b *batch) {
	for i := range b.items {
		it := &b.items[i]
		c := it.conn
		if it.n == 0 {
			c.pumpPending.Store(false)
			if c.state == stateConnected {
				c.needPump = true
				ls.touch(c)
			}
		} else if c.state == stateConnected {
			c.writeQoS0Run(b.buf[it.off:it.off+it.n], 1+it.more)
		}
	}
	b.recycle()
}

// route delivers one application message to every matching subscription:
// once per session at the highest matching QoS, downgraded to the publish
// QoS. msg, when not nil, is the stored copy of topic and payload; route
// makes one when a QoS 1/2 delivery needs it. matched reports whether a
// subscription took the message (connected or not), not withheld by No
// Local or the ACL. Loop-only.
func (ls *loopState) route(topic, payload []byte, qos byte, msg *session.Message) (matched bool) {
	ls.pubSeq++
	ts := ls.match(topic)
	matched = ls.routeTo(ts, topic, payload, qos, msg) || ls.e.router.readers[ls.idx].viaCluster // a local group's member may get it through the cluster
	clear(ts)
	ls.targets = ts[:0]
	return matched
}

// match returns the targets of a message on topic (published by ls.from,
// when set), each session once at its highest QoS, in ls.targets.
// Loop-only.
func (ls *loopState) match(topic []byte) []target {
	pub := ""
	if ls.from != nil {
		pub = ls.from.ClientID
	}
	ts := ls.e.router.matchFrom(ls.idx, topic, pub, ls.targets[:0])
	if len(ts) > 1 && mayOverlap(ts) {
		slices.SortFunc(ts, func(a, b target) int {
			switch {
			case a.s.Seq < b.s.Seq:
				return -1
			case a.s.Seq > b.s.Seq:
				return 1
			}
			return int(b.qos) - int(a.qos) // highest QoS first
		})
		ts = mergeTargets(ts)
	}
	return ts
}

// routeTo delivers a message to the targets ts that route matched (or
// that a shared subscription's group picked, clustershared.go), each
// session at most once, and reports whether any took it. It leaves ts as
// it was. Loop-only (ls's loop).
func (ls *loopState) routeTo(ts []target, topic, payload []byte, qos byte, msg *session.Message) (matched bool) {
	encoded, encoded5 := false, false
	props, expires := ls.props5, ls.expires
	if msg != nil {
		props, expires = msg.Props, msg.Expires
	}
	for _, t := range ts {
		via := session.Via(0) // which subscriptions caused the delivery, for 5.0 identifiers (v5.go)
		if t.shared == 0 {
			via = session.ViaNotShared
		}
		if t.s == ls.from && ls.from != nil {
			q, ok := ownQoS(t.s, t.shared, topic) // No Local per subscription [MQTT5-3.8.3-3]
			if !ok {
				continue
			}
			t.qos, via = q, via|session.ViaOwn
		}
		if t.only != nil && !t.only.CanReceive(topic) {
			continue // the ACL withholds this topic from a filtered subscription
		}
		matched = true
		q := min(qos, t.qos)
		if q == 0 {
			c := t.s.Owner()
			if c == nil {
				continue // QoS 0 is not queued for offline sessions
			}
			if ls.msgID != 0 {
				ls.tracePush0(t.s.ClientID)
			}
			if c.v5&v5On != 0 {
				if !c.plain5(t.s, expires) || msg != nil && msg.Retain {
					rap := msg != nil && msg.Retain && retainAsPublished(t.s, topic)
					ls.route5(c, t.s, topic, payload, props, expires, rap, via, &encoded5) // per subscriber (v5.go)
					continue
				}
				if !encoded5 { // the 5.0 encoding route5 shares too
					ls.enc5 = codec.AppendPublishForwardParts(ls.enc5[:0], false, 0, false, topic, 0, nil, props, payload)
					encoded5 = true
				}
				if c.ls == ls {
					c.writeQoS0(ls.enc5) // touches c
				} else {
					ls.handOff5(c)
				}
				continue
			}
			if c.ls == ls {
				if !encoded {
					ls.enc = codec.AppendPublishParts(ls.enc[:0], false, 0, false, topic, 0, payload)
					encoded = true
				}
				c.writeQoS0(ls.enc) // touches c
				continue
			}
			b := ls.batchFor(c.ls)
			if b.lastSq != ls.pubSeq {
				b.lastSq, b.lastAt = ls.pubSeq, len(b.buf)
				b.buf = codec.AppendPublishParts(b.buf, false, 0, false, topic, 0, payload)
				b.lastN = len(b.buf) - b.lastAt
			}
			b.add0(c, b.lastAt, b.lastN)
			continue
		}
		if msg == nil {
			msg = session.NewMessageProps(topic, payload, props, qos, false, expires)
			msg.TraceID = ls.msgID
		}
		ls.enqueue(t.s, session.Queued{Msg: msg, QoS: q, Retain: msg.Retain && retainAsPublished(t.s, topic), Via: via})
	}
	return matched
}

// mergeTargets merges the targets of each session, adjacent in ts and
// highest QoS first, into one: the first, which takes the highest shared
// of them. It returns the merged ts.
func mergeTargets(ts []target) []target {
	j := 0
	for i := 1; i < len(ts); i++ {
		if ts[i].s == ts[j].s {
			ts[j].shared = max(ts[j].shared, ts[i].shared)
			continue
		}
		j++
		ts[j] = ts[i]
	}
	clear(ts[j+1:])
	return ts[:j+1]
}

// mayOverlap reports whether a session can appear twice in ts: only one
// with more than one subscription can.
func mayOverlap(ts []target) bool {
	for i := range ts {
		if len(ts[i].s.Subscriptions()) > 1 {
			return true
		}
	}
	return false
}

// enqueue puts a QoS 1/2 delivery on s's queue and makes sure the attached
// connection, if any, pumps it. Loop-only.
func (ls *loopState) enqueue(s *clientSession, q session.Queued) {
	c, dropped, ticket := s.Deliver(q)
	ls.noteTicket(ticket)
	if dropped {
		ls.st.DroppedQueue.Add(1)
	}
	if c == nil {
		return
	}
	if c.ls == ls {
		c.needPump = true
		ls.touch(c)
		return
	}
	if c.pumpPending.CompareAndSwap(false, true) {
		b := ls.batchFor(c.ls)
		b.items = append(b.items, batchItem{conn: c})
	}
}

// noteTicket records a store ticket of this round's writes (0: none), for
// acknowledgements that must wait until they are durable. Loop-only.
func (ls *loopState) noteTicket(t uint64) {
	ls.ticket = max(ls.ticket, t)
}
