//go:build !race

package cluster

import (
	"testing"
	"time"
)

// discard is a Local that drops what it is given.
type discard struct{}

func (discard) DeliverRemote(func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64))) {
}
func (discard) StoreRetained(func(store func(topic, payload, props []byte, qos byte, expires int64))) {
}

// TestForwardAllocs: forwarding messages of a topic already seen, and
// flushing the round, allocates nothing in glassmq's code or in nats.go.
// AllocsPerRun counts the whole process, so the embedded nats-server's own
// handling of the round's one NATS message (one allocation in
// processInboundClientMsg) is counted too: at most 1 per round, however
// many messages the round carried.
func TestForwardAllocs(t *testing.T) {
	nodes := startNodes(t, 1)
	r, err := NewRouter(nodes[0], discard{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	topic, payload := []byte("sensors/room 1/temp"), []byte("21.5")
	r.Forward(topic, payload, 1, false, nil, 0, "dev-1")
	r.Flush(false)
	n := testing.AllocsPerRun(1000, func() {
		for range 8 {
			r.Forward(topic, payload, 1, false, nil, 0, "dev-1")
		}
		r.Flush(false)
	})
	if n > 1 {
		t.Fatalf("8 Forwards and a Flush: %v allocs, want at most 1 (the server's, per NATS message)", n)
	}
}

// TestForwardLoopAllocs: the same through an event loop's own batches
// (ForwardLoop, FlushLoop).
func TestForwardLoopAllocs(t *testing.T) {
	nodes := startNodes(t, 1)
	r, err := NewRouter(nodes[0], discard{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.UseLoops(1)
	topic, payload := []byte("sensors/room 1/temp"), []byte("21.5")
	r.ForwardLoop(0, topic, payload, 0, false, nil, 0, "dev-1")
	r.FlushLoop(0, false)
	n := testing.AllocsPerRun(1000, func() {
		for range 8 {
			r.ForwardLoop(0, topic, payload, 0, false, nil, 0, "dev-1")
		}
		r.FlushLoop(0, false)
	})
	if n > 1 {
		t.Fatalf("8 ForwardLoops and a FlushLoop: %v allocs, want at most 1 (the server's, per NATS message)", n)
	}
}

// TestForwardAllocsOrphans: with messages kept for dead nodes' sessions,
// a round of QoS 1 forwards whose marker is confirmed keeps a copy of its
// batch in a reused buffer: still at most the server's one allocation per
// round, and none of ours.
func TestForwardAllocsOrphans(t *testing.T) {
	nd, err := Start(Config{Name: "alloc", NodeName: "solo", Listen: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer nd.Close()
	r, err := NewRouter(nd, discard{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.StartOrphans(OrphanConfig{Lease: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	topic, payload := []byte("sensors/room 1/temp"), []byte("21.5")
	round := func() {
		var n uint64
		for range 8 {
			n = r.Forward(topic, payload, 1, false, nil, 0, "dev-1")
		}
		r.Flush(true)
		if !r.Confirmed(n) {
			t.Fatal("a lone node did not confirm at once")
		}
	}
	for range 100 {
		round()
	}
	if n := testing.AllocsPerRun(1000, round); n > 1 {
		t.Fatalf("8 QoS 1 Forwards, a Flush with marker and its confirmation: %v allocs, want at most 1 (the server's, per NATS message)", n)
	}
}
