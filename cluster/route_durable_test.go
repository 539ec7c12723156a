package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
)

// durableGate is a gate whose deliveries become durable only when the test
// says so, as an engine whose store and replica lag behind.
type durableGate struct {
	gate
	dmu     sync.Mutex
	holding bool
	waiting []func()
}

func (g *durableGate) WhenRemoteDurable(fn func()) {
	g.dmu.Lock()
	if g.holding {
		g.waiting = append(g.waiting, fn)
		g.dmu.Unlock()
		return
	}
	g.dmu.Unlock()
	fn()
}

// hold makes deliveries from now on wait for release.
func (g *durableGate) hold() {
	g.dmu.Lock()
	g.holding = true
	g.dmu.Unlock()
}

// release makes everything delivered durable.
func (g *durableGate) release() {
	g.dmu.Lock()
	fns := g.waiting
	g.holding, g.waiting = false, nil
	g.dmu.Unlock()
	for _, fn := range fns {
		go fn() // as a store does: on its own goroutine
	}
}

// TestAnswerWaitsForDurable: a node answers a marker only once its engine
// made the messages before it durable, so the origin's held acks wait for
// the store and its replica; meanwhile the node keeps taking and
// delivering messages (it does not wait on its receiving goroutine), and
// once durable every marker is answered.
func TestAnswerWaitsForDurable(t *testing.T) {
	longtest.Skip(t, "starts two nats-servers")
	SetConfirmTimeout(t, time.Minute) // the holds below are not given up on
	nodes := startNodes(t, 2)
	ga, gb := &gate{}, &durableGate{}
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
	rb.Interest("d/#", true)
	deadline := time.Now().Add(20 * time.Second)
	for gb.count("d/probe") == 0 || !ra.knows(nodes[1].Name()) {
		if time.Now().After(deadline) {
			t.Fatal("no probe crossed, or node a never heard node b")
		}
		ra.Forward([]byte("d/probe"), nil, 0, false, nil, 0, "")
		ra.Flush(false)
		time.Sleep(50 * time.Millisecond)
	}

	gb.hold()
	n1 := ra.Forward([]byte("d/1"), []byte("x"), 1, false, nil, 0, "pub")
	ra.Flush(true)
	c1 := make(chan struct{})
	ra.WhenConfirmed(n1, func() { close(c1) })
	waitCount(t, gb, "d/1")
	// Node b has d/1 but not durably: its receiving side goes on with the
	// next messages and markers all the same.
	n2 := ra.Forward([]byte("d/2"), []byte("x"), 1, false, nil, 0, "pub")
	ra.Flush(true)
	c2 := make(chan struct{})
	ra.WhenConfirmed(n2, func() { close(c2) })
	waitCount(t, gb, "d/2")
	select {
	case <-c1:
		t.Fatal("d/1 confirmed while node b's store had not made it durable")
	case <-c2:
		t.Fatal("d/2 confirmed while node b's store had not made it durable")
	case <-time.After(300 * time.Millisecond):
	}
	gb.release()
	for _, c := range []chan struct{}{c1, c2} {
		select {
		case <-c:
		case <-time.After(20 * time.Second):
			t.Fatal("not confirmed once node b's store made the messages durable")
		}
	}
	if n := ra.Unconfirmed.Load(); n != 0 {
		t.Fatalf("%d waits given up on; want every marker answered", n)
	}
}

// waitCount waits until g was handed topic once.
func waitCount(t *testing.T, g *durableGate, topic string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for g.count(topic) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("node b has %s %d times after 20s, want 1", topic, g.count(topic))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
