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
	// filter holds the client IDs of a sealed chunk's events, nil until a
	// query builds it (bloom.go); the owner clears it when it reuses the
	// chunk.
	filter atomic.Pointer[bloom]
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
	cur   *chunk
	curN  int32
	seq   atomic.Uint64 // message IDs issued; written by the owner alone (Load and Store, no read-modify-write), read by Tracer.Issued
	limbo []*chunk      // dropped from the list; reused once no reader may still hold them
	free  []*chunk      // dropped and no longer readable: reused by grow
	spare []*chunk      // backing array of the list before the published one, likewise

	list    atomic.Pointer[[]*chunk] // published chunks, oldest first; copy-on-write by the owner
	readers atomic.Int32             // readers walking a list now (each, Len)
}

// maxFree bounds the chunks kept for reuse beyond those in the list.
const maxFree = 8

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
	s := r.seq.Load() + 1
	r.seq.Store(s)
	return r.idx<<48 | s&(1<<48-1)
}

// grow starts a new chunk, dropping the oldest ones past the bound and
// those whose newest event is older than the retention at now (epoch
// µs). Loop-only (the ring's owner).
//
// Chunks dropped from the list, and the list's old backing array, are
// reused rather than left to the garbage collector (at a million traced
// messages a second they were half of all allocation), but only once no
// reader is walking a list: a reader counts itself in readers before it
// loads the list, so when readers is 0 after a list was replaced, nobody
// holds what that list alone referred to.
func (r *Ring) grow(now int64) {
	if r.readers.Load() == 0 {
		for _, c := range r.limbo {
			if len(r.free) < maxFree {
				r.free = append(r.free, c)
			}
		}
		clear(r.limbo)
		r.limbo = r.limbo[:0]
	} else {
		r.spare = nil // a reader may hold it
	}
	if r.cur != nil {
		r.cur.n.Store(r.curN) // the full chunk, whole, before the list moves on
	}
	var c *chunk
	if n := len(r.free); n > 0 {
		c, r.free[n-1] = r.free[n-1], nil
		r.free = r.free[:n-1]
		c.n.Store(0)
		c.filter.Store(nil) // no reader holds c (see above); its IDs are gone
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
	nl := r.spare[:0]
	if cap(nl) < len(old)-drop+1 {
		nl = make([]*chunk, 0, r.maxChunks+1)
	}
	nl = append(nl, old[drop:]...)
	nl = append(nl, c)
	r.list.Store(&nl)
	for _, d := range old[:drop] {
		if len(r.limbo) < maxFree { // the rest are left to the garbage collector
			r.limbo = append(r.limbo, d)
		}
	}
	r.spare = old
	r.cur, r.curN = c, 0
}

// find appends to out copies of the events m selects among the ring's
// newest, at most its bound, oldest first. With a client to look for it
// reads only the open chunk and the sealed ones whose client filter may
// hold the client, and of those only the segments that may (bloom.go).
// Safe for concurrent use.
func (r *Ring) find(m *matcher, out []Event) []Event {
	r.readers.Add(1) // before loading the list: see grow
	defer r.readers.Add(-1)
	p := r.list.Load()
	if p == nil {
		return out
	}
	chunks := *p
	var buf [512]int32
	ns := buf[:0]
	if len(chunks) > len(buf) {
		ns = make([]int32, 0, len(chunks))
	}
	total := 0
	for _, c := range chunks {
		n := c.n.Load()
		ns = append(ns, n)
		total += int(n)
	}
	skip := max(0, total-r.max)
	for i, c := range chunks {
		n := int(ns[i])
		if skip >= n {
			skip -= n
			continue
		}
		// A full chunk is sealed: its owner writes it again only after
		// reusing it, which waits for readers like this one to leave.
		if n == r.chunkLen && m.client != "" {
			out = m.scanFiltered(c.clientFilter(), c.ev[:n], skip, out)
		} else {
			out = m.scan(c.ev[skip:n], out)
		}
		skip = 0
	}
	return out
}

// Len returns how many events the ring shows now. Safe for concurrent use.
func (r *Ring) Len() int {
	r.readers.Add(1)
	defer r.readers.Add(-1)
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
