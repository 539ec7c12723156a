package session

import (
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

const shardCount = 64

type shard struct {
	m sync.Map // client ID -> *Session
	_ [64]byte
}

// Registry maps client IDs to sessions, sharded by xxhash of the client ID.
// Lookup never blocks (sync.Map reads are lock-free once a key is stable).
//
// Store and Delete run only at CONNECT and at session end. A client ID held
// by a connection on another loop is taken over [MQTT-3.1.4-2] without
// replacing the Session: the broker claims it under Session.Lock, has the old
// connection closed on its own loop, and then attaches the new one, so the
// registry entry never changes hands during a takeover.
type Registry struct {
	shards [shardCount]shard
	n      atomic.Int64
	seq    atomic.Uint64
}

func (r *Registry) shard(id string) *shard {
	return &r.shards[xxhash.Sum64String(id)%shardCount]
}

// Lookup returns the session of clientID, or nil. Safe for concurrent use.
func (r *Registry) Lookup(clientID string) *Session {
	if v, ok := r.shard(clientID).m.Load(clientID); ok {
		return v.(*Session)
	}
	return nil
}

// LoadOrStore returns the session stored for s.ClientID if there is one
// (loaded true), or stores s. Safe for concurrent use.
func (r *Registry) LoadOrStore(s *Session) (actual *Session, loaded bool) {
	v, loaded := r.shard(s.ClientID).m.LoadOrStore(s.ClientID, s)
	if !loaded {
		r.n.Add(1)
	}
	return v.(*Session), loaded
}

// Delete removes s if it is still the session stored for its client ID.
// Safe for concurrent use.
func (r *Registry) Delete(s *Session) bool {
	if r.shard(s.ClientID).m.CompareAndDelete(s.ClientID, s) {
		r.n.Add(-1)
		return true
	}
	return false
}

// NextSeq returns a new unique sequence number for New. Safe for concurrent use.
func (r *Registry) NextSeq() uint64 { return r.seq.Add(1) }

// Len returns the number of sessions. Safe for concurrent use.
func (r *Registry) Len() int { return int(r.n.Load()) }

// Range calls fn for every session until fn returns false. Order is
// unspecified; sessions added or removed meanwhile may or may not be seen.
// Safe for concurrent use.
func (r *Registry) Range(fn func(*Session) bool) {
	for i := range r.shards {
		cont := true
		r.shards[i].m.Range(func(_, v any) bool {
			cont = fn(v.(*Session))
			return cont
		})
		if !cont {
			return
		}
	}
}
