package trace

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkFindClient looks up one client's message events in full rings
// (100,000 events over two rings, as -trace-max-events 100000 with two
// loops keeps them) of other clients' messages: clients=20 is a few busy
// publishers, clients=5000 many devices, so most chunks hold dozens of
// client IDs. The client looked up sent one message in 1,000.
func BenchmarkFindClient(b *testing.B) {
	for _, clients := range []int{20, 5000} {
		b.Run(fmt.Sprintf("events=100000/clients=%d", clients), func(b *testing.B) {
			tr := New(Config{MaxEvents: 100_000}, 2, time.UnixMilli(0))
			ids := make([]string, clients)
			for i := range ids {
				ids[i] = fmt.Sprintf("load-%d", i)
			}
			for i := range 100_000 {
				r := tr.Ring(i % 2)
				id := ids[i%clients]
				if i%1000 == 999 {
					id = "me"
				}
				r.Add(Event{Time: int64(i), MsgID: r.NextMsgID(), ClientID: id, Kind: KindPublish})
			}
			tr.Ring(0).Sync()
			tr.Ring(1).Sync()
			f := Filter{ClientID: "me", Kinds: Messages}
			b.ReportAllocs()
			for b.Loop() {
				if evs := tr.Find(f, 1<<40); len(evs) != 100 {
					b.Fatalf("found %d events of the client, want its 100", len(evs))
				}
			}
		})
	}
}

// BenchmarkFindClientCold is BenchmarkFindClient when every chunk is new
// since the last lookup, as when lookups are rare and the rings turn over
// between them: each lookup builds every chunk's client filter.
func BenchmarkFindClientCold(b *testing.B) {
	tr := New(Config{MaxEvents: 100_000}, 2, time.UnixMilli(0))
	for i := range 100_000 {
		r := tr.Ring(i % 2)
		r.Add(Event{Time: int64(i), MsgID: r.NextMsgID(), ClientID: fmt.Sprintf("load-%d", i%5000), Kind: KindPublish})
	}
	tr.Ring(0).Sync()
	tr.Ring(1).Sync()
	f := Filter{ClientID: "me", Kinds: Messages}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for i := range tr.Rings() {
			for _, c := range *tr.Ring(i).list.Load() {
				c.filter.Store(nil)
			}
		}
		b.StartTimer()
		tr.Find(f, 1<<40)
	}
}
