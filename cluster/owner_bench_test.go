package cluster_test

import (
	"fmt"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// BenchmarkClusterConnect is CONNECT to CONNACK on a node of a three-node
// cluster (the claim's compare-and-set in the replicated bucket included),
// a new client ID each time.
func BenchmarkClusterConnect(b *testing.B) {
	nodes := startOwnedCluster(b, 3)
	i := 0
	for b.Loop() {
		r := dialRaw(b, nodes[0].addr())
		if _, code := r.connect(fmt.Sprint("bench-", i), codec.ProtocolLevel311, true); code != 0 {
			b.Fatalf("CONNACK %d", code)
		}
		r.c.Close()
		i++
	}
}

// BenchmarkClusterTakeover is a persistent session with one subscription
// moving between two nodes: CONNECT on the other node to CONNACK, the
// previous connection closed and the session handed over.
func BenchmarkClusterTakeover(b *testing.B) {
	nodes := startOwnedCluster(b, 3)
	r := dialRaw(b, nodes[0].addr())
	r.connect("mover", codec.ProtocolLevel311, false)
	r.subscribe("a/b", 1)
	i := 0
	for b.Loop() {
		i++
		n := dialRaw(b, nodes[i%2].addr())
		if present, code := n.connect("mover", codec.ProtocolLevel311, false); code != 0 || !present {
			b.Fatalf("CONNACK present %v code %d", present, code)
		}
		r.waitClosed()
		r = n
	}
}

// BenchmarkRemoteSessionInfo is a session read on node c of a client
// connected to node a: the owner read from the bucket, then one NATS
// request/reply.
func BenchmarkRemoteSessionInfo(b *testing.B) {
	nodes := startOwnedCluster(b, 3)
	r := dialRaw(b, nodes[0].addr())
	r.connect("far away", codec.ProtocolLevel311, true)
	var info session.Info
	for b.Loop() {
		if !nodes[2].ca.SessionInfo("far away", &info) || !info.Connected {
			b.Fatal("no session")
		}
	}
}
