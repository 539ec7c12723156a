package stats

import (
	"testing"
	"time"
)

// TestHandoffWaits: a wait lands in the first bucket whose bound it does
// not exceed (a wait equal to a bound counts in it), one above every bound
// only in the total, and the snapshot's buckets are cumulative.
func TestHandoffWaits(t *testing.T) {
	var h Handoff
	for _, d := range []time.Duration{0, 10 * time.Microsecond, 11 * time.Microsecond, time.Millisecond, 3 * time.Second} {
		h.ObserveWait(d)
	}
	h.Items.Store(2)
	h.Bytes.Store(300)
	var s HandoffSnapshot
	h.Snapshot(&s)
	want := map[time.Duration]uint64{10 * time.Microsecond: 2, 50 * time.Microsecond: 3, 500 * time.Microsecond: 3,
		time.Millisecond: 4, time.Second: 4}
	for i, le := range WaitBounds {
		if w, ok := want[le]; ok && s.Waits[i] != w {
			t.Errorf("waits <= %v: got %d, want %d", le, s.Waits[i], w)
		}
	}
	if n := s.Waits[len(WaitBounds)]; n != 5 {
		t.Errorf("total waits %d, want 5", n)
	}
	if want := 3*time.Second + time.Millisecond + 21*time.Microsecond; s.Sum != want {
		t.Errorf("sum %v, want %v", s.Sum, want)
	}
	if s.Items != 2 || s.Bytes != 300 {
		t.Errorf("depth %d batches, %d bytes; want 2, 300", s.Items, s.Bytes)
	}
}
