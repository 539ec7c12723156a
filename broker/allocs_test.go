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

// TestRouteQoS0BurstAllocs routes rounds of 60 PUBLISHes of 1 KiB, about
// what one 64 KiB read brings, to 10 subscribers: each round's output
// outgrows a small buffer, and must come from the loop's pool, not from
// allocations that double their way up to 64 KiB in every round.
func TestRouteQoS0BurstAllocs(t *testing.T) {
	ls, sinks := routeFixture(t, 10)
	topic, payload := []byte("bench/topic"), make([]byte, 1024)
	round := func() {
		for range 60 {
			ls.route(topic, payload, 0, nil)
		}
		ls.flush()
	}
	round() // fill the pool
	if n := testing.AllocsPerRun(100, round); n != 0 {
		t.Fatalf("a round of 60 x 1 KiB QoS 0 to 10 subscribers: %v allocs, want 0", n)
	}
	if want := 101 * 60 * 1024; sinks[9].written < want {
		t.Fatalf("subscriber 9 got %d bytes, want at least %d", sinks[9].written, want)
	}
	if n := len(ls.bufs); n == 0 || ls.pooled > maxPoolBytes {
		t.Fatalf("%d buffers of %d bytes in all pooled after the rounds, want at least 1 and at most %d bytes", n, ls.pooled, maxPoolBytes)
	}
}
