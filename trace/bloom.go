package trace

import (
	"hash/maphash"
	"math"
)

// Client lookups. A query for one client's events (the native client
// answer, the cloud's device traces) would otherwise read every event
// kept. Each sealed chunk (one the writer filled and will not write again
// until it reuses it) gets a Bloom filter of its events' client IDs: per
// 64-event segment a 512-bit set with two bits per ID, both taken from one
// 64-bit hash. The first query that reaches a sealed chunk builds its
// filter and publishes it on the chunk; later queries read only the
// segments whose set may hold the client. The writer only clears the
// filter when it reuses the chunk, so recording costs what it did. A set
// never forgets an ID it holds, so no event is missed; with 64 distinct
// IDs in a segment about one segment in 20 is read for nothing.

const (
	segLen  = 64  // events per segment of a chunk's client filter
	segBits = 512 // bits per segment's set; a power of 2
)

// bloom is the client filter of up to maxChunkLen events, a set per
// segment that may answer "present" for an absent ID but never "absent"
// for a present one. Immutable once published.
type bloom [maxChunkLen / segLen][segBits / 64]uint64

// idSeed keys the client ID hash; per process, so IDs chosen to collide
// in one run do not collide in the next.
var idSeed = maphash.MakeSeed()

// idKey is a client ID's two bit positions in a segment's set.
type idKey struct{ a, b uint32 }

// keyOf returns id's bit positions.
func keyOf(id string) idKey {
	h := maphash.String(idSeed, id)
	return idKey{uint32(h) & (segBits - 1), uint32(h>>32) & (segBits - 1)}
}

// has reports whether an ID of key k may be among the events of segment s.
func (b *bloom) has(s int, k idKey) bool {
	set := &b[s]
	return set[k.a/64]&(1<<(k.a%64)) != 0 && set[k.b/64]&(1<<(k.b%64)) != 0
}

// newBloom returns the filter of the client IDs of ev.
func newBloom(ev []Event) *bloom {
	b := new(bloom)
	b.addIDs(ev)
	return b
}

// addIDs adds the client IDs of ev, at most maxChunkLen events, to b.
// Every ID is hashed: comparing one with the one before to skip a run
// costs about as much as hashing it when they differ.
func (b *bloom) addIDs(ev []Event) {
	for i := range ev {
		k := keyOf(ev[i].ClientID)
		set := &b[i/segLen]
		set[k.a/64] |= 1 << (k.a % 64)
		set[k.b/64] |= 1 << (k.b % 64)
	}
}

// clientFilter returns c's filter, building and publishing it if no query
// did yet. c must be sealed (all chunkLen events published) and held by
// the caller as a counted reader (see Ring.grow), so the writer neither
// writes its events nor clears its filter meanwhile. Two queries may
// build it at once; both get the same answer.
func (c *chunk) clientFilter() *bloom {
	if b := c.filter.Load(); b != nil {
		return b
	}
	b := newBloom(c.ev)
	c.filter.CompareAndSwap(nil, b)
	return b
}

// matcher is a Filter prepared for scanning: the checks of every event
// are inline comparisons, with the client ID's filter key hashed once.
type matcher struct {
	since, end int64 // epoch µs, inclusive; end is MaxInt64 without a bound
	kinds      uint32
	msgID      uint64
	client     string
	key        idKey // keyOf(client) when client is set
}

func newMatcher(f Filter, since int64) matcher {
	m := matcher{since: since, end: f.End, kinds: f.Kinds, msgID: f.MsgID, client: f.ClientID}
	if m.end == 0 {
		m.end = math.MaxInt64
	}
	if m.client != "" {
		m.key = keyOf(m.client)
	}
	return m
}

// scanFiltered is scan for ev[from:], the events of one chunk or block
// of past events whose client filter is b, reading only the segments
// whose set may hold m's client.
func (m *matcher) scanFiltered(b *bloom, ev []Event, from int, out []Event) []Event {
	for s := from / segLen * segLen; s < len(ev); s += segLen {
		if b.has(s/segLen, m.key) {
			out = m.scan(ev[max(s, from):min(s+segLen, len(ev))], out)
		}
	}
	return out
}

// scan appends to out copies of the events of ev that m selects.
func (m *matcher) scan(ev []Event, out []Event) []Event {
	for i := range ev {
		e := &ev[i]
		if e.Time < m.since || e.Time > m.end ||
			m.kinds != 0 && m.kinds&(1<<e.Kind) == 0 ||
			m.msgID != 0 && e.MsgID != m.msgID ||
			m.client != "" && e.ClientID != m.client {
			continue
		}
		out = append(out, *e)
	}
	return out
}
