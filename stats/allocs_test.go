//go:build !race

package stats

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

func TestCountersAddAllocs(t *testing.T) {
	var c Counters
	var s Snapshot
	c.Snapshot(&s) // size s.Items once
	n := testing.AllocsPerRun(1000, func() {
		c.Add(codec.TypePublish, 2, 100)
		c.Snapshot(&s)
	})
	if n != 0 {
		t.Fatalf("Counters.Add+Snapshot: %v allocs/op, want 0", n)
	}
}
