package stats

import (
	"sync/atomic"
	"time"
)

// WaitBounds are the upper bounds of Handoff's wait-time buckets, from
// 10 µs to 1 s; a last bucket takes everything above.
var WaitBounds = [...]time.Duration{
	10 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 500 * time.Millisecond, time.Second,
}

// Handoff describes the queue of work other goroutines hand to one event
// loop: how much waits in it now, and how long work waited before the loop
// took it. The depth gauges are set by whoever changes the queue, under the
// queue's lock; the wait histogram is written by the loop alone.
type Handoff struct {
	Items atomic.Int64 // batches waiting now
	Bytes atomic.Int64 // QoS 0 PUBLISH bytes in those batches

	waits [len(WaitBounds) + 1]atomic.Uint64 // by bucket, not cumulative
	sum   atomic.Uint64                      // nanoseconds, all observations
}

// ObserveWait records that one batch waited d between being queued and
// being taken by the loop. It does not allocate. Safe for concurrent use.
func (h *Handoff) ObserveWait(d time.Duration) {
	i := 0
	for i < len(WaitBounds) && d > WaitBounds[i] {
		i++
	}
	h.waits[i].Add(1)
	if d > 0 {
		h.sum.Add(uint64(d))
	}
}

// HandoffSnapshot is a point-in-time copy of Handoff.
type HandoffSnapshot struct {
	Items, Bytes int64
	// Waits[i] counts waits at most WaitBounds[i] (cumulative, as
	// Prometheus buckets are); Waits[len(WaitBounds)] is the total count.
	Waits [len(WaitBounds) + 1]uint64
	Sum   time.Duration // of all waits
}

// Snapshot copies h into dst. Safe for concurrent use.
func (h *Handoff) Snapshot(dst *HandoffSnapshot) {
	dst.Items, dst.Bytes = h.Items.Load(), h.Bytes.Load()
	var n uint64
	for i := range h.waits {
		n += h.waits[i].Load()
		dst.Waits[i] = n
	}
	dst.Sum = time.Duration(h.sum.Load())
}
