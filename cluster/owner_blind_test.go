package cluster

import (
	"testing"
	"time"
)

// TestBlindLeaseWatch: while the lease watch delivers this node's own
// renewals on time, other nodes' last renewals stand, so a node that
// stopped renewing runs out its lease; once the watch has been blind (its
// own renewal missing for more than a quarter lease), the blind spell does
// not count against anyone: every other node's last sighting moves on by
// the spell's length. A node that renewed until the spell counts as seen
// when the watch sees again; a node that was already silent while the
// watch worked keeps that silence, however many spells follow, so a dead
// node is still found dead (and its sessions adopted). The time a replay
// for a dead node's sessions starts from is the stored time of its last
// renewal, which no spell moves.
func TestBlindLeaseWatch(t *testing.T) {
	const lease = 8 * time.Second
	o := &Owners{cfg: OwnersConfig{Node: "b", Lease: lease}}
	o.lease.seen, o.lease.stored = map[string]int64{}, map[string]time.Time{}
	wall := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	at := func(d time.Duration) int64 { return int64(d) }
	see := func(node string, d time.Duration) {
		o.lease.mu.Lock()
		o.lease.seen[node] = at(d)
		o.lease.stored[node] = wall.Add(d)
		if node == "b" {
			o.sawSelfLocked(at(d))
		}
		o.lease.mu.Unlock()
	}
	seen := func(node string) time.Duration {
		o.lease.mu.Lock()
		defer o.lease.mu.Unlock()
		return time.Duration(o.lease.seen[node])
	}
	// a renews once, then dies; b and c renew every second.
	see("a", 0)
	for s := time.Duration(0); s <= 9*time.Second; s += time.Second {
		see("b", s)
		see("c", s)
	}
	if got := seen("a"); got != 0 {
		t.Fatalf("a seen at %v after b's watch ran on time, want 0: a's silence counts", got)
	}
	see("b", 12*time.Second) // 3 s without b's own renewal: the watch was blind
	if got := seen("c"); got != 12*time.Second {
		t.Errorf("c (renewing until the blind spell) seen at %v, want 12s: its lease does not run out for the spell", got)
	}
	if got := seen("a"); got != 3*time.Second {
		t.Errorf("a (silent for 9 s of watched time) seen at %v after a 3 s blind spell, want 3s: only the spell is forgiven", got)
	}
	if o.lease.blind.Load() != 1 {
		t.Errorf("blind count %d, want 1", o.lease.blind.Load())
	}
	see("b", 13*time.Second) // on time again: nothing moves
	if got := seen("a"); got != 3*time.Second {
		t.Errorf("a seen at %v after an on-time renewal, want 3s", got)
	}
	// Blind spells one after another, as on a loaded machine: a stays
	// found dead (more than a lease of watched silence).
	for s := 16 * time.Second; s <= 40*time.Second; s += 4 * time.Second { // 3 s blind, 1 s watched
		see("b", s)
		see("b", s+time.Second)
	}
	now := 41 * time.Second
	if silent := now - seen("a"); silent <= lease {
		t.Errorf("a silent for %v of watched time after repeated blind spells, want more than the lease %v: it is dead", silent, lease)
	}
	if got, want := o.lastRenewal("a"), wall.Add(-orphanClockMargin); !got.Equal(want) {
		t.Errorf("replay for a's sessions starts at %v, want %v (its last renewal as stored, less the margin): blind spells must not move it", got, want)
	}
	if got := o.lastRenewal("x"); !got.IsZero() {
		t.Errorf("replay for a node never seen starts at %v, want zero (every record)", got)
	}
}
