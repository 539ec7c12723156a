package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
	"github.com/nats-io/nats.go"
)

// freeAddr returns a loopback address whose port nobody listens on,
// picked at random below the kernel's ephemeral range (32768 and up): the
// outgoing connections of tests running beside this one take their source
// ports from that range, and one took a port picked with ":0" before the
// node bound it (a node then failed with "address already in use").
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 1000 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000)))
		if err != nil {
			continue // taken: try another
		}
		ln.Close()
		return ln.Addr().String()
	}
	t.Fatal("no free loopback port in 20000-31999")
	return ""
}

// startNodes starts n embedded nodes that route to each other on loopback
// and closes them when the test ends.
func startNodes(t testing.TB, n int) []*Node {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	nodes := make([]*Node, n)
	for i := range nodes {
		var peers []string
		for j, a := range addrs {
			if j != i {
				peers = append(peers, a)
			}
		}
		nd, err := Start(Config{Name: "test", NodeName: string(rune('a' + i)), Listen: addrs[i], Peers: peers, DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes[i] = nd
	}
	return nodes
}

// TestNodesRoute starts three embedded nodes and checks that a message
// published on one reaches a subscriber on another, and that JetStream
// comes up with replicas min(3, nodes).
func TestNodesRoute(t *testing.T) {
	longtest.Skip(t, "starts three nats-servers")
	nodes := startNodes(t, 3)
	got := make(chan *nats.Msg, 16)
	if _, err := nodes[2].NC().ChanSubscribe("probe.x", got); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := nodes[0].NC().Publish("probe.x", []byte("hi")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if string(m.Data) != "hi" {
				t.Fatalf("got %q, want hi", m.Data)
			}
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no message crossed from node a to node c")
			}
			continue
		}
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nodes[1].JetStreamReady(ctx); err != nil {
		t.Fatal(err)
	}
	if r := nodes[0].Replicas(); r != 3 {
		t.Fatalf("Replicas() = %d, want 3", r)
	}
	if nodes[1].Name() != "b" {
		t.Fatalf("Name() = %q, want b", nodes[1].Name())
	}
}

// TestNodeAloneThenPeer: a first node with no peers starts (clustered
// JetStream needs a configured route: the node routes to itself, which
// NATS skips), and once a second node names it as a peer, messages cross
// and JetStream answers on both.
func TestNodeAloneThenPeer(t *testing.T) {
	longtest.Skip(t, "starts two nats-servers and waits for a JetStream leader")
	first := startNodes(t, 1)[0]
	if r := first.Replicas(); r != 1 {
		t.Fatalf("Replicas() = %d alone, want 1", r)
	}
	second, err := Start(Config{Name: "test", NodeName: "b", Listen: freeAddr(t),
		Peers: []string{first.cfg.Listen}, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	got := make(chan *nats.Msg, 16)
	if _, err := first.NC().ChanSubscribe("probe.y", got); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(got) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no message crossed from the second node to the first")
		}
		second.NC().Publish("probe.y", []byte("hi"))
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, nd := range []*Node{first, second} {
		if err := nd.JetStreamReady(ctx); err != nil {
			t.Fatalf("%s: %v", nd.Name(), err)
		}
	}
}

// TestStartRouteAddressBusy: a route address in use is an error at once,
// naming it, not a start that times out.
func TestStartRouteAddressBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nd, err := Start(Config{Name: "test", NodeName: "busy", Listen: ln.Addr().String(), DataDir: t.TempDir()})
	if err == nil {
		nd.Close()
		t.Fatal("Start on a busy route address succeeded")
	}
	if !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("error %q does not name %s", err, ln.Addr())
	}
}
