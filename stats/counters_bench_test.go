package stats

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// BenchmarkCountersAdd is the per-packet cost of counting on the hot path.
func BenchmarkCountersAdd(b *testing.B) {
	var c Client
	b.ReportAllocs()
	for b.Loop() {
		c.Received.Add(codec.TypePublish, 1, 64)
	}
}

func BenchmarkCountersSnapshot(b *testing.B) {
	var c Counters
	for t := codec.TypeConnect; t <= codec.TypeDisconnect; t++ {
		c.Add(t, 0, 2)
	}
	var s Snapshot
	b.ReportAllocs()
	for b.Loop() {
		c.Snapshot(&s)
	}
}

func BenchmarkLocalAdd(b *testing.B) {
	var l Local
	var c Counters
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Add(codec.TypePublish, 0, 64)
		if i++; i%100 == 0 {
			l.FlushTo(&c) // a round of 100 packets
		}
	}
}
