package cluster

// Each event loop's live QoS 0 forwards.
//
// Forward takes the Router's mutex for every message, and on the sending
// node of a cross-node QoS 0 load that lock and its release were a tenth
// of the node's CPU time. A loop's live QoS 0 messages therefore gather in
// batches of the loop's own (ForwardLoop), touched by no other goroutine,
// and the mutex is taken once per loop round (FlushLoop), or when a batch
// is full, to publish them. Their numbers come from a block the loop
// reserves with one atomic add every numberBlock messages, so numbers stay
// unique per origin and grow within each batch, which is all a receiver
// needs of a QoS 0 message's number (it tells a batch from its copies).
// QoS 1/2 and retained messages still go through Forward, numbered under
// the mutex, because markers and the orphan cuts count on their numbers
// growing in the order they leave.
//
// Order: a loop publishes what it gathered only after what waits in the
// Router's own batches (flushLoopLocked flushes those first), and before a
// QoS 1/2 or retained message of the loop joins them (ForwardLoop), so a
// loop's messages leave in the order it routed them, whatever their QoS;
// one publisher's messages are routed on its connection's one loop.

// numberBlock is how many message numbers a loop reserves at a time.
const numberBlock = 256

// loopForwards is one event loop's live QoS 0 forwards waiting for its
// FlushLoop. Only that loop touches it.
type loopForwards struct {
	pending    map[string]*pendingBatch // by topic
	order      []*pendingBatch          // the same, in the order their topics came
	free       []*pendingBatch
	last       *pendingBatch // the batch of the loop's last forward: a run of one topic skips the map
	bytes      int           // in pending
	next, end  uint64        // reserved numbers: next up to end, exclusive
	maxPayload int           // the NATS maximum payload, as of the loop's last publish
	_          [64]byte      // loops' entries on cache lines of their own
}

// UseLoops prepares r for n event loops, numbered 0 to n-1, to call
// ForwardLoop and FlushLoop. Call it once, before any of them.
func (r *Router) UseLoops(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loops = make([]loopForwards, n)
	for i := range r.loops {
		r.loops[i].pending = map[string]*pendingBatch{}
		r.loops[i].maxPayload = r.maxPayload
	}
}

// ForwardLoop is Forward for a message published on event loop loop. A
// live QoS 0 message waits with the loop's own forwards, gathered without
// a lock, until the loop's FlushLoop (or until they pass flushBytes); any
// other goes through Forward, after what the loop gathered. Call it only
// from that loop's goroutine.
func (r *Router) ForwardLoop(loop int, topic, payload []byte, qos byte, retain bool, props []byte, expires int64, from string) uint64 {
	lf := &r.loops[loop]
	if qos > 0 || retain {
		if len(lf.order) > 0 {
			r.mu.Lock()
			r.flushLoopLocked(lf)
			r.mu.Unlock()
		}
		return r.Forward(topic, payload, qos, retain, props, expires, from)
	}
	if lf.next == lf.end {
		lf.end = r.seq.Add(numberBlock) + 1
		lf.next = lf.end - numberBlock
	}
	seq := lf.next
	p := lf.last
	if p == nil || p.topic != string(topic) {
		p = lf.pending[string(topic)]
	}
	for {
		if p == nil {
			p = r.newLoopPending(lf, topic)
		}
		n := len(p.buf)
		var ok bool
		p.buf, ok = appendRecord(p.buf, record{seq, 0, false, expires, props, payload}, from, p.last, p.n > 0 && from == p.from, lf.maxPayload)
		if ok {
			p.last, p.from = seq, from
			p.n++
			lf.bytes += len(p.buf) - n
			break
		}
		if p.n == 0 { // too large even alone
			delete(lf.pending, p.topic)
			lf.order = lf.order[:len(lf.order)-1]
			lf.free, lf.last = append(lf.free, p), nil
			r.Dropped.Add(1)
			return 0
		}
		r.mu.Lock()
		r.flushLoopLocked(lf) // a full batch goes, with everything before it
		r.mu.Unlock()
		p = nil
	}
	lf.next++
	lf.last = p
	if lf.bytes >= flushBytes {
		r.mu.Lock()
		r.flushLoopLocked(lf)
		r.mu.Unlock()
	}
	return 0
}

// newLoopPending starts lf's batch of topic.
func (r *Router) newLoopPending(lf *loopForwards, topic []byte) *pendingBatch {
	r.mu.Lock()
	cs := r.subjectLocked(topic)
	r.mu.Unlock()
	p := takeFree(&lf.free)
	p.start(cs, false, r.origin)
	lf.pending[p.topic] = p
	lf.order = append(lf.order, p)
	return p
}

// FlushLoop is Flush for event loop loop: it also publishes what the loop
// gathered with ForwardLoop. Call it only from that loop's goroutine.
func (r *Router) FlushLoop(loop int, mark bool) {
	lf := &r.loops[loop]
	if len(lf.order) == 0 {
		r.Flush(mark)
		return
	}
	r.mu.Lock()
	r.flushLoopLocked(lf)
	if mark && r.lastQoS12 > r.markSeq {
		r.markLocked()
	}
	r.mu.Unlock()
}

// flushLoopLocked publishes what waits in the Router's own batches, then
// lf's, each in the order their topics came. The caller holds mu.
func (r *Router) flushLoopLocked(lf *loopForwards) {
	r.flushLocked()
	lf.free = r.publishLocked(lf.order, lf.free)
	lf.order = lf.order[:0]
	clear(lf.pending)
	lf.last, lf.bytes, lf.maxPayload = nil, 0, r.maxPayload
}
