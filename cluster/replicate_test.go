package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/glassmq/glassmq/cluster"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/session/store"
)

// startReplica starts one in-process node (a real nats-server with
// JetStream) and a Replica named name over a real bbolt store with fsync
// always.
func startReplica(t *testing.T, nd *cluster.Node, name string) (*cluster.Replica, *store.DB) {
	return startReplicaB(t, nd, name)
}

func startReplicaB(t testing.TB, nd *cluster.Node, name string) (*cluster.Replica, *store.DB) {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir(), Fsync: store.FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r, err := cluster.StartReplica(cluster.ReplicaConfig{NC: nd.NC(), Node: name, StartTimeout: time.Minute}, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, db
}

func startJetStreamNode(t *testing.T) *cluster.Node { return startJetStreamNodeB(t) }

func startJetStreamNodeB(t testing.TB) *cluster.Node {
	t.Helper()
	nd, err := cluster.Start(cluster.Config{Name: "repl-test", NodeName: "solo", Listen: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := nd.JetStreamReady(ctx); err != nil {
		t.Fatal(err)
	}
	return nd
}

// durable waits until every op applied to r so far is acknowledged by
// both the local store and JetStream.
func durable(t *testing.T, r *cluster.Replica, ticket uint64) { waitDurable(t, r, ticket) }

func waitDurable(t testing.TB, r *cluster.Replica, ticket uint64) {
	t.Helper()
	done := make(chan error, 1)
	r.WhenDurable(ticket, func(err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ticket %d: %v", ticket, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("ticket %d not durable after 30s", ticket)
	}
	if r.Durable() < ticket {
		t.Fatalf("Durable() = %d after WhenDurable(%d) fired", r.Durable(), ticket)
	}
}

func record(id string, subs ...session.Subscription) *session.Record {
	return &session.Record{ClientID: id, CreateTime: 1000, ConnectTime: 2000, Expiry: 3600, Username: "u",
		Subscriptions: subs}
}

func putMsg(id string, seq uint64, qos byte, payload string) session.Op {
	return session.Op{Kind: session.OpPutMessage, ClientID: id, Seq: seq, QoS: qos,
		Msg: session.NewMessage([]byte("t/x"), []byte(payload), qos, false)}
}

// TestReplicaRebuild: what one node replicated, another rebuilds: the
// subscriptions with their options, the messages not acknowledged (with
// the packet ID and PUBREL state of those in flight, so QoS 2 resumes
// without a duplicate), the inbound QoS 2 IDs; acknowledged ones are gone.
// The client ID has every character NATS reserves.
func TestReplicaRebuild(t *testing.T) {
	nd := startJetStreamNode(t)
	a, _ := startReplica(t, nd, "node-a")
	id := "GID_test@@@ dev.*>/1"
	subs := []session.Subscription{{TopicFilter: "t/#", QoS: 2, NoLocal: true, RetainHandling: 1, ID: 7}, {TopicFilter: "u/+", QoS: 1}}
	a.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: record(id, subs...)})
	a.Apply(putMsg(id, 1, 2, "one"))
	a.Apply(putMsg(id, 2, 1, "two"))
	a.Apply(putMsg(id, 3, 1, "three"))
	a.Apply(session.Op{Kind: session.OpInflight, ClientID: id, Seq: 1, PacketID: 11})
	a.Apply(session.Op{Kind: session.OpReleased, ClientID: id, Seq: 1})
	a.Apply(session.Op{Kind: session.OpInflight, ClientID: id, Seq: 2, PacketID: 12})
	a.Apply(session.Op{Kind: session.OpDeleteMessage, ClientID: id, Seq: 2}) // PUBACK
	a.Apply(session.Op{Kind: session.OpPutRel, ClientID: id, PacketID: 9})
	a.Apply(session.Op{Kind: session.OpPutRel, ClientID: id, PacketID: 10})
	t4 := a.Apply(session.Op{Kind: session.OpDeleteRel, ClientID: id, PacketID: 10})
	durable(t, a, t4)
	if a.Pending() != 0 {
		t.Fatalf("Pending() = %d after every ticket is durable, want 0", a.Pending())
	}

	b, _ := startReplica(t, nd, "node-b")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := b.Fetch(ctx, id)
	if err != nil || rs == nil {
		t.Fatalf("Fetch: %v, %v; want the session", rs, err)
	}
	if rs.Record.ClientID != id || rs.Record.Expiry != 3600 || rs.Record.Username != "u" || !slices.Equal(rs.Record.Subscriptions, subs) {
		t.Fatalf("record %+v; want client %q, expiry 3600, user u, subscriptions %+v", rs.Record, id, subs)
	}
	var got []string
	for _, m := range rs.Messages {
		got = append(got, fmt.Sprintf("%d:%s:q%d:id%d:rel%v", m.Seq, m.Msg.Payload, m.QoS, m.PacketID, m.Released))
	}
	want := []string{"1:one:q2:id11:reltrue", "3:three:q1:id0:relfalse"}
	if !slices.Equal(got, want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
	if !slices.Equal(rs.Rel, []uint16{9}) {
		t.Fatalf("awaiting PUBREL %v, want [9]", rs.Rel)
	}
	if rs, err := b.Fetch(ctx, "nobody"); rs != nil || err != nil {
		t.Fatalf("Fetch of an unknown client: %v, %v; want nil, nil", rs, err)
	}
}

// TestReplicaGenerations: a session that ends is gone from the replica,
// and a new session of the same client ID does not inherit the messages
// of the old one; a session handed to a live node (Release) is not
// deleted by its old node's end.
func TestReplicaGenerations(t *testing.T) {
	nd := startJetStreamNode(t)
	a, _ := startReplica(t, nd, "node-a")
	b, _ := startReplica(t, nd, "node-b")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := "gen"
	a.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: record(id)})
	a.Apply(putMsg(id, 1, 1, "old"))
	durable(t, a, a.Apply(session.Op{Kind: session.OpDeleteSession, ClientID: id}))
	if rs, err := b.Fetch(ctx, id); rs != nil || err != nil {
		t.Fatalf("Fetch after the session ended: %+v, %v; want nil, nil", rs, err)
	}
	a.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: record(id)})
	durable(t, a, a.Apply(putMsg(id, 5, 1, "new")))
	rs, err := b.Fetch(ctx, id)
	if err != nil || rs == nil || len(rs.Messages) != 1 || string(rs.Messages[0].Msg.Payload) != "new" {
		t.Fatalf("Fetch of the new session: %+v, %v; want only the message \"new\"", rs, err)
	}

	// Hand-over to node b: a releases, b adopts (writes it anew), a's end
	// of the session then deletes nothing.
	a.Release(id)
	b.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: record(id)})
	durable(t, b, b.Apply(putMsg(id, 5, 1, "new")))
	durable(t, a, a.Apply(session.Op{Kind: session.OpDeleteSession, ClientID: id}))
	rs, err = a.Fetch(ctx, id)
	if err != nil || rs == nil || len(rs.Messages) != 1 || string(rs.Messages[0].Msg.Payload) != "new" {
		t.Fatalf("Fetch after a hand-over: %+v, %v; want the session node b wrote", rs, err)
	}
}

