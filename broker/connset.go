package broker

import "sync"

// connSet is the set of open connections, for the ticker and shutdown.
// Each shard is a slice of connections, and each connection knows its
// position (Conn.setIdx), so removal swaps the last one into its place: 8
// bytes a connection, against about 32 for an entry in a map keyed by
// *Conn and more for a sync.Map entry. Shards keep CONNECT and close on
// different loops from contending on one lock.
type connSet struct {
	shards [16]struct {
		mu sync.Mutex
		s  []*Conn
		_  [32]byte // one shard per cache line
	}
}

func (s *connSet) shard(c *Conn) int { return int(uint64(c.openedAt) % uint64(len(s.shards))) } // openedAt: immutable, nanoseconds

// add inserts c, which must not be in the set. Safe for concurrent use.
func (s *connSet) add(c *Conn) {
	sh := &s.shards[s.shard(c)]
	sh.mu.Lock()
	c.setIdx = int32(len(sh.s))
	sh.s = append(sh.s, c)
	sh.mu.Unlock()
}

// remove deletes c; removing a connection not in the set does nothing. A
// shard that has shrunk to a quarter of its capacity is copied into a
// smaller slice, so a storm of connections leaves no large slice behind.
// Safe for concurrent use.
func (s *connSet) remove(c *Conn) {
	sh := &s.shards[s.shard(c)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := int(c.setIdx)
	if i < 0 || i >= len(sh.s) || sh.s[i] != c {
		return
	}
	last := len(sh.s) - 1
	sh.s[i] = sh.s[last]
	sh.s[i].setIdx = int32(i)
	sh.s[last] = nil
	sh.s = sh.s[:last]
	c.setIdx = -1
	if cap(sh.s) > 64 && len(sh.s) < cap(sh.s)/4 {
		sh.s = append(make([]*Conn, 0, cap(sh.s)/2), sh.s...)
	}
}

// len returns the number of connections in the set. Safe for concurrent
// use.
func (s *connSet) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.s)
		sh.mu.Unlock()
	}
	return n
}

// each calls fn for every connection, holding one shard's lock at a time:
// fn must not add or remove. Safe for concurrent use.
func (s *connSet) each(fn func(c *Conn)) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, c := range sh.s {
			fn(c)
		}
		sh.mu.Unlock()
	}
}
