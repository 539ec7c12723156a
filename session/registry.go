package session

import (
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

const shardCount = 64

type shard struct {
	m sync.Map // client ID -> *Session[C]
	_ [64]byte
}

// Registry maps client IDs to sessions, sharded by xxhash of the client ID.
// Lookup never blocks (sync.Map reads are lock-free once a key is stable).
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

	shards [shardCount]shard
	n      atomic.Int64
	seq    atomic.Uint64
}

func (r *Registry[C]) shard(id string) *shard {
	return &r.shards[xxhash.Sum64String(id)%shardCount]
}

// Lookup returns the session of clientID, or nil. Safe for concurrent use.
func (r *Registry[C]) Lookup(clientID string) *Session[C] {
	if v, ok := r.shard(clientID).m.Load(clientID); ok {
		return v.(*Session[C])
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
	v, loaded := r.shard(clientID).m.LoadOrStore(clientID, s)
	if !loaded {
		r.n.Add(1)
	}
	return v.(*Session[C]), !loaded
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
	if _, loaded := r.shard(s.ClientID).m.LoadOrStore(s.ClientID, s); loaded {
		s.End()
		return nil, false
	}
	r.n.Add(1)
	return s, true
}

// delete removes s if it is still the session stored for its client ID.
func (r *Registry[C]) delete(s *Session[C]) bool {
	if r.shard(s.ClientID).m.CompareAndDelete(s.ClientID, s) {
		r.n.Add(-1)
		return true
	}
	return false
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
		cont := true
		r.shards[i].m.Range(func(_, v any) bool {
			cont = fn(v.(*Session[C]))
			return cont
		})
		if !cont {
			return
		}
	}
}