// TestReplicaTrims: a session whose messages are acknowledged as they
// come keeps its queue subject short: the stream holds what is
// outstanding, not the history. Each message is written before its
// acknowledgement, so none is coalesced away.
func TestReplicaTrims(t *testing.T) {
	nd := startJetStreamNode(t)
	a, _ := startReplica(t, nd, "node-a")
	id := "trim"
	a.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: record(id)})
	const n = 300
	var last uint64
	for i := range uint64(n) {
		durable(t, a, a.Apply(putMsg(id, i+1, 1, "m"))) // written before it is acknowledged
		a.Apply(session.Op{Kind: session.OpInflight, ClientID: id, Seq: i + 1, PacketID: uint16(i + 1)})
		last = a.Apply(session.Op{Kind: session.OpDeleteMessage, ClientID: id, Seq: i + 1})
	}
	durable(t, a, last)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	subject := a.QueueSubject(id)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := nd.JS().Stream(ctx, "GLASSMQ_QUEUE")
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs < 3*trimBound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue stream holds %d records of %s after %d acknowledged messages, want fewer than %d", info.State.Msgs, subject, n, 3*trimBound)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rs, err := a.Fetch(ctx, id)
	if err != nil || rs == nil || len(rs.Messages) != 0 {
		t.Fatalf("Fetch: %+v, %v; want the session with no message", rs, err)
	}
	t.Logf("%d records written, %d never written (acknowledged before they left), %d trims",
		a.Stats.Written.Load(), a.Stats.Coalesced.Load(), a.Stats.Purges.Load())
}

// trimBound is the most records a quiet session keeps between trims (the
// replica trims every 32 acknowledged records), with room for the stream
// to be mid-trim.
const trimBound = 40

// TestReplicaHoldsUntilStored: while JetStream cannot store a record, its
// ticket is not durable, even once the local store has it, so an ack held
// for it (-fsync always) is not sent; when the write is given up, the
// waiter gets an error (the broker then closes the connection without the
// ack) and Err reports it.
func TestReplicaHoldsUntilStored(t *testing.T) {
	nd := startJetStreamNode(t)
	db, err := store.Open(store.Options{Dir: t.TempDir(), Fsync: store.FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r, err := cluster.StartReplica(cluster.ReplicaConfig{NC: nd.NC(), Node: "node-a", Retry: 2 * time.Second, StartTimeout: time.Minute}, db)
	if err != nil {
		t.Fatal(err)
	}
	id := "held"
	durable(t, r, r.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: record(id)}))

	nd.Server().Shutdown() // JetStream gone: nothing more is stored
	nd.Server().WaitForShutdown()
	tk := r.Apply(putMsg(id, 1, 1, "unstored"))
	local := make(chan error, 1)
	db.WhenDurable(tk, func(err error) { local <- err })
	if err := <-local; err != nil {
		t.Fatalf("local store: %v", err)
	}
	if d := r.Durable(); d >= tk {
		t.Fatalf("Durable() = %d with ticket %d stored locally only; want below it", d, tk)
	}
	done := make(chan error, 1)
	r.WhenDurable(tk, func(err error) { done <- err })
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("WhenDurable reported a record JetStream never stored as durable")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("WhenDurable neither succeeded nor failed 60s after JetStream went away")
	}
	if r.Err() == nil {
		t.Fatal("Err() = nil after a write was given up")
	}
	if r.Stats.Failed.Load() == 0 {
		t.Fatal("Stats.Failed = 0 after a write was given up")
	}
	closed := make(chan struct{})
	go func() { r.Close(); closed <- struct{}{} }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hangs with JetStream gone")
	}
}
