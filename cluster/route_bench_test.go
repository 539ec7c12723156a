//go:build !race

package cluster

import (
	"testing"
)

// BenchmarkForward: the sending side of a cross-node QoS 0 message, what a
// loop pays per message: Forward of a 16-byte message of a topic already
// seen, with the round's Flush (one NATS message per 64 forwards) to an
// embedded server that no other node listens to.
func BenchmarkForward(b *testing.B) {
	nodes := startNodes(b, 1)
	r, err := NewRouter(nodes[0], discard{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	topic, payload := []byte("bench/abcdefgh/3"), []byte("0123456789abcdef")
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	i := 0
	for b.Loop() {
		r.Forward(topic, payload, 0, false, nil, 0, "bench-abcdefgh-p3")
		if i++; i%64 == 0 {
			r.Flush(false)
		}
	}
}

// BenchmarkForwardLoop is BenchmarkForward through an event loop's own
// batches (ForwardLoop and FlushLoop), as the engine's loops forward.
func BenchmarkForwardLoop(b *testing.B) {
	nodes := startNodes(b, 1)
	r, err := NewRouter(nodes[0], discard{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	r.UseLoops(1)
	topic, payload := []byte("bench/abcdefgh/3"), []byte("0123456789abcdef")
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	i := 0
	for b.Loop() {
		r.ForwardLoop(0, topic, payload, 0, false, nil, 0, "bench-abcdefgh-p3")
		if i++; i%64 == 0 {
			r.FlushLoop(0, false)
		}
	}
}

// BenchmarkBatchRead: the receiving side's decoding of a cross-node QoS 0
// message, per message: the records of a batch of 1,000 16-byte messages
// from one publisher, read as run hands them to the engine.
func BenchmarkBatchRead(b *testing.B) {
	const n = 1000
	batch := appendBatchHeader(nil, "n0@1", "bench/abcdefgh/3")
	payload := []byte("0123456789abcdef")
	for i := range n {
		batch, _ = appendRecord(batch, record{seq: uint64(i + 1), payload: payload}, "bench-abcdefgh-p3", uint64(i), i > 0, 1<<20)
	}
	var br batchReader
	if err := br.init(batch); err != nil {
		b.Fatal(err)
	}
	parts := []batchPart{{br: br}}
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		it := records{parts: parts}
		k := 0
		for e := (envelope{}); it.next(&e); k++ {
		}
		if k != n {
			b.Fatalf("%d messages read, want %d", k, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
}
