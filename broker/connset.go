package broker

import "sync"

// connSet is the set of open connections, for the ticker and shutdown.
// Sharded maps cost less memory per connection than a sync.Map entry and
// keep CONNECT and close from contending on one lock.
type connSet struct {
	shards [16]struct {
		mu sync.Mutex
		m  map[*Conn]struct{}
	}
}

func (s *connSet) shard(c *Conn) int { return int(uint64(c.openedAt) % uint64(len(s.shards))) } // openedAt: immutable, nanoseconds

// add inserts c. Safe for concurrent use.
func (s *connSet) add(c *Conn) {
	sh := &s.shards[s.shard(c)]
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[*Conn]struct{})
	}
	sh.m[c] = struct{}{}
	sh.mu.Unlock()
}

// remove deletes c. Safe for concurrent use.
func (s *connSet) remove(c *Conn) {
	sh := &s.shards[s.shard(c)]
	sh.mu.Lock()
	delete(sh.m, c)
	sh.mu.Unlock()
}

// each calls fn for every connection, holding one shard's lock at a time:
// fn must not add or remove. Safe for concurrent use.
func (s *connSet) each(fn func(c *Conn)) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for c := range sh.m {
			fn(c)
		}
		sh.mu.Unlock()
	}
}
