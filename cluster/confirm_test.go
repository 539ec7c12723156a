package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
)

// gate is a Local that records the topics it is given and can be made to
// hold deliveries, as a busy engine would.
type gate struct {
	mu     sync.Mutex
	topics []string
	hold   chan struct{} // deliveries wait while it is open; nil: none
}

func (g *gate) DeliverRemote(each func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64))) {
	g.mu.Lock()
	hold := g.hold
	g.mu.Unlock()
	if hold != nil {
		<-hold
	}
	each(func(topic, _, _ []byte, _ byte, _ bool, _ int64) {
		g.mu.Lock()
		g.topics = append(g.topics, string(topic))
		g.mu.Unlock()
	})
}

func (g *gate) StoreRetained(func(store func(topic, payload, props []byte, qos byte, expires int64))) {
}

func (g *gate) count(topic string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, t := range g.topics {
		if t == topic {
			n++
		}
	}
	return n
}

// TestFlushWaitsForConfirmation: after a QoS 1 forward and Flush(true),
// which returns at once, WhenConfirmed calls its function only once the
// other node has handed the message to its engine: not while that node's
// engine holds deliveries, soon after it lets them through, and without
// waiting for a node that died.
func TestFlushWaitsForConfirmation(t *testing.T) {
	longtest.Skip(t, "starts two nats-servers")
	nodes := startNodes(t, 2)
	ga, gb := &gate{}, &gate{}
	ra, err := NewRouter(nodes[0], ga)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	rb, err := NewRouter(nodes[1], gb)
	if err != nil {
		t.Fatal(err)
	}
	rb.Interest("c/#", true)
	deadline := time.Now().Add(20 * time.Second)
	for gb.count("c/probe") == 0 { // interest and heartbeats have crossed
		if time.Now().After(deadline) {
			t.Fatal("no probe crossed")
		}
		ra.Forward([]byte("c/probe"), nil, 0, false, nil, 0, "")
		ra.Flush(false)
		time.Sleep(50 * time.Millisecond)
	}
	for !ra.knows(nodes[1].Name()) {
		if time.Now().After(deadline) {
			t.Fatal("node a never heard node b's heartbeat")
		}
		time.Sleep(20 * time.Millisecond)
	}

	n1 := ra.Forward([]byte("c/1"), []byte("x"), 1, false, nil, 0, "pub")
	if n1 == 0 {
		t.Fatal("Forward of a QoS 1 message returned no number")
	}
	ra.Flush(true)
	ra.WaitConfirmed(n1)
	if n := gb.count("c/1"); n != 1 {
		t.Fatalf("once c/1 is confirmed node b has it %d times, want 1", n)
	}

	gb.mu.Lock()
	gb.hold = make(chan struct{})
	gb.mu.Unlock()
	n2 := ra.Forward([]byte("c/2"), []byte("x"), 1, false, nil, 0, "pub")
	flushed := make(chan struct{})
	go func() { ra.Flush(true); close(flushed) }()
	select {
	case <-flushed: // Flush does not wait for the other node
	case <-time.After(20 * time.Second):
		t.Fatal("Flush(true) blocked while node b's engine held the message")
	}
	done := make(chan struct{})
	ra.WhenConfirmed(n2, func() { close(done) })
	select {
	case <-done:
		t.Fatal("c/2 confirmed while node b's engine held the message")
	case <-time.After(300 * time.Millisecond):
	}
	if ra.Confirmed(n2) {
		t.Fatal("Confirmed(c/2) while node b's engine held the message")
	}
	gb.mu.Lock()
	close(gb.hold)
	gb.hold = nil
	gb.mu.Unlock()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("c/2 not confirmed once node b took the message")
	}
	if n := gb.count("c/2"); n != 1 {
		t.Fatalf("node b has c/2 %d times, want 1", n)
	}

	rb.Close()
	nodes[1].Close()
	n3 := ra.Forward([]byte("c/3"), []byte("x"), 1, false, nil, 0, "pub")
	ra.Flush(true)
	done = make(chan struct{})
	ra.WhenConfirmed(n3, func() { close(done) }) // node b's heartbeats stop: not waited for past memberTimeout
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("c/3 never released though node b died")
	}
	if !ra.Confirmed(n3) {
		t.Fatal("released but not Confirmed")
	}
}

// knows reports whether the Router has heard node's heartbeat.
func (r *Router) knows(node string) bool {
	c := &r.confirm
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.members[node]
	return ok
}
