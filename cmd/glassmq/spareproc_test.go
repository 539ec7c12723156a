package main

import (
	"runtime"
	"testing"
)

// The broker keeps one processor more than it has event loops, so admin
// goroutines never queue behind a saturated loop; an operator's GOMAXPROCS
// wins.
func TestSpareProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	if got := spareProc(0, false); got != 2 {
		t.Fatalf("loops = %d, want one per processor (2)", got)
	}
	if p := runtime.GOMAXPROCS(0); p != 3 {
		t.Fatalf("GOMAXPROCS = %d, want loops+1 = 3", p)
	}
	runtime.GOMAXPROCS(4)
	if got := spareProc(1, false); got != 1 {
		t.Fatalf("loops = %d, want the configured 1", got)
	}
	if p := runtime.GOMAXPROCS(0); p != 2 {
		t.Fatalf("GOMAXPROCS = %d, want loops+1 = 2", p)
	}
	runtime.GOMAXPROCS(3)
	if got := spareProc(0, true); got != 3 {
		t.Fatalf("loops = %d, want 3", got)
	}
	if p := runtime.GOMAXPROCS(0); p != 3 {
		t.Fatalf("GOMAXPROCS = %d, want the operator's 3 untouched", p)
	}
}
