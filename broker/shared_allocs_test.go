//go:build !race

package broker

import (
	"testing"
)

// TestRouteSharedAllocs pins QoS 0 routing to shared subscription groups
// (match, pick a member per group, encode, copy, count, flush) at zero
// allocations per message, for every strategy.
func TestRouteSharedAllocs(t *testing.T) {
	for _, st := range []shareStrategy{shareRoundRobin, shareRandom, shareHashClientID} {
		ls, sinks := sharedFixture(t, 10, 3, 2, st)
		topic, payload := []byte("bench/topic"), []byte("hello")
		ls.route(topic, payload, 0, nil) // size the scratch buffers
		ls.flush()
		n := testing.AllocsPerRun(1000, func() {
			ls.route(topic, payload, 0, nil)
			ls.flush()
		})
		if n != 0 {
			t.Fatalf("%s: route+flush QoS 0 to 10 groups and 2 subscribers: %v allocs/op, want 0", shareStrategies[st], n)
		}
		got := 0
		for _, s := range sinks {
			if s.written > 0 {
				got++
			}
		}
		if got < 12 {
			t.Fatalf("%s: %d of 32 sessions got messages after 1002, want at least 12 (one per group and the plain ones)", shareStrategies[st], got)
		}
	}
}
