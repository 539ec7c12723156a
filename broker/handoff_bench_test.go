package broker

import (
	"strconv"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/stats"
)

// countLoop counts wake-ups and runs nothing; the benchmark drains by hand.
type countLoop struct{ wakes int }

func (l *countLoop) Execute(func()) { l.wakes++ }

// BenchmarkHandoff is the queue alone: pushes of one-delivery batches from
// the pool, drained every batches pushes (one wake-up per drain); per push.
func BenchmarkHandoff(b *testing.B) {
	for _, batches := range []int{1, 64} {
		b.Run("push"+strconv.Itoa(batches)+"-drain", func(b *testing.B) {
			var l countLoop
			var h handoff
			var st stats.Handoff
			h.init(&l, handoffMaxBytes, &st, func() {})
			drain := func() {
				bs := h.take()
				for i, bt := range bs {
					bt.recycle()
					bs[i] = nil
				}
				h.done(bs)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				h.push(testBatch(0, n, 64))
				if n++; n%batches == 0 {
					drain()
				}
			}
			drain()
			b.ReportMetric(float64(l.wakes)/float64(n), "wakes/push")
		})
	}
}

// handoffFixture builds an engine with two loops that run nothing by
// themselves and n connected QoS 0 subscribers to "bench/topic" on the
// second: routing on the first goes through the second's hand-off queue.
func handoffFixture(tb testing.TB, n int) (from, to *loopState, sinks []*sinkTransport) {
	cfg := DefaultConfig()
	cfg.Loops = 2
	e := NewEngine(cfg)
	h0, h1 := e.BindLoop(&countLoop{}), e.BindLoop(&countLoop{})
	for i := 0; i < n; i++ {
		tr := &sinkTransport{}
		e.router.add("bench/topic", attachedConn(tb, e, h1, tr, "sub-"+strconv.Itoa(i)).sess, 0, nil)
		sinks = append(sinks, tr)
	}
	return h0.ls, h1.ls, sinks
}

// BenchmarkHandoffRoute is one QoS 0 PUBLISH routed to subscribers on
// another loop: route and flush on the publisher's loop (one batch pushed),
// then drain and flush on the subscribers' loop.
func BenchmarkHandoffRoute(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run("subs-"+strconv.Itoa(n)+"-64B", func(b *testing.B) {
			from, to, _ := handoffFixture(b, n)
			topic, payload := []byte("bench/topic"), make([]byte, 64)
			b.ReportAllocs()
			b.SetBytes(int64(codec.PublishSize(0, len(topic), len(payload))))
			for b.Loop() {
				from.route(topic, payload, 0, nil)
				from.flush()
				to.drainHandoff()
			}
		})
	}
}
