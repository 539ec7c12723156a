package session

import (
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

const shardCount = 64

// shard is one lock and one hash table of a Registry. The table is
// replaced, never resized in place, so readers load it once and probe it
// without the lock.
type shard[C any] struct {
	mu  sync.Mutex                  // serializes writers; readers never take it
	tab atomic.Pointer[regTable[C]] // nil until the shard's first session
	_   [48]byte                    // one shard per cache line
}

// Registry maps client IDs to sessions, sharded by xxhash of the client ID:
// the low bits choose one of 64 shards, the rest the slot in the shard's
// open-addressing table (regtable.go). Lookup never blocks: it loads the
// shard's table and probes it with atomic loads. Open and the deletions
// that end a session take the shard's lock, held for one probe (and, as a
// table grows or shrinks, one copy of it).
//
// Sessions are created with Open and leave only through a Session method
// that ends them (Abandon, Detach, Expire), under the session's lock. A
// client ID held by a connection on another loop is taken over
// [MQTT-3.1.4-2] without replacing the Session: the new connection claims
// it (Session.Claim), has the old connection closed on its own loop, and
// then attaches (Session.Attach), so the registry entry never changes hands
// during a takeover.
//
// Set the exported fields before the first Open or Restore; they are read
// without synchronisation afterwards.
type Registry[C any] struct {
	Limits Limits
	Store  Store         // nil: nothing is persisted
	Queued *atomic.Int64 // gauge of messages queued in all sessions; may be nil

	shards [shardCount]shard[C]
	n      atomic.Int64
	seq    atomic.Uint64
}

// hash returns the hash of a client ID: its low 6 bits pick the shard, the
// rest the slot.
func hash(clientID string) uint64 { return xxhash.Sum64String(clientID) }

func (r *Registry[C]) shard(h uint64) *shard[C] { return &r.shards[h%shardCount] }

// Lookup returns the session of clientID, or nil. Safe for concurrent use.
func (r *Registry[C]) Lookup(clientID string) *Session[C] {
	h := hash(clientID)
	if t := r.shard(h).tab.Load(); t != nil {
		return t.lookup(clientID, h/shardCount)
	}
	return nil
}

// Open returns the session of clientID, creating an empty one created at
// now (epoch ms) when there is none; created reports which. Safe for
// concurrent use.
func (r *Registry[C]) Open(clientID string, now int64) (s *Session[C], created bool) {
	if s = r.Lookup(clientID); s != nil {
		return s, false
	}
	s = newSession(r, clientID, now)
	if old := r.add(s); old != nil {
		return old, false
	}
	return s, true
}

// Restore registers an offline persistent session loaded from the Store.
// A session that was connected when the broker stopped gets now as its
// disconnect time. It reports false (and registers nothing) when the
// client ID is already registered. Call it before connections arrive.
func (r *Registry[C]) Restore(rs *Restored, now int64) (*Session[C], bool) {
	if r.Lookup(rs.Record.ClientID) != nil {
		return nil, false
	}
	s := newSession(r, rs.Record.ClientID, rs.Record.CreateTime)
	s.restore(rs, now)
	if r.add(s) != nil {
		s.End()
		return nil, false
	}
	return s, true
}

// add registers s unless its client ID already has a session, which it
// returns instead.
func (r *Registry[C]) add(s *Session[C]) (existing *Session[C]) {
	h := hash(s.ClientID)
	sh := r.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.tab.Load()
	if t == nil {
		t = newRegTable(regTableMin, new(Session[C]))
		sh.tab.Store(t)
	}
	if old := t.lookup(s.ClientID, h/shardCount); old != nil {
		return old
	}
	if t.full() {
		t = t.rebuilt(1, slotHash)
		sh.tab.Store(t)
	}
	t.insertLocked(s, h/shardCount)
	r.n.Add(1)
	return nil
}

// slotHash is the part of a client ID's hash that picks its slot.
func slotHash(clientID string) uint64 { return hash(clientID) / shardCount }

// delete removes s if it is still the session stored for its client ID.
func (r *Registry[C]) delete(s *Session[C]) bool {
	h := hash(s.ClientID)
	sh := r.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.tab.Load()
	if t == nil || !t.deleteLocked(s, h/shardCount) {
		return false
	}
	if t.sparse() {
		sh.tab.Store(t.rebuilt(0, slotHash))
	}
	r.n.Add(-1)
	return true
}

func (r *Registry[C]) addQueued(n int) {
	if r.Queued != nil && n != 0 {
		r.Queued.Add(int64(n))
	}
}

// newSeq returns a new unique sequence number for a session.
func (r *Registry[C]) newSeq() uint64 { return r.seq.Add(1) }

// Len returns the number of sessions. Safe for concurrent use.
func (r *Registry[C]) Len() int { return int(r.n.Load()) }

// Range calls fn for every session until fn returns false. Order is
// unspecified; sessions added or removed meanwhile may or may not be seen.
// Safe for concurrent use.
func (r *Registry[C]) Range(fn func(*Session[C]) bool) {
	for i := range r.shards {
		t := r.shards[i].tab.Load()
		if t == nil {
			continue
		}
		for j := range t.slots {
			if s := t.slots[j].Load(); s != nil && s != t.tomb && !fn(s) {
				return
			}
		}
	}
}
