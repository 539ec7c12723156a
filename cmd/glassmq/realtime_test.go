package main

import (
	"runtime"
	"testing"

	"github.com/glassmq/glassmq/admin"
)

// TestRealtimeProcs: real-time admin threads get processors of their own
// beside the loops' and the spare one; off, or with the operator's
// GOMAXPROCS, nothing changes.
func TestRealtimeProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(3)
	realtimeProcs(0, false)
	if p := runtime.GOMAXPROCS(0); p != 3 {
		t.Fatalf("off: GOMAXPROCS = %d, want 3 untouched", p)
	}
	realtimeProcs(10, true)
	if p := runtime.GOMAXPROCS(0); p != 3 {
		t.Fatalf("operator's GOMAXPROCS: %d, want 3 untouched", p)
	}
	realtimeProcs(10, false)
	if p := runtime.GOMAXPROCS(0); p != 3+admin.RealtimeConns {
		t.Fatalf("GOMAXPROCS = %d, want 3 + %d", p, admin.RealtimeConns)
	}
}
