//go:build !race

package trace

import (
	"testing"
	"time"
)

// TestAddAllocsSteady: once the ring is full, the chunks it drops are
// reused, so recording allocates only the new list's 24-byte header per
// 256 events.
func TestAddAllocsSteady(t *testing.T) {
	tr := New(Config{MaxEvents: 4096}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	for i := range 8192 { // fill past the bound: chunks start to drop
		r.Add(Event{Time: int64(i)})
	}
	tr.Find(Filter{}, 0) // a reader came and went
	n := testing.AllocsPerRun(10, func() {
		for i := range 1024 {
			r.Add(Event{Time: int64(i), ClientID: "c", MsgID: r.NextMsgID(), Kind: KindPush})
		}
	})
	if n > 4 {
		t.Fatalf("1024 Adds on a full ring: %v allocs, want at most 4 (a list header per 256 events)", n)
	}
}

// TestAddAllocs pins the cost of recording while the ring fills: a new
// chunk per 256 events, four allocations each (chunk, events, list, its
// header), nothing else.
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
