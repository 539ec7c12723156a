package bench

import "testing"

func TestTrackerAccounting(t *testing.T) {
	tr := NewTracker(2, 0)
	// publisher 0 sends 0..9, 3 and 7 are lost, 5 arrives twice;
	// publisher 1 sends 0..199, 150 arrives before 149.
	for seq := range uint32(10) {
		if seq == 3 || seq == 7 {
			continue
		}
		tr.Record(0, seq)
	}
	if tr.Record(0, 5) {
		t.Error("second 5 of publisher 0: Record returned true, want false (a duplicate)")
	}
	for seq := range uint32(200) {
		switch seq {
		case 149:
			tr.Record(1, 150)
		case 150:
			tr.Record(1, 149)
		default:
			tr.Record(1, seq)
		}
	}
	if tr.Unique != 208 || tr.Duplicates != 1 || tr.Reordered != 1 {
		t.Errorf("Unique, Duplicates, Reordered = %d, %d, %d; want 208, 1, 1", tr.Unique, tr.Duplicates, tr.Reordered)
	}
	if got := tr.Lost([]uint64{10, 200}); got != 2 {
		t.Errorf("Lost = %d, want 2", got)
	}
	if got := tr.Lost([]uint64{10, 250}); got != 52 {
		t.Errorf("Lost with 50 more sent by publisher 1 = %d, want 52", got)
	}
	if got := tr.Lost([]uint64{0, 0}); got != 0 {
		t.Errorf("Lost with nothing sent = %d, want 0 (messages beyond the count are not subtracted)", got)
	}
	if got := tr.Received(0); got != 8 {
		t.Errorf("Received(0) = %d, want 8", got)
	}
	if got := tr.Lost([]uint64{10, 200, 5}); got != 7 {
		t.Errorf("Lost with a third, silent publisher = %d, want 7", got)
	}
}

func TestTrackerGrows(t *testing.T) {
	tr := NewTracker(1, 64)
	tr.Record(3, 1_000_000) // unknown publisher, far sequence number
	if tr.Unique != 1 || tr.Received(3) != 1 {
		t.Fatalf("Unique, Received(3) = %d, %d; want 1, 1", tr.Unique, tr.Received(3))
	}
	if got := tr.Lost([]uint64{0, 0, 0, 1_000_001}); got != 1_000_000 {
		t.Errorf("Lost = %d, want 1000000", got)
	}
}

func TestPayloadHeader(t *testing.T) {
	p := make([]byte, MinPayload)
	putHeader(p, 7, 1<<31+5, -42)
	pub, seq, ns, ok := header(p)
	if !ok || pub != 7 || seq != 1<<31+5 || ns != -42 {
		t.Errorf("header = %d, %d, %d, %v; want 7, %d, -42, true", pub, seq, ns, ok, uint32(1<<31+5))
	}
	if _, _, _, ok := header(p[:MinPayload-1]); ok {
		t.Error("header of 15 bytes: ok, want not ok")
	}
}
