package cluster

import (
	"testing"
	"time"
)

// TestClaimWaitsForOlderClaim: a claim that finds this node the client's
// previous owner waits until this node's older claims of the client have
// registered the session they fetch (Fetched) or ended (Settle) before it
// looks for the session here, and does not wait for itself or for newer
// claims. Without the wait, a CONNECT closed while its claim was still
// rebuilding a dead node's session (the node fenced itself), followed by
// the client's next CONNECT, rebuilt the session twice and replayed the
// dead node's records to it twice (TestClusterOutageTakeover).
func TestClaimWaitsForOlderClaim(t *testing.T) {
	o := &Owners{cfg: OwnersConfig{Node: "c"}, clients: map[string]*claimState{}}
	claim := func(epoch uint64) *flow {
		f := &flow{epoch: epoch, known: make(chan struct{}), fetched: make(chan struct{})}
		close(f.known)
		return f
	}
	older, mine, newer := claim(5), claim(7), claim(9)
	failed := &flow{known: make(chan struct{}), fetched: make(chan struct{})} // its compare-and-set failed: epoch 0
	close(failed.known)
	o.clients["outage sub"] = &claimState{epoch: 9, fence: 9, pending: []*flow{failed, older, mine, newer}}

	waited := func(d time.Duration) chan bool {
		ch := make(chan bool, 1)
		go func() { ch <- o.waitOlder("outage sub", 7, d) }()
		return ch
	}
	done := waited(time.Minute)
	select {
	case <-done:
		t.Fatal("the claim went on while an older claim of this node was still fetching the session")
	case <-time.After(200 * time.Millisecond):
	}
	o.Fetched("outage sub", 5)
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("waitOlder reported its deadline passed; the older claim had fetched")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the claim still waits after the older claim fetched the session")
	}

	// An older claim that never fetches: the wait ends at its bound.
	stuck := claim(3)
	o.mu.Lock()
	o.clients["outage sub"].pending = append(o.clients["outage sub"].pending, stuck)
	o.mu.Unlock()
	start := time.Now()
	if ok := <-waited(300 * time.Millisecond); ok || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("waitOlder = %v after %v, want false after its 300ms bound", ok, time.Since(start))
	}
	// Settled (its connection gave up first) counts as done.
	o.Settle("outage sub", 3)
	if ok := <-waited(time.Minute); !ok {
		t.Fatal("waitOlder still waits for a claim that settled")
	}
}
