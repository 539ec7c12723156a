package cluster_test

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/glassmq/glassmq/cluster"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
)

// ghost is a cluster member that only the test drives: it beats on the
// heartbeat subject under its own name, through a real node's NATS
// connection, takes every marker, and answers one only when told. It
// stands for a peer that is slow or cut off.
type ghost struct {
	name    string
	nc      *nats.Conn
	mu      sync.Mutex
	markers [][]byte // marker payloads taken, oldest first
	stop    chan struct{}
	stopped chan struct{}
}

func field(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func startGhost(t *testing.T, nc *nats.Conn, name string) *ghost {
	t.Helper()
	g := &ghost{name: name, nc: nc, stop: make(chan struct{}), stopped: make(chan struct{})}
	sub, err := nc.Subscribe(cluster.MarkerSubject, func(m *nats.Msg) {
		g.mu.Lock()
		g.markers = append(g.markers, append([]byte(nil), m.Data...))
		g.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	go func() {
		defer close(g.stopped)
		hb := field(nil, name)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			nc.Publish(cluster.HeartbeatSubject, hb)
			select {
			case <-tick.C:
			case <-g.stop:
				return
			}
		}
	}()
	t.Cleanup(g.die)
	return g
}

// die stops the ghost's heartbeats.
func (g *ghost) die() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	<-g.stopped
}

// marked returns how many markers the ghost has taken.
func (g *ghost) marked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.markers)
}

// answerAll answers every marker taken so far, as a node that has taken
// every message before them.
func (g *ghost) answerAll(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	ms := g.markers
	g.markers = nil
	g.mu.Unlock()
	for _, m := range ms {
		// A marker is the origin node's name, its run and a number, each
		// a field or a uvarint; the answer is the ghost's name, the run
		// and the number, on the origin's ack subject.
		n, k := binary.Uvarint(m)
		if k <= 0 || uint64(len(m)-k) < n {
			t.Fatalf("marker % x", m)
		}
		node := string(m[k : k+int(n)])
		ans := append(field(nil, g.name), m[k+int(n):]...)
		if err := g.nc.Publish("mq.ack."+cluster.EncodeToken(node), ans); err != nil {
			t.Fatal(err)
		}
	}
	g.nc.Flush()
}

// TestHeldAckDoesNotStallLoop: a QoS 1 PUBLISH forwarded while one peer
// does not answer is acknowledged only once that peer confirms it, and
// while its PUBACK waits the event loop keeps serving: a QoS 0 pair on the
// same node and loop (Loops 1) completes round trip after round trip. A
// peer that stops beating is not waited for: the next held PUBACK goes
// once it is declared gone. Acks keep their order on the connection.
func TestHeldAckDoesNotStallLoop(t *testing.T) {
	longtest.Skip(t, "starts two nats-servers")
	cluster.SetConfirmTimeout(t, time.Minute) // only the ghost's answer or its death releases the ack
	nodes := startOwnedCluster(t, 2)
	a := nodes[0]
	g := startGhost(t, nodes[1].nc, "ghost")
	waitUntil(t, "node a hears the ghost", func() bool { return a.router.Knows("ghost") })

	sub := dialRaw(t, a.addr())
	sub.connect("pair-sub", codec.ProtocolLevel311, true)
	sub.subscribe("pair/x", 0)
	pub := dialRaw(t, a.addr())
	pub.connect("pair-pub", codec.ProtocolLevel311, true)

	pub.write(codec.AppendPublishParts(nil, false, 1, false, []byte("held/1"), 1, []byte("one")))
	waitUntil(t, "the ghost takes the marker", func() bool { return g.marked() > 0 })

	for i := range 20 {
		pub.write(codec.AppendPublishParts(nil, false, 0, false, []byte("pair/x"), 0, []byte{byte(i)}))
		f := sub.expectType(codec.TypePublish)
		if f[len(f)-1] != byte(i) {
			t.Fatalf("QoS 0 round trip %d delivered % x", i, f)
		}
		select {
		case f := <-pub.frames:
			t.Fatalf("publisher got % x while the ghost had not answered", f)
		default:
		}
	}
	// A second QoS 1 PUBLISH, and a QoS 1 one on a $-topic (acknowledged,
	// not forwarded): their acks wait behind the first.
	pub.write(codec.AppendPublishParts(nil, false, 1, false, []byte("held/2"), 2, []byte("two")))
	pub.write(codec.AppendPublishParts(nil, false, 1, false, []byte("$local/3"), 3, []byte("three")))
	sub.write(codec.AppendPingreq(nil)) // one more round of the loop after both
	sub.expectType(codec.TypePingresp)
	select {
	case f := <-pub.frames:
		t.Fatalf("publisher got % x while the ghost had not answered", f)
	default:
	}

	waitUntil(t, "the ghost takes held/2's marker", func() bool { return g.marked() >= 2 }) // a later round: a marker of its own
	g.answerAll(t)
	for _, want := range []uint16{1, 2, 3} {
		if f := pub.expectType(codec.TypePuback); binary.BigEndian.Uint16(f[2:]) != want {
			t.Fatalf("ack % x, want PUBACK %d", f, want)
		}
	}

	pub.write(codec.AppendPublishParts(nil, false, 1, false, []byte("held/4"), 4, []byte("four")))
	waitUntil(t, "the ghost takes held/4's marker", func() bool { return g.marked() > 0 })
	pub.write(codec.AppendPublishParts(nil, false, 0, false, []byte("pair/x"), 0, []byte{99}))
	if f := sub.expectType(codec.TypePublish); f[len(f)-1] != 99 {
		t.Fatalf("QoS 0 delivered % x", f)
	}
	select {
	case f := <-pub.frames:
		t.Fatalf("publisher got % x while the ghost had not answered", f)
	default:
	}
	g.die() // gone: after the member timeout it is not waited for
	if f := pub.expectType(codec.TypePuback); binary.BigEndian.Uint16(f[2:]) != 4 {
		t.Fatalf("ack % x, want PUBACK 4", f)
	}
	if n := a.router.Unconfirmed.Load(); n != 0 {
		t.Fatalf("%d waits ran out; the acks should have been released by the answer and the death", n)
	}
}
