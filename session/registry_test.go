package session

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// tableSlots returns the slots of every shard's table, 0 for a shard that
// never had a session.
func tableSlots(r *Registry[conn]) int {
	n := 0
	for i := range r.shards {
		if t := r.shards[i].tab.Load(); t != nil {
			n += len(t.slots)
		}
	}
	return n
}

// TestRegistryGrowShrink fills a registry, ends every other session and
// then all of them: each step finds exactly the sessions registered, Open
// returns the existing session for a registered ID, and the tables shrink
// back once the sessions are gone.
func TestRegistryGrowShrink(t *testing.T) {
	r := newReg(10, 10, nil)
	const n = 20000
	ss := make([]*Session[conn], n)
	for i := range ss {
		var created bool
		if ss[i], created = r.Open("c"+strconv.Itoa(i), 1); !created {
			t.Fatalf("Open c%d: created false for a new client ID", i)
		}
	}
	if s, created := r.Open("c7", 2); created || s != ss[7] {
		t.Fatalf("Open c7 again: %p created %v, want %p false", s, created, ss[7])
	}
	if r.Len() != n {
		t.Fatalf("Len %d, want %d", r.Len(), n)
	}
	if slots := tableSlots(r); slots < n*4/3 || slots > n*4 {
		t.Fatalf("%d slots for %d sessions, want between 4/3 and 4 per session", slots, n)
	}
	for i := 0; i < n; i += 2 {
		if !ss[i].EndIfIdle() {
			t.Fatalf("EndIfIdle c%d: false for an idle registered session", i)
		}
	}
	for i, s := range ss {
		got := r.Lookup("c" + strconv.Itoa(i))
		if want := map[bool]*Session[conn]{true: nil, false: s}[i%2 == 0]; got != want {
			t.Fatalf("Lookup c%d after ending the even ones: %p, want %p", i, got, want)
		}
	}
	seen := 0
	r.Range(func(s *Session[conn]) bool {
		if r.Lookup(s.ClientID) != s {
			t.Fatalf("Range gave %q, which Lookup does not return", s.ClientID)
		}
		seen++
		return true
	})
	if seen != n/2 || r.Len() != n/2 {
		t.Fatalf("Range saw %d, Len %d; want %d", seen, r.Len(), n/2)
	}
	for i := 1; i < n; i += 2 {
		ss[i].EndIfIdle()
	}
	if r.Len() != 0 || r.Lookup("c1") != nil {
		t.Fatalf("after ending all: Len %d, Lookup c1 %p", r.Len(), r.Lookup("c1"))
	}
	if slots := tableSlots(r); slots > shardCount*regTableMin {
		t.Fatalf("%d slots left with no sessions, want at most %d", slots, shardCount*regTableMin)
	}
	if s, created := r.Open("c1", 3); !created || r.Lookup("c1") != s {
		t.Fatalf("Open c1 after its session ended: created %v, Lookup %p, want true %p", created, r.Lookup("c1"), s)
	}
}

// TestRegistryLookupDuringChurn: while other client IDs are opened and
// ended on every shard (growing, shrinking and rebuilding the tables),
// Lookup always finds the sessions that stay registered and never returns
// one for an ID that has none. Run with -race.
func TestRegistryLookupDuringChurn(t *testing.T) {
	r := newReg(10, 10, nil)
	stay := make([]*Session[conn], 256)
	for i := range stay {
		stay[i], _ = r.Open("stay-"+strconv.Itoa(i), 1)
	}
	var stop atomic.Bool
	var writers, readers sync.WaitGroup
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for range 30 {
				batch := make([]*Session[conn], 0, 2000)
				for i := range 2000 {
					s, _ := r.Open("churn-"+strconv.Itoa(w)+"-"+strconv.Itoa(i), 1)
					batch = append(batch, s)
				}
				for _, s := range batch {
					s.EndIfIdle()
				}
			}
		}()
	}
	var bad, lookups atomic.Int64
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for !stop.Load() {
				for i, s := range stay {
					if r.Lookup("stay-"+strconv.Itoa(i)) != s || r.Lookup("never-"+strconv.Itoa(i)) != nil {
						bad.Add(1)
					}
				}
				lookups.Add(int64(2 * len(stay)))
			}
		}()
	}
	writers.Wait()
	stop.Store(true)
	readers.Wait()
	if k := bad.Load(); k != 0 {
		t.Fatalf("%d of %d lookups gave a wrong answer during churn", k, lookups.Load())
	}
	if r.Len() != len(stay) {
		t.Fatalf("Len %d after churn, want %d", r.Len(), len(stay))
	}
}

// TestInfoWillTopic: the will topic an operator reads is the topic of the
// connection's will (kept once, in the will message), and "" for a
// connection without one, also when Info fills a reused value.
func TestInfoWillTopic(t *testing.T) {
	r := newReg(10, 10, nil)
	s, _ := r.Open("w", 1)
	c := &conn{name: "w"}
	if _, ok := s.Claim(c, "by test", 1); !ok {
		t.Fatal("claim refused")
	}
	will := NewMessage([]byte("wills/w"), []byte("gone"), 1, false)
	if _, ok := s.Attach(c, &ConnMeta{Address: "a", CleanSession: true, Will: will}, 1); !ok {
		t.Fatal("attach refused")
	}
	var info Info
	s.Info(&info)
	if info.WillTopic != "wills/w" {
		t.Fatalf("WillTopic %q with a will on wills/w, want %q", info.WillTopic, "wills/w")
	}
	s2, _ := r.Open("nw", 1)
	c2 := &conn{name: "nw"}
	s2.Claim(c2, "by test", 1)
	s2.Attach(c2, &ConnMeta{Address: "b", CleanSession: true}, 1)
	s2.Info(&info)
	if info.WillTopic != "" {
		t.Fatalf("WillTopic %q without a will, want empty", info.WillTopic)
	}
}
