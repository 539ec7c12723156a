package stats

import "sync/atomic"

// Store counts the on-disk store's trouble, for /metrics: failed writes and
// syncs, and Apply calls that waited because the writer was behind. The
// store writes it; anyone reads. Events are rare (a failure, a full pending
// list), so it is one set of counters, not sharded per loop.
type Store struct {
	WriteErrors atomic.Uint64 // write transactions that failed (with -fsync always this includes their fsync)
	SyncErrors  atomic.Uint64 // fsyncs of the file that failed
	Waits       atomic.Uint64 // Apply calls that waited for the writer to catch up
	WaitNanos   atomic.Uint64 // total time those calls waited, in nanoseconds
	Pending     atomic.Int64  // ops applied and not yet written, now
}
