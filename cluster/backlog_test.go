package cluster

import (
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
)

// sawBacklog reports whether node's last heartbeat said it is backlogged.
func (r *Router) sawBacklog(node string) bool {
	c := &r.confirm
	c.mu.Lock()
	defer c.mu.Unlock()
	mb := c.members[node]
	return mb != nil && mb.backlog
}

// TestReceiveQueueBound: while a node's engine is busy its receive queue
// grows to its bound and no further for QoS 0, whose batches past it are
// dropped and counted; QoS 1 messages are never dropped, and their origin
// keeps waiting, past its usual timeout, for a node whose heartbeats say
// it is working through a backlog. Once the engine takes them, every QoS
// 1 message arrives and the waits end as confirmations, not timeouts.
func TestReceiveQueueBound(t *testing.T) {
	longtest.Skip(t, "starts two nats-servers")
	SetQueueLimit(t, 64<<10)
	SetConfirmTimeout(t, 500*time.Millisecond)
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
	defer rb.Close()
	rb.Interest("q/#", true)
	deadline := time.Now().Add(20 * time.Second)
	for gb.count("q/probe") == 0 || !ra.knows(nodes[1].Name()) {
		if time.Now().After(deadline) {
			t.Fatal("no probe crossed, or no heartbeat")
		}
		ra.Forward([]byte("q/probe"), nil, 0, false, nil, 0, "")
		ra.Flush(false)
		time.Sleep(50 * time.Millisecond)
	}

	gb.mu.Lock()
	gb.hold = make(chan struct{})
	gb.mu.Unlock()
	defer gb.release() // before the routers close, when the test fails
	payload := make([]byte, 1024)
	const qos0 = 2000
	for i := range qos0 {
		ra.Forward([]byte("q/0"), payload, 0, false, nil, 0, "pub")
		if i%10 == 9 {
			ra.Flush(false)
		}
	}
	ra.Flush(false)
	for rb.Shed.Load() == 0 || !ra.sawBacklog(nodes[1].Name()) {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("shed %d, backlog seen %v", rb.Shed.Load(), ra.sawBacklog(nodes[1].Name()))
		}
		time.Sleep(20 * time.Millisecond)
	}

	const qos1 = 200
	var last uint64
	for i := range qos1 {
		last = ra.Forward([]byte("q/1"), payload, 1, false, nil, 0, "pub")
		if i%10 == 9 {
			ra.Flush(true)
		}
	}
	ra.Flush(true)
	done := make(chan struct{})
	ra.WhenConfirmed(last, func() { close(done) })
	time.Sleep(3 * 500 * time.Millisecond) // three confirmation timeouts
	select {
	case <-done:
		t.Fatal("QoS 1 confirmed, or given up on, while node b was backlogged")
	default:
	}
	if n := ra.Unconfirmed.Load(); n != 0 {
		t.Fatalf("%d waits timed out on a backlogged node", n)
	}

	gb.release()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("QoS 1 not confirmed once node b caught up")
	}
	if n := gb.count("q/1"); n != qos1 {
		t.Fatalf("node b took %d QoS 1 messages, want %d", n, qos1)
	}
	shed := rb.Shed.Load()
	if got := uint64(gb.count("q/0")); got+shed != qos0 || got == 0 {
		t.Fatalf("node b took %d QoS 0 messages and shed %d, want %d in all, some taken", got, shed, qos0)
	}
	if n := ra.Unconfirmed.Load(); n != 0 {
		t.Fatalf("%d waits timed out", n)
	}
}

// release lets held deliveries through.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold != nil {
		close(g.hold)
		g.hold = nil
	}
}
