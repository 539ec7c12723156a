package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
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
//
// The price of a floor is that its garbage stays resident: a broker that
// took 10,000 connections and went quiet would keep every buffer and
// address its accepts left behind, a third of its memory per connection,
// because no collection comes and the runtime keeps freed pages up to the
// heap goal. So the floor also trims an idle heap (see trimmer): once the
// allocation rate has dropped to almost nothing after enough was
// allocated, it collects and returns the free pages to the system once.
type gcFloor struct {
	floor   uint64
	stopped atomic.Bool
	done    chan struct{} // closed by stop: ends the trimmer
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
	g := &gcFloor{floor: uint64(floorMiB) << 20, done: make(chan struct{})}
	debug.SetGCPercent(g.percent(4 << 20)) // the first goal is 4 MiB × GOGC/100
	g.arm()
	go g.trimmer(trimTick, debug.FreeOSMemory)
	return func() {
		if g.stopped.CompareAndSwap(false, true) {
			close(g.done)
		}
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

// Idle trimming: every trimTick the trimmer reads how much the program has
// allocated. When a tick saw less than trimQuiet, and since the last trim
// the program allocated at least trimMin or an eighth of the live heap,
// whichever is more, it trims once. A broker under load allocates far more
// than trimQuiet a tick and is never trimmed; an idle one is trimmed once
// per burst of work, and the eighth keeps a trim, which marks the whole
// live heap, rare next to the work that made the garbage.
const (
	trimTick  = time.Second
	trimQuiet = 256 << 10
	trimMin   = 4 << 20
)

// trimDue reports whether to trim: the last tick allocated quiet bytes,
// since the last trim the program allocated since, and live bytes were
// live after the last collection.
func trimDue(quiet, since, live uint64) bool {
	return quiet < trimQuiet && since >= max(trimMin, live/8)
}

// trimmer checks every tick whether the heap is due a trim (trimDue) and
// then calls trim, until stop. trim is debug.FreeOSMemory outside tests: a
// forced collection, then every free page returned to the system.
func (g *gcFloor) trimmer(tick time.Duration, trim func()) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	last, atTrim := s[0].Value.Uint64(), s[0].Value.Uint64()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
		}
		metrics.Read(s)
		now := s[0].Value.Uint64()
		if trimDue(now-last, now-atTrim, s[1].Value.Uint64()) {
			trim()
			metrics.Read(s)
			now, atTrim = s[0].Value.Uint64(), s[0].Value.Uint64()
		}
		last = now
	}
}
