package main

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestGCFloorTrimDue: an idle heap is trimmed only after enough was
// allocated since the last trim (4 MiB, or an eighth of the live heap when
// that is more), and never while a tick allocates 256 KiB or more.
func TestGCFloorTrimDue(t *testing.T) {
	for _, tc := range []struct {
		name               string
		quiet, since, live uint64
		want               bool
	}{
		{"quiet after a burst", 0, 8 << 20, 10 << 20, true},
		{"quiet, little since the last trim", 1 << 10, 1 << 20, 10 << 20, false},
		{"busy", 1 << 20, 100 << 20, 10 << 20, false},
		{"just below busy", trimQuiet - 1, trimMin, 0, true},
		{"large live heap, burst under an eighth of it", 0, 100 << 20, 1 << 30, false},
		{"large live heap, burst over an eighth of it", 0, 130 << 20, 1 << 30, true},
	} {
		if got := trimDue(tc.quiet, tc.since, tc.live); got != tc.want {
			t.Errorf("%s: trimDue(%d, %d, %d) = %v, want %v", tc.name, tc.quiet, tc.since, tc.live, got, tc.want)
		}
	}
}

// TestGCFloorTrimsOnceWhenIdle runs the trimmer with a short tick: a burst
// of garbage followed by quiet gets one trim, and the quiet that follows
// gets no second one.
func TestGCFloorTrimsOnceWhenIdle(t *testing.T) {
	g := &gcFloor{floor: 64 << 20, done: make(chan struct{})}
	var trims atomic.Int32
	ended := make(chan struct{})
	go func() { g.trimmer(20*time.Millisecond, func() { trims.Add(1) }); close(ended) }()
	defer func() { close(g.done); <-ended }()
	var sink [][]byte
	for range 12 << 10 { // 12 MiB of garbage
		sink = append(sink, make([]byte, 1024))
		if len(sink) == 1024 {
			sink = sink[:0]
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for trims.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := trims.Load(); n != 1 {
		t.Fatalf("%d trims after a 12 MiB burst and quiet, want 1", n)
	}
	time.Sleep(300 * time.Millisecond) // 15 quiet ticks
	if n := trims.Load(); n != 1 {
		t.Fatalf("%d trims after staying quiet, want still 1", n)
	}
}
