//go:build !race

package broker

import (
	"strconv"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

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

// TestRouteQoS0FilteredAllocs: the per-delivery ACL check of a filtered
// subscription allocates nothing either, and withholds a denied topic.
func TestRouteQoS0FilteredAllocs(t *testing.T) {
	ls, sinks := routeFixture(t, 10)
	filterFixture(t, ls)
	topic, payload := []byte("bench/topic"), []byte("hello")
	ls.route(topic, payload, 0, nil)
	ls.flush()
	n := testing.AllocsPerRun(1000, func() {
		ls.route(topic, payload, 0, nil)
		ls.flush()
	})
	if n != 0 {
		t.Fatalf("route+flush QoS 0 to 10 filtered subscribers: %v allocs/op, want 0", n)
	}
	before := sinks[9].written
	s := ls.e.reg.Lookup("sub-9")
	ls.e.router.add("bench/+", s, 0, ls.e.router.root.children["bench"].children["topic"].filtered[s])
	ls.route([]byte("bench/secret"), payload, 0, nil) // matches bench/+, denied
	ls.flush()
	ls.route([]byte("bench/other"), payload, 0, nil) // matches bench/+, allowed
	ls.flush()
	if sinks[9].written == before {
		t.Fatal("bench/other withheld, want delivered")
	}
	before = sinks[9].written
	ls.route([]byte("bench/secret"), payload, 0, nil)
	ls.flush()
	if before == 0 || sinks[9].written != before {
		t.Fatalf("subscriber wrote %d bytes before, %d after bench/secret; want some, then none more", before, sinks[9].written)
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
	size := codec.PublishSize(0, len(topic), len(payload))
	for i, sink := range sinks {
		// 102 rounds: the warm-up, then AllocsPerRun's extra run and its 100.
		want := 102 * 60
		if sink.written != want*size {
			t.Errorf("subscriber %d got %d bytes, want %d", i, sink.written, want*size)
		}
		// The per-round counts reached the session's counters, exactly.
		c := &ls.e.reg.Lookup("sub-" + strconv.Itoa(i)).Counters.Sent
		if n, b := c.Count(codec.TypePublish, 0), c.Bytes(); n != uint64(want) || b != uint64(want*size) {
			t.Errorf("subscriber %d: counters say %d PUBLISH QoS 0 and %d bytes sent, want %d and %d", i, n, b, want, want*size)
		}
	}
	if len(ls.bufs) == 0 {
		t.Fatal("no output buffers pooled after the rounds")
	}
}

// TestHandoffAllocs pins the cross-loop QoS 0 path (route, push onto the
// other loop's hand-off queue, wake, drain, write) at zero allocations per
// message once the pooled batches and queue slices have grown.
func TestHandoffAllocs(t *testing.T) {
	from, to, sinks := handoffFixture(t, 10)
	topic, payload := []byte("bench/topic"), []byte("hello")
	n := testing.AllocsPerRun(1000, func() {
		from.route(topic, payload, 0, nil)
		from.flush()
		to.drainHandoff()
	})
	if n != 0 {
		t.Fatalf("route+push+drain QoS 0 to 10 subscribers on another loop: %v allocs/op, want 0", n)
	}
	if sinks[9].written == 0 {
		t.Fatal("subscribers got nothing")
	}
}
