package trace

import (
	"sync"
	"testing"
	"time"
)

// Events of an earlier run are served after Restore with their message
// IDs unchanged (same boot); new IDs continue after the highest kept; the
// retention and the event limit bound what is restored.
func TestRestore(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	first := New(Config{MaxEvents: 100}, 2, now.Add(-time.Hour))
	r := first.Ring(1)
	var past []Event
	for range 3 {
		id := r.NextMsgID()
		e := Event{Time: now.Add(-time.Minute).UnixMicro() + int64(id&0xff), MsgID: id, ClientID: "pub", Kind: KindPublish, Info: InfoPubFromClient}
		r.Add(e)
		past = append(past, e)
	}
	past = append(past, Event{Time: now.Add(-2 * time.Hour).UnixMicro(), ClientID: "old", Kind: KindConnect, Info: InfoAccepted})
	text := first.FormatMsgID(past[2].MsgID)

	tr := New(Config{MaxEvents: 100, Retention: time.Hour}, 3, now)
	tr.Restore(first.Boot(), 0, past, now)
	id, ok := tr.ParseMsgID(text)
	if !ok || id != past[2].MsgID {
		t.Fatalf("ParseMsgID(%s) after Restore = %x, %v; want the earlier run's %x", text, id, ok, past[2].MsgID)
	}
	if got := tr.Find(Filter{MsgID: id}, now.UnixMicro()); len(got) != 1 || got[0] != past[2] {
		t.Fatalf("Find the earlier message: %+v, want %+v", got, past[2])
	}
	if got := tr.Find(Filter{ClientID: "old"}, now.UnixMicro()); len(got) != 0 {
		t.Fatalf("an event older than the retention was restored: %+v", got)
	}
	for i := range tr.Rings() {
		if n := tr.Ring(i).NextMsgID(); n&(1<<48-1) <= past[2].MsgID&(1<<48-1) {
			t.Fatalf("ring %d issues ID %x after Restore, not after the earlier run's %x", i, n, past[2].MsgID)
		}
	}
	tr.Ring(0).Add(Event{Time: now.UnixMicro(), ClientID: "pub", Kind: KindConnect, Info: InfoAccepted})
	tr.Ring(0).Sync()
	if got := tr.Find(Filter{ClientID: "pub"}, now.UnixMicro()); len(got) != 4 || got[3].Kind != KindConnect {
		t.Fatalf("restored and new events together: %+v, want the 3 publications then the connect", got)
	}
	if n := tr.Len(); n != 4 {
		t.Fatalf("Len %d, want 4", n)
	}

	// IDs issued whose events were not kept are not reissued either.
	lost := New(Config{MaxEvents: 100}, 1, now)
	lost.Restore(first.Boot(), first.Issued()+1000, past, now)
	if n := lost.Ring(0).NextMsgID(); n&(1<<48-1) != first.Issued()+1001 {
		t.Fatalf("after Restore with %d issued, the next ID is %x", first.Issued()+1000, n)
	}

	small := New(Config{MaxEvents: 2}, 1, now)
	small.Restore(first.Boot(), 0, past[:3], now)
	if got := small.Find(Filter{}, now.UnixMicro()); len(got) != 2 || got[0] != past[1] {
		t.Fatalf("Restore past the limit kept %+v, want the newest 2", got)
	}
}

// Readers never see a reused chunk being rewritten: with a small ring that
// drops and reuses chunks all the time, every event a concurrent Find
// returns is whole (its fields agree) and in order. Under -race this also
// checks that no reused chunk is written while a reader may hold it.
func TestReuseWhileReading(t *testing.T) {
	tr := New(Config{MaxEvents: 600}, 1, time.UnixMilli(0))
	r := tr.Ring(0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				evs := tr.Find(Filter{}, 0)
				for i, e := range evs {
					if uint64(e.Time) != e.MsgID || e.Channel != e.MsgID*3 || (i > 0 && e.Time <= evs[i-1].Time) {
						t.Errorf("event %d of %d torn or out of order: %+v after %+v", i, len(evs), e, evs[max(i-1, 0)])
						return
					}
				}
				if len(evs) > 600 {
					t.Errorf("Find returned %d events, bound 600", len(evs))
					return
				}
			}
		})
	}
	for i := uint64(1); i <= 200_000; i++ {
		r.Add(Event{Time: int64(i), MsgID: i, Channel: i * 3, Kind: KindPush})
		if i%3 == 0 {
			r.Sync()
		}
	}
	close(done)
	wg.Wait()
}
