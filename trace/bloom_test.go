package trace

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestBloomNeverMissesAClient: every client ID added to a segment's set
// is reported present, and IDs never added are mostly reported absent (a
// filter that always said "present" would find the same events but save
// nothing).
func TestBloomNeverMissesAClient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ev := make([]Event, maxChunkLen)
	falsePos, asked := 0, 0
	for round := range 200 {
		for i := range ev {
			ev[i].ClientID = fmt.Sprintf("dev-%d-%d", round, i) // 64 distinct IDs per segment
		}
		b := newBloom(ev)
		for i := range ev {
			if !b.has(i/segLen, keyOf(ev[i].ClientID)) {
				t.Fatalf("round %d: %q of segment %d reported absent", round, ev[i].ClientID, i/segLen)
			}
		}
		for range 50 {
			k := keyOf(fmt.Sprintf("other-%d", rng.Uint64()))
			for s := range maxChunkLen / segLen {
				asked++
				if b.has(s, k) {
					falsePos++
				}
			}
		}
	}
	if rate := float64(falsePos) / float64(asked); rate > 0.15 {
		t.Fatalf("absent IDs reported present %.1f%% of the time with 64 IDs in a segment, want about 5%%", 100*rate)
	}
}

// TestFindClientExact fills three small rings (1,000 events each, so
// chunks are dropped and reused dozens of times) after restoring earlier
// events, with client IDs that change over time so a filter left over
// from a chunk's earlier use would hide new clients, and checks at many
// points that Find with a client returns exactly what a scan of a model
// of the rings returns.
func TestFindClientExact(t *testing.T) {
	const rings, maxEvents = 3, 3000
	tr := New(Config{MaxEvents: maxEvents}, rings, time.UnixMilli(0))
	rng := rand.New(rand.NewPCG(3, 4))
	tm := int64(0)
	event := func(phase int) Event {
		tm++
		id := fmt.Sprintf("c%d", phase*40+rng.IntN(40))
		if rng.IntN(4) == 0 {
			id = "steady" // in every phase
		}
		return Event{Time: tm, MsgID: uint64(tm), ClientID: id, Kind: Kind(1 + rng.IntN(int(numKinds)-1))}
	}
	var restored []Event
	for range 2000 {
		restored = append(restored, event(0))
	}
	tr.Restore(0, 0, restored, time.UnixMilli(0))

	model := make([][]Event, rings) // every event written, per ring
	check := func(at int, phase int) {
		t.Helper()
		for i := range rings {
			tr.Ring(i).Sync()
		}
		var kept []Event
		kept = append(kept, restored...)
		per := (maxEvents + rings - 1) / rings
		for _, m := range model {
			kept = append(kept, m[max(0, len(m)-per):]...)
		}
		ids := []string{"steady", "absent", fmt.Sprintf("c%d", phase*40+7), fmt.Sprintf("c%d", max(0, phase-1)*40+3), "c5"}
		for _, id := range ids {
			for _, f := range []Filter{
				{ClientID: id},
				{ClientID: id, Kinds: Messages},
				{ClientID: id, Begin: tm - 1500, End: tm - 200},
			} {
				var want []Event
				for _, e := range kept {
					if e.ClientID == id && (f.Kinds == 0 || f.Kinds&(1<<e.Kind) != 0) &&
						e.Time >= f.Begin && (f.End == 0 || e.Time <= f.End) {
						want = append(want, e)
					}
				}
				slices.SortStableFunc(want, byTime)
				got := tr.Find(f, tm)
				if !slices.Equal(got, want) {
					t.Fatalf("after %d events, Find(%+v): %d events, a scan of all events finds %d", at, f, len(got), len(want))
				}
			}
		}
	}
	for i := range 60_000 {
		phase := 1 + i/3000
		ring := rng.IntN(rings)
		if rng.IntN(8) == 0 { // bursts: a run of one client's events
			ring = 0
		}
		e := event(phase)
		tr.Ring(ring).Add(e)
		model[ring] = append(model[ring], e)
		if i%977 == 0 {
			check(i, phase)
		}
	}
	check(60_000, 20)
}

// TestFindClientWhileWriting runs a writer, reusing chunks all the time,
// against readers looking up one client after another. Clients write in
// runs of 100 events, so most segments hold one or two clients and the
// filters skip most of them; a reader's answer must hold only the client's
// events and every one of them between its first and last (the events a
// ring shows are a contiguous run), so a segment skipped wrongly shows as
// a gap. Under -race it also proves that building and clearing filters
// never races with the writer.
func TestFindClientWhileWriting(t *testing.T) {
	const clients, run = 13, 100
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = fmt.Sprintf("client-%d", i)
	}
	owner := func(seq uint64) int { return int(seq/run) % clients }
	tr := New(Config{MaxEvents: 1024}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	stop := make(chan struct{})
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := g; ; x++ {
				select {
				case <-stop:
					return
				default:
				}
				runtime.Gosched() // leave the writer moments without readers, so it reuses chunks
				c := x % clients
				evs := tr.Find(Filter{ClientID: ids[c]}, 1<<40)
				for i, e := range evs {
					if e.ClientID != ids[c] || owner(e.MsgID) != c {
						errs <- fmt.Errorf("lookup of %s returned %+v", ids[c], e)
						return
					}
					if i == 0 {
						continue
					}
					next := evs[i-1].MsgID + 1 // the client's next event
					if owner(next) != c {
						next += (clients - 1) * run
					}
					if e.MsgID != next {
						errs <- fmt.Errorf("lookup of %s: event %d follows %d, want %d", ids[c], e.MsgID, evs[i-1].MsgID, next)
						return
					}
				}
			}
		}()
	}
	for seq := uint64(1); seq <= 300_000; seq++ {
		r.Add(Event{Time: int64(seq), MsgID: seq, ClientID: ids[owner(seq)], Kind: KindPublish})
		if seq%7 == 0 {
			r.Sync()
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}
