//go:build !race

package broker

import "testing"

// TestRouteQoS0Allocs pins the QoS 0 hot path (match, encode, copy, count,
// flush) at zero allocations per message.
func TestRouteQoS0Allocs(t *testing.T) {
	ls, sinks := routeFixture(t, 10)
	topic, payload := []byte("bench/topic"), []byte("hello")
	ls.route(topic, payload, 0, nil) // size the scratch buffers
	ls.flush()
	n := testing.AllocsPerRun(1000, func() {
		ls.route(topic, payload, 0, nil)
		ls.flush()
	})
	if n != 0 {
		t.Fatalf("route+flush QoS 0 to 10 subscribers: %v allocs/op, want 0", n)
	}
	if sinks[9].written == 0 {
		t.Fatal("subscribers got nothing")
	}
}
