//go:build !race

package trace

import (
	"testing"
	"time"
)

// TestAddAllocs pins the cost of recording: a new chunk per 256 events,
// four allocations each (chunk, events, list, its header), nothing else.
func TestAddAllocs(t *testing.T) {
	tr := New(Config{MaxEvents: 1 << 20}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	n := testing.AllocsPerRun(10, func() {
		for i := range 1024 {
			r.Add(Event{Time: int64(i), ClientID: "c", MsgID: r.NextMsgID(), Kind: KindPush})
		}
	})

	if n > 4*4 {
		t.Fatalf("1024 Adds: %v allocs, want at most 16 (4 per 256 events)", n)
	}
}

func BenchmarkAdd(b *testing.B) {
	tr := New(Config{MaxEvents: DefaultMaxEvents}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		r.Add(Event{Time: i, ClientID: "c", MsgID: r.NextMsgID(), Kind: KindPush})
	}
}

// TestAddAllocsFull: once a ring is full, dropped chunks are reused, so
// recording costs only the new chunk list: two allocations per 256 events.
func TestAddAllocsFull(t *testing.T) {
	tr := New(Config{MaxEvents: 4096}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	for i := range 3 * 4096 { // fill it, and retire a few chunks
		r.Add(Event{Time: int64(i), ClientID: "c", Kind: KindPush})
	}
	n := testing.AllocsPerRun(10, func() {
		for i := range 1024 {
			r.Add(Event{Time: int64(i), ClientID: "c", MsgID: r.NextMsgID(), Kind: KindPush})
		}
	})
	if n > 4*2 {
		t.Fatalf("1024 Adds to a full ring: %v allocs, want at most 8 (2 per 256 events)", n)
	}
}
