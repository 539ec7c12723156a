package stats

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// TestCountsAuth: MQTT 5.0's AUTH is counted like any other packet type,
// inline and in the table, and shows in snapshots [MQTT5-3.15].
func TestCountsAuth(t *testing.T) {
	var c Counters
	c.Add(codec.TypeAuth, 0, 10)
	if got := c.Count(codec.TypeAuth, 0); got != 1 {
		t.Fatalf("inline: AUTH count %d, want 1", got)
	}
	c.Add(codec.TypeConnect, 0, 20)
	c.Add(codec.TypePingreq, 0, 2) // a third kind: the table
	c.Add(codec.TypeAuth, 0, 12)
	if got := c.Count(codec.TypeAuth, 0); got != 2 {
		t.Fatalf("table: AUTH count %d, want 2", got)
	}
	var s Snapshot
	c.Snapshot(&s)
	found := false
	for _, it := range s.Items {
		if it.Type == codec.TypeAuth {
			found = it.QoS == 0 && it.Count == 2
		}
	}
	if !found || s.Bytes != 44 {
		t.Fatalf("snapshot %+v, want AUTH/0 count 2 and 44 bytes", s)
	}
	if codec.TypeAuth.String() != "AUTH" {
		t.Fatalf("name %q, want AUTH", codec.TypeAuth.String())
	}
}
