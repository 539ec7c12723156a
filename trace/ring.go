package trace

import "sync/atomic"

// maxChunkLen is the most events one chunk holds.
const maxChunkLen = 256

// chunk is a run of events. Its owner writes ev[i] and then publishes
// n = i+1; a reader loads n and reads ev[:n] only, which the owner never
// writes again.
type chunk struct {
	n  atomic.Int32
	ev []Event
}

// Ring is one writer's events, oldest first, bounded to its share of the
// event limit. Add and NextMsgID are for the ring's owner alone (an event
// loop, or whoever holds the lock serialising the work outside the loops);
// every other method is safe for concurrent use.
type Ring struct {
	idx       uint64 // ring index, the top 16 bits of its message IDs
	max       int    // events shown at most
	chunkLen  int
	maxChunks int
	retention int64 // µs; 0 keeps events until evicted by count

	// Owner-only.
	cur     *chunk
	curN    int32
	seq     uint64   // message IDs issued
	retired []*chunk // dropped from list, perhaps still being read
	free    []*chunk // dropped, and no reader can hold them: reused by grow

	list    atomic.Pointer[[]*chunk] // published chunks, oldest first; copy-on-write by the owner
	readers atomic.Int32             // each calls in progress
}

func newRing(idx, maxEvents int, retention int64) *Ring {
	r := &Ring{idx: uint64(idx), max: maxEvents, retention: retention}
	r.chunkLen = min(maxChunkLen, maxEvents)
	r.maxChunks = (maxEvents+r.chunkLen-1)/r.chunkLen + 1 // one more: the newest is filling
	r.grow(0)
	return r
}

// Add records e. Readers see it after the owner's next Sync: publishing
// every event with its own atomic store would stall the writer on each
// (the store waits for the event's bytes to reach the cache). Add
// allocates only when a full ring has no dropped chunk it may reuse (see
// grow). Loop-only (the ring's owner).
func (r *Ring) Add(e Event) {
	if int(r.curN) == r.chunkLen {
		r.grow(e.Time)
	}
	r.cur.ev[r.curN] = e
	r.curN++
}

// Sync makes the events added so far visible to readers. The owner calls
// it at the end of each batch of work (an event loop's round). Loop-only
// (the ring's owner).
func (r *Ring) Sync() {
	if r.cur.n.Load() != r.curN {
		r.cur.n.Store(r.curN)
	}
}

// NextMsgID returns a new message ID: the ring's index in the top 16 bits,
// a count of the ring's messages below. Loop-only (the ring's owner).
func (r *Ring) NextMsgID() uint64 {
	r.seq++
	return r.idx<<48 | r.seq&(1<<48-1)
}

// grow starts a new chunk, dropping the oldest ones past the bound and
// those whose newest event is older than the retention at now (epoch
// µs). Loop-only (the ring's owner).
//
// A dropped chunk is reused once no reader can be reading it, so a busy
// ring allocates no memory: a reader counts itself in readers before it
// loads list, so when the owner, after publishing a list without the chunk,
// sees no reader, every later reader loads a list without it.
func (r *Ring) grow(now int64) {
	if len(r.retired) > 0 && r.readers.Load() == 0 {
		r.free = append(r.free, r.retired...)
		clear(r.retired)
		r.retired = r.retired[:0]
	}
	if r.cur != nil {
		r.cur.n.Store(r.curN) // the full chunk, whole, before the list moves on
	}
	var c *chunk
	if n := len(r.free); n > 0 {
		c, r.free[n-1] = r.free[n-1], nil
		r.free = r.free[:n-1]
		c.n.Store(0)
	} else {
		c = &chunk{ev: make([]Event, r.chunkLen)}
	}
	var old []*chunk
	if p := r.list.Load(); p != nil {
		old = *p
	}
	drop := max(0, len(old)+1-r.maxChunks)
	if r.retention > 0 {
		for drop < len(old) {
			o := old[drop]
			if n := o.n.Load(); n > 0 && o.ev[n-1].Time >= now-r.retention {
				break
			}
			drop++
		}
	}
	nl := make([]*chunk, 0, len(old)-drop+1)
	nl = append(nl, old[drop:]...)
	nl = append(nl, c)
	r.list.Store(&nl)
	r.retired = append(r.retired, old[:drop]...)
	r.cur, r.curN = c, 0
}

// each calls fn for the ring's newest events, at most its bound, oldest
// first, skipping those before since (epoch µs). Safe for concurrent use.
func (r *Ring) each(since int64, fn func(e *Event)) {
	r.readers.Add(1) // before loading list: see grow
	defer r.readers.Add(-1)
	p := r.list.Load()
	if p == nil {
		return
	}
	chunks := *p
	ns := make([]int32, len(chunks))
	total := 0
	for i, c := range chunks {
		ns[i] = c.n.Load()
		total += int(ns[i])
	}
	skip := max(0, total-r.max)
	for i, c := range chunks {
		n := int(ns[i])
		if skip >= n {
			skip -= n
			continue
		}
		for j := skip; j < n; j++ {
			if e := &c.ev[j]; e.Time >= since {
				fn(e)
			}
		}
		skip = 0
	}
}

// Len returns how many events the ring shows now. Safe for concurrent use.
func (r *Ring) Len() int {
	p := r.list.Load()
	if p == nil {
		return 0
	}
	total := 0
	for _, c := range *p {
		total += int(c.n.Load())
	}
	return min(total, r.max)
}
