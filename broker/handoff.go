package broker

import (
	"sync"
	"time"

	"github.com/glassmq/glassmq/stats"
)

// handoffMaxBytes is the least bound of a loop's hand-off queue: QoS 0
// PUBLISH bytes waiting for the loop, summed over every producer. The engine
// uses twice -max-outbound when that is more, so the queue can always hold
// what one subscriber's output buffer may.
const handoffMaxBytes = 8 << 20

// handoff is the queue of batches that other loops and foreign goroutines
// hand to one event loop: many producers, one consumer (the loop).
//
// Order: batches run in the order their pushes took mu, so two batches from
// one producer run in the order it pushed them, whichever other producers
// push in between. This is the property per-topic ordering needs, and it
// holds by construction, at any depth.
//
// Wake-ups: a push schedules the loop's drain with Loop.Execute only when no
// drain is already scheduled (woken is clear); the drain clears woken when
// it takes the queue, so a push that lands while the loop is busy running
// what it took schedules exactly one more drain. A loop therefore has at
// most one of our functions pending in its Loop at any time, and the
// function is the same value every time (allocated once, in init).
//
// Bound: QoS 0 deliveries are admitted while the queue holds fewer than
// limit bytes of them (a batch is always admitted into an empty queue, so
// the queue holds at most max(limit, one batch)); past that, the QoS 0
// items of a pushed batch are dropped and counted on the producer's shard
// (reason handoff_full). Pump items (QoS 1/2: "this connection has queued
// messages") are always admitted: the messages themselves wait in session
// queues, which have their own bound, and Conn.pumpPending lets at most one
// pump item per connection exist anywhere, so they are bounded by the
// number of connections. Dropping rather than waiting is what keeps loops
// free of deadlock: every loop produces for every other, so a producer that
// blocked on a full queue could wait on a loop that waits on it.
//
// Control work (closes from the ticker, takeover continuations, held-ack
// releases, pool trims) does not go through this queue; it still uses
// Loop.Execute directly. Those are a few calls per connection event, not per
// message, and each checks the connection's state when it runs. A push
// followed by an Execute from the same goroutine still runs in that order:
// the push either found a drain already scheduled ahead of the Execute or
// scheduled one itself.
type handoff struct {
	mu    sync.Mutex
	queue []*batch // in push order
	bytes int      // QoS 0 PUBLISH bytes in queue
	woken bool     // a drain is scheduled and has not taken the queue yet

	limit int
	loop  Loop
	drain func() // what Execute runs: the consumer, allocated once
	st    *stats.Handoff

	// spare belongs to the consumer: an empty slice, given to producers at
	// the next take, so the two slices alternate and neither is reallocated.
	spare []*batch
}

// init prepares h to feed loop l, which runs drain to consume it.
func (h *handoff) init(l Loop, limit int, st *stats.Handoff, drain func()) {
	h.loop, h.limit, h.st, h.drain = l, limit, st, drain
}

// push appends b to the queue (or drops its QoS 0 items when the queue is
// full, see handoff) and returns how many QoS 0 deliveries it dropped.
// Ownership of b passes to the queue. Safe for concurrent use.
func (h *handoff) push(b *batch) (dropped int) {
	b.queuedAt = monoNow()
	h.mu.Lock()
	if len(b.buf) > 0 && h.bytes > 0 && h.bytes+len(b.buf) > h.limit {
		dropped = b.dropQoS0()
		if len(b.items) == 0 {
			h.mu.Unlock()
			b.recycle()
			return dropped
		}
	}
	h.queue = append(h.queue, b)
	h.bytes += len(b.buf)
	h.st.Items.Store(int64(len(h.queue)))
	h.st.Bytes.Store(int64(h.bytes))
	wake := !h.woken
	h.woken = true
	h.mu.Unlock()
	if wake {
		h.loop.Execute(h.drain)
	}
	return dropped
}

// take empties the queue and returns what it held, in push order. From now
// on a push schedules a new drain. Give the slice back with done. Loop-only.
func (h *handoff) take() []*batch {
	h.mu.Lock()
	bs := h.queue
	h.queue, h.spare = h.spare, nil
	h.bytes = 0
	h.woken = false
	h.st.Items.Store(0)
	h.st.Bytes.Store(0)
	h.mu.Unlock()
	return bs
}

// done returns the slice from take, whose batches the caller has run and
// cleared. Loop-only.
func (h *handoff) done(bs []*batch) { h.spare = bs[:0] }

// drainHandoff is the loop's consumer: it runs every batch queued for this
// loop, oldest first, then flushes once. Loop-only.
func (ls *loopState) drainHandoff() {
	bs := ls.in.take()
	now := monoNow()
	for i, b := range bs {
		ls.st.Handoff.ObserveWait(time.Duration(now - b.queuedAt))
		ls.runBatch(b)
		bs[i] = nil
	}
	ls.in.done(bs)
	ls.flush()
}

// monoBase anchors monoNow.
var monoBase = time.Now()

// monoNow returns monotonic nanoseconds since the process started: a
// timestamp that fits in an int64 field and does not jump with the wall
// clock.
func monoNow() int64 { return int64(time.Since(monoBase)) }
