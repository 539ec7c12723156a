package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// gcFloor keeps the garbage collector from running while the Go heap is
// smaller than floor bytes and leaves it as GOGC=100 above: after every
// collection it sets GOGC so that the next goal is max(floor, 2 × live heap).
//
// Go starts with a 4 MiB goal and doubles it as the heap grows, so a broker
// taking 100k connections a second re-marks its young, almost entirely live
// heap at 4, 8, 16 and 32 MiB: three collections in the first 10k
// connections, 1.5 µs of broker CPU per connect (measured, see
// docs/BENCHMARKS.md). A ballast allocation would also move the first goal,
// but it raises every later goal by its size too, letting that much more
// garbage build up at any heap size; this raises only the small ones.
type gcFloor struct {
	floor   uint64
	stopped atomic.Bool
}

// sentinel is allocated once per collection so that its cleanup runs after
// the next one. The pointer keeps it out of the tiny allocator, whose
// objects may share a block and never become unreachable on their own.
type sentinel struct {
	_ *int
	_ [8]byte
}

// startGCFloor installs a floor of floorMiB and returns the function that
// removes it. A floor of 4 MiB or less (Go's own) or a GOGC set in the
// environment leaves the collector alone.
func startGCFloor(floorMiB int) (stop func()) {
	if floorMiB <= 4 || os.Getenv("GOGC") != "" {
		return func() {}
	}
	g := &gcFloor{floor: uint64(floorMiB) << 20}
	debug.SetGCPercent(g.percent(4 << 20)) // the first goal is 4 MiB × GOGC/100
	g.arm()
	return func() {
		g.stopped.Store(true)
		debug.SetGCPercent(100)
	}
}

// percent returns the GOGC that puts the next goal at max(floor, 2 × live).
func (g *gcFloor) percent(live uint64) int {
	live = max(live, 1)
	if 2*live >= g.floor {
		return 100
	}
	return int(min(g.floor*100/live-100, 1<<30))
}

// arm makes tune run after the next collection.
func (g *gcFloor) arm() {
	runtime.AddCleanup(new(sentinel), func(g *gcFloor) { g.tune() }, g)
}

// tune sets GOGC from the live heap the last collection found, and re-arms.
func (g *gcFloor) tune() {
	if g.stopped.Load() {
		return
	}
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		debug.SetGCPercent(g.percent(s[0].Value.Uint64()))
	}
	g.arm()
}
