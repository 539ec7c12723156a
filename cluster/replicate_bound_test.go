package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/cluster"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/session/store"
)

// startBoundedReplica is startReplica with the queue stream's bounds.
func startBoundedReplica(t *testing.T, nd *cluster.Node, name string, perClient, maxBytes int64) *cluster.Replica {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir(), Fsync: store.FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r, err := cluster.StartReplica(cluster.ReplicaConfig{NC: nd.NC(), Node: name, StartTimeout: time.Minute,
		PerClient: perClient, MaxBytes: maxBytes}, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// subjectRecords returns how many stream messages (packs of records) the
// queue stream holds for clientID.
func subjectRecords(t *testing.T, nd *cluster.Node, r *cluster.Replica, clientID string) uint64 {
	t.Helper()
	js, err := jetstream.New(nd.NC())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "GLASSMQ_QUEUE")
	if err != nil {
		t.Fatal(err)
	}
	subject := r.QueueSubject(clientID)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

// TestReplicaQueueBound: an offline session whose queue is full (the
// local queue drops its oldest message for each new one, as -max-queued
// bounds it) keeps at most ClientRecords stream messages (packs of its
// records) in the replica, however many messages pass through, and
// another node still rebuilds exactly the messages the session holds.
func TestReplicaQueueBound(t *testing.T) {
	nd := startJetStreamNode(t)
	const queued, inflight, total = 10, 2, 1500
	per := cluster.ClientRecords(queued, inflight)
	a := startBoundedReplica(t, nd, "node-a", per, 0)
	id := "offline sub"
	a.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: record(id)})
	var last uint64
	for seq := uint64(1); seq <= total; seq++ {
		last = a.Apply(putMsg(id, seq, 1, fmt.Sprint(seq)))
		if seq > queued {
			last = a.Apply(session.Op{Kind: session.OpDeleteMessage, ClientID: id, Seq: seq - queued}) // dropped, oldest first
		}
	}
	durable(t, a, last)
	if n := subjectRecords(t, nd, a, id); n > uint64(per) || n == 0 {
		t.Fatalf("the replica holds %d stream messages for the session after %d messages through a queue of %d; want from 1 to %d",
			n, total, queued, per)
	}
	b := startBoundedReplica(t, nd, "node-b", per, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := b.Fetch(ctx, id)
	if err != nil || rs == nil {
		t.Fatalf("Fetch: %v, %v; want the session", rs, err)
	}
	got := map[uint64]bool{}
	for _, m := range rs.Messages {
		got[m.Seq] = true
	}
	for seq := uint64(total - queued + 1); seq <= total; seq++ {
		if !got[seq] {
			t.Errorf("message %d, still queued, is missing from the rebuilt session", seq)
		}
	}
	if len(rs.Messages) != queued {
		t.Errorf("rebuilt session holds %d messages, want the %d still queued", len(rs.Messages), queued)
	}
}

// TestReplicaFull: once the queue stream holds MaxBytes, a new record is
// refused at once, not retried: Stats.Refused counts it and the ticket
// waiting for it fails (with -fsync always, the acks waiting for it fail
// and the client sends again). Nothing already stored is dropped.
func TestReplicaFull(t *testing.T) {
	nd := startJetStreamNode(t)
	const maxBytes = 64 << 10
	a := startBoundedReplica(t, nd, "node-a", 0, maxBytes)
	id := "filler"
	a.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: record(id)})
	payload := make([]byte, 4<<10)
	var failed error
	stored := 0
	for seq := uint64(1); seq <= 64 && failed == nil; seq++ {
		tk := a.Apply(session.Op{Kind: session.OpPutMessage, ClientID: id, Seq: seq, QoS: 1,
			Msg: session.NewMessage([]byte("t/x"), payload, 1, false)})
		done := make(chan error, 1)
		a.WhenDurable(tk, func(err error) { done <- err })
		select {
		case failed = <-done:
		case <-time.After(20 * time.Second):
			failed = fmt.Errorf("ticket %d neither durable nor failed after 20s (retried instead of refused?)", tk)
		}
		if failed == nil {
			stored++
		}
	}
	if failed == nil {
		t.Fatalf("64 records of 4 KiB all stored in a stream bounded to %d bytes", maxBytes)
	}
	if a.Stats.Refused.Load() == 0 {
		t.Fatalf("a write failed (%v) but Refused is 0; want the full stream counted", failed)
	}
	if stored == 0 || stored*4<<10 > maxBytes {
		t.Fatalf("%d records of 4 KiB stored before the first refusal; want some, within %d bytes", stored, maxBytes)
	}
	if n := subjectRecords(t, nd, a, id); n != uint64(stored) {
		t.Fatalf("the stream holds %d records of the session, want the %d stored before it filled", n, stored)
	}
}
