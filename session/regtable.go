package session

import "sync/atomic"

// regTable is one registry shard's open-addressing hash table: a power of
// two of slots, probed linearly from the client ID's hash. A slot holds nil
// (never used since the table was built), a session, or the table's
// tombstone (a session was there and was deleted). Readers probe without a
// lock: they load slots atomically, stop at nil and skip tombstones, so a
// concurrent insert or delete is either seen or not, never half seen.
// Writers hold the shard's lock and never move a session within a table;
// growing, shrinking and clearing tombstones build a new table, copy the
// sessions and publish it in one atomic store, after which the old table
// is not written again.
//
// A session costs its 8-byte slot divided by the load factor, which stays
// above 1/8 and at most 3/4 (1/4 to 1/2 right after a rebuild): 11 to 64
// bytes, 16 to 32 after a rebuild, against about 117 for a sync.Map
// entry (its trie node, entry and the client ID boxed as the key).
type regTable[C any] struct {
	slots []atomic.Pointer[Session[C]] // len is a power of two
	tomb  *Session[C]                  // marks a deleted slot; never registered
	live  int                          // sessions in slots; written under the shard's lock
	used  int                          // slots not nil (sessions and tombstones); under the shard's lock
}

const regTableMin = 8 // smallest table: a shard with few sessions stays small

// newRegTable returns an empty table of n slots (a power of two) that
// marks deletions with tomb.
func newRegTable[C any](n int, tomb *Session[C]) *regTable[C] {
	return &regTable[C]{slots: make([]atomic.Pointer[Session[C]], n), tomb: tomb}
}

// lookup returns the session of clientID, whose hash is h, or nil. Safe for
// concurrent use with one writer.
func (t *regTable[C]) lookup(clientID string, h uint64) *Session[C] {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask { // a table always has a nil slot: used <= 3/4 of it
		s := t.slots[i].Load()
		if s == nil {
			return nil
		}
		if s != t.tomb && s.ClientID == clientID {
			return s
		}
	}
}

// insertLocked stores s, whose client ID hashes to h and is not in t, in
// the first tombstone or nil slot of its probe sequence. The caller has
// made sure that one more used slot keeps t within its load factor.
func (t *regTable[C]) insertLocked(s *Session[C], h uint64) {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		p := t.slots[i].Load()
		if p == nil || p == t.tomb {
			if p == nil {
				t.used++
			}
			t.live++
			t.slots[i].Store(s)
			return
		}
	}
}

// deleteLocked replaces s, whose client ID hashes to h, with a tombstone.
// It reports whether s was in t.
func (t *regTable[C]) deleteLocked(s *Session[C], h uint64) bool {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		p := t.slots[i].Load()
		if p == nil {
			return false
		}
		if p == s {
			t.slots[i].Store(t.tomb)
			t.live--
			return true
		}
	}
}

// full reports whether t must be rebuilt before one more slot is used.
func (t *regTable[C]) full() bool { return (t.used+1)*4 > len(t.slots)*3 }

// sparse reports whether t is large and at most 1/8 full of sessions, so
// that a storm of connections leaves no large table behind.
func (t *regTable[C]) sparse() bool { return len(t.slots) > regTableMin && t.live*8 <= len(t.slots) }

// rebuilt returns a new table with t's sessions and no tombstones, of the
// smallest size at least regTableMin that they and extra more fill at most
// half of. hash gives a client ID's hash.
func (t *regTable[C]) rebuilt(extra int, hash func(string) uint64) *regTable[C] {
	n := regTableMin
	for n < 2*(t.live+extra) {
		n *= 2
	}
	nt := newRegTable(n, t.tomb)
	for i := range t.slots {
		if s := t.slots[i].Load(); s != nil && s != t.tomb {
			nt.insertLocked(s, hash(s.ClientID))
		}
	}
	return nt
}
