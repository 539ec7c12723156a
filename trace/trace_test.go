package trace

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRingEvictsOldest(t *testing.T) {
	tr := New(Config{MaxEvents: 10}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	for i := range 25 {
		r.Add(Event{Time: int64(i), ClientID: "c", Kind: KindConnect, Info: InfoAccepted})
	}
	r.Sync()
	got := tr.Find(Filter{}, 100)
	if len(got) != 10 || got[0].Time != 15 || got[9].Time != 24 {
		t.Fatalf("got %d events from %d to %d, want 10 from 15 to 24", len(got), first(got), last(got))
	}
	if n := tr.Len(); n != 10 {
		t.Fatalf("Len %d, want 10", n)
	}
}

func TestRingBoundedMemory(t *testing.T) {
	tr := New(Config{MaxEvents: 1000}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	for i := range 100_000 {
		r.Add(Event{Time: int64(i)})
	}
	chunks := len(*r.list.Load())
	if kept := chunks * r.chunkLen; kept > 1000+2*maxChunkLen {
		t.Fatalf("ring keeps %d events in %d chunks for a bound of 1000", kept, chunks)
	}
}

func TestRetention(t *testing.T) {
	tr := New(Config{MaxEvents: 100_000, Retention: time.Second}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	for i := range 5000 {
		r.Add(Event{Time: int64(i) * 1000}) // one event per ms
	}
	r.Sync()
	got := tr.Find(Filter{}, 5000*1000)
	if len(got) != 1000 || got[0].Time != 4000*1000 {
		t.Fatalf("got %d events from %d, want 1000 from 4000 ms (retention 1s at 5000 ms)", len(got), first(got))
	}
	// Chunks entirely older than the retention are dropped as new ones start.
	if chunks := len(*r.list.Load()); chunks > 1000/maxChunkLen+2 {
		t.Fatalf("ring keeps %d chunks of %d; retention did not drop old ones", chunks, maxChunkLen)
	}
}

func TestFindFilters(t *testing.T) {
	tr := New(Config{MaxEvents: 100}, 2, time.UnixMilli(0))
	a, b := tr.Ring(0), tr.Ring(1)
	id := a.NextMsgID()
	b.Add(Event{Time: 5, MsgID: id, ClientID: "sub", Kind: KindPush, Info: InfoPushToClient})
	a.Add(Event{Time: 5, MsgID: id, ClientID: "pub", Kind: KindPublish, Info: InfoPubFromClient})
	a.Add(Event{Time: 3, ClientID: "pub", Kind: KindConnect, Info: InfoAccepted})
	a.Add(Event{Time: 9, ClientID: "pub", Kind: KindClose, Info: InfoNoHeart})
	a.Sync()
	b.Sync()

	got := tr.Find(Filter{MsgID: id}, 10)
	if len(got) != 2 || got[0].Kind != KindPublish || got[1].Kind != KindPush {
		t.Fatalf("message %d: got %+v, want its publish then its push", id, got)
	}
	got = tr.Find(Filter{ClientID: "pub", Kinds: Connections}, 10)
	if len(got) != 2 || got[0].Info != InfoAccepted || got[1].Info != InfoNoHeart {
		t.Fatalf("connections of pub: got %+v, want accepted then no heart", got)
	}
	got = tr.Find(Filter{ClientID: "pub", Begin: 4, End: 8}, 10)
	if len(got) != 1 || got[0].Kind != KindPublish {
		t.Fatalf("pub between 4 and 8 ms: got %+v, want its publish", got)
	}
}

func TestMsgIDFormat(t *testing.T) {
	tr := New(Config{MaxEvents: 10}, 3, time.Unix(1700000000, 5))
	id := tr.Ring(2).NextMsgID()
	if id>>48 != 2 || id&0xffff != 1 {
		t.Fatalf("first ID of ring 2 is %#x, want ring 2, count 1", id)
	}
	s := tr.FormatMsgID(id)
	if len(s) != 32 {
		t.Fatalf("FormatMsgID = %q, want 32 hex digits", s)
	}
	if back, ok := tr.ParseMsgID(s); !ok || back != id {
		t.Fatalf("ParseMsgID(%q) = %#x, %v; want %#x, true", s, back, ok, id)
	}
	other := New(Config{MaxEvents: 10}, 3, time.Unix(1700000001, 0))
	if _, ok := other.ParseMsgID(s); ok {
		t.Fatalf("a later run accepted message ID %q of an earlier one", s)
	}
	for _, bad := range []string{"", "xyz", s[:31], s[:31] + "G"} {
		if _, ok := tr.ParseMsgID(bad); ok {
			t.Fatalf("ParseMsgID(%q) accepted", bad)
		}
	}
}

func TestParseMode(t *testing.T) {
	for s, want := range map[string]Mode{"off": MessagesOff, "qos12": MessagesQoS12, "all": MessagesAll} {
		if m, err := ParseMode(s); err != nil || m != want || m.String() != s {
			t.Fatalf("ParseMode(%q) = %v, %v; want %v", s, m, err, want)
		}
	}
	if _, err := ParseMode("qos1"); err == nil {
		t.Fatal("ParseMode(\"qos1\") accepted")
	}
	if MessagesQoS12.Traces(0) || !MessagesQoS12.Traces(1) || MessagesOff.Traces(2) || !MessagesAll.Traces(0) {
		t.Fatal("Mode.Traces does not follow off/qos12/all")
	}
}

// TestConcurrentReaders runs a writer against readers: under -race it
// proves readers never touch a slot the writer is filling.
func TestConcurrentReaders(t *testing.T) {
	tr := New(Config{MaxEvents: 2000}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				evs := tr.Find(Filter{ClientID: "c"}, 1<<40)
				for i := 1; i < len(evs); i++ {
					if evs[i].Time < evs[i-1].Time || evs[i].ClientID != "c" {
						t.Errorf("event %d: %+v after %+v", i, evs[i], evs[i-1])
						return
					}
				}
			}
		}()
	}
	for i := range 50_000 {
		r.Add(Event{Time: int64(i), ClientID: "c", Kind: KindPush})
		if i%7 == 0 {
			r.Sync()
		}
	}
	close(stop)
	wg.Wait()
}

func first(e []Event) int64 {
	if len(e) == 0 {
		return -1
	}
	return e[0].Time
}

func last(e []Event) int64 {
	if len(e) == 0 {
		return -1
	}
	return e[len(e)-1].Time
}

// TestRingReuseWhileRead records into a small ring, so chunks are dropped
// and reused all the time, while readers copy events out: every event a
// reader sees must be whole (its fields written together), and the race
// detector must find no write to a chunk a reader still holds.
func TestRingReuseWhileRead(t *testing.T) {
	tr := New(Config{MaxEvents: 1024}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	stop := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				m := newMatcher(Filter{}, 0)
				for _, e := range r.find(&m, nil) {
					if uint64(e.Time)*3 != e.MsgID || e.Channel != uint64(e.Time)+7 {
						errs <- fmt.Errorf("torn event: time %d, msg %d, channel %d", e.Time, e.MsgID, e.Channel)
						return
					}
				}
			}
		}()
	}
	for i := int64(1); i <= 200_000; i++ {
		r.Add(Event{Time: i, MsgID: uint64(i) * 3, Channel: uint64(i) + 7, Kind: KindPush})
		if i%5 == 0 {
			r.Sync()
		}
	}
	r.Sync()
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if got := r.Len(); got != 1024 {
		t.Fatalf("Len = %d, want 1024", got)
	}
}
