package broker

import (
	"math/rand/v2"
	"testing"
)

// TestConnSet: after adds and removes in random order, each visits exactly
// the connections added and not removed, once each, and a removed or
// never-added connection's removal changes nothing.
func TestConnSet(t *testing.T) {
	var s connSet
	conns := make([]*Conn, 3000)
	for i := range conns {
		conns[i] = &Conn{openedAt: int64(i) * 7919}
		s.add(conns[i])
	}
	in := map[*Conn]bool{}
	for _, c := range conns {
		in[c] = true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, i := range rng.Perm(len(conns))[:2500] {
		s.remove(conns[i])
		s.remove(conns[i]) // twice: no effect
		delete(in, conns[i])
	}
	s.remove(&Conn{openedAt: 3, setIdx: 0}) // never added
	seen := map[*Conn]int{}
	s.each(func(c *Conn) { seen[c]++ })
	if len(seen) != len(in) || s.len() != len(in) {
		t.Fatalf("each saw %d connections, len %d; want %d", len(seen), s.len(), len(in))
	}
	for c, n := range seen {
		if n != 1 || !in[c] {
			t.Fatalf("connection %p seen %d times, in set %v; want once, true", c, n, in[c])
		}
	}
	for c := range in {
		s.remove(c)
	}
	if n := s.len(); n != 0 {
		t.Fatalf("%d connections left after removing all, want 0", n)
	}
	for i := range s.shards {
		if c := cap(s.shards[i].s); c > 64 {
			t.Fatalf("shard %d keeps capacity %d after emptying, want at most 64", i, c)
		}
	}
}
