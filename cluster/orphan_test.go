package cluster

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
)

// TestOrphanRecordsHoldAcks: node b takes a QoS 1 message from a but its
// engine holds it, so b never answers the marker, and then b dies. a does
// not release the message's ack after b's 1.5 s of silence as it would
// without orphans: first the batch is in the stream GLASSMQ_ORPHAN on b's
// subject. A message published on a afterwards, in b's dead window, is
// stored there too before it is confirmed.
func TestOrphanRecordsHoldAcks(t *testing.T) {
	longtest.Skip(t, "starts three nats-servers and stops one")
	nodes := startNodes(t, 3)
	ga, gb, gc := &gate{}, &gate{}, &gate{}
	ra, err := NewRouter(nodes[0], ga)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	rb, err := NewRouter(nodes[1], gb)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := NewRouter(nodes[2], gc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := ra.StartOrphans(OrphanConfig{Lease: 2 * time.Second, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	rb.Interest("o/#", true)
	deadline := time.Now().Add(30 * time.Second)
	for gb.count("o/probe") == 0 || !ra.knows(nodes[1].Name()) || !ra.knows(nodes[2].Name()) {
		if time.Now().After(deadline) {
			t.Fatal("no probe crossed, or a node's heartbeat never came")
		}
		ra.Forward([]byte("o/probe"), nil, 0, false, nil, 0, "")
		ra.Flush(false)
		time.Sleep(50 * time.Millisecond)
	}

	gb.mu.Lock()
	gb.hold = make(chan struct{})
	gb.mu.Unlock()
	defer func() { // let b's router go, so that it can close
		gb.mu.Lock()
		close(gb.hold)
		gb.hold = nil
		gb.mu.Unlock()
		rb.Close()
	}()
	n1 := ra.Forward([]byte("o/1"), []byte("first"), 1, false, nil, 0, "pub")
	ra.Flush(true)
	done := make(chan struct{})
	ra.WhenConfirmed(n1, func() { close(done) })
	select {
	case <-done:
		t.Fatal("o/1 confirmed while node b's engine held it")
	case <-time.After(300 * time.Millisecond):
	}
	nodes[1].Close() // node b dies with the message unconfirmed
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("o/1 never released after node b died")
	}
	o := ra.orph.Load()
	if got := orphanRecords(t, o, "b"); len(got) != 1 || !bytes.Contains(got[0], []byte("first")) {
		t.Fatalf("when o/1 was released, node b's subject held %d records, want 1 with o/1", len(got))
	}

	n2 := ra.Forward([]byte("o/2"), []byte("second"), 2, false, nil, 0, "pub")
	ra.Flush(true)
	ra.WaitConfirmed(n2)
	got := orphanRecords(t, o, "b")
	if len(got) != 2 || !bytes.Contains(got[1], []byte("second")) {
		t.Fatalf("when o/2, published in node b's dead window, was released, b's subject held %d records, want 2", len(got))
	}
	if w := ra.OrphanStats().Written.Load(); w != 2 {
		t.Fatalf("Written = %d, want 2", w)
	}
}

// orphanRecords returns the records kept for node's sessions.
func orphanRecords(t *testing.T, o *orphans, node string) [][]byte {
	t.Helper()
	var out [][]byte
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := o.read(ctx, o.subject(node), time.Time{}, func(rs []record) {
		for _, r := range rs {
			out = append(out, append([]byte(nil), r.data...))
		}
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
