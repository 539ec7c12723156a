package cluster

import (
	"testing"
	"time"
)

// TestBlindLeaseWatch: while the lease watch delivers this node's own
// renewals on time, other nodes' last renewals stand, so a node that
// stopped renewing runs out its lease; once the watch has been blind (its
// own renewal missing for more than a quarter lease), every other node
// counts as seen when it sees again, so no lease runs out for silence
// this node could not observe.
func TestBlindLeaseWatch(t *testing.T) {
	const lease = 8 * time.Second
	o := &Owners{cfg: OwnersConfig{Node: "b", Lease: lease}}
	o.lease.seen = map[string]int64{}
	at := func(d time.Duration) int64 { return int64(d) }
	see := func(node string, d time.Duration) {
		o.lease.mu.Lock()
		o.lease.seen[node] = at(d)
		if node == "b" {
			o.sawSelfLocked(at(d))
		}
		o.lease.mu.Unlock()
	}
	see("a", 0)
	see("c", 0)
	for s := time.Duration(0); s <= 9*time.Second; s += time.Second { // b renews every second, a and c fall silent
		see("b", s)
	}
	if got := o.lease.seen["a"]; got != at(0) {
		t.Fatalf("a seen at %v after b's watch ran on time, want 0: a's silence counts", time.Duration(got))
	}
	see("b", 12*time.Second) // 3 s without b's own renewal: the watch was blind
	for _, n := range []string{"a", "c"} {
		if got := o.lease.seen[n]; got != at(12*time.Second) {
			t.Errorf("%s seen at %v after a blind watch, want 12s", n, time.Duration(got))
		}
	}
	if o.lease.blind.Load() != 1 {
		t.Errorf("blind count %d, want 1", o.lease.blind.Load())
	}
	see("b", 13*time.Second) // on time again: nothing moves
	if got := o.lease.seen["a"]; got != at(12*time.Second) {
		t.Errorf("a seen at %v after an on-time renewal, want 12s", time.Duration(got))
	}
}
