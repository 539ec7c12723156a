//go:build !race

package cluster

import (
	"testing"
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
