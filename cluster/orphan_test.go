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
	t.Parallel() // servers on ports of their own
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

// orphanRecords returns the records kept for node's sessions. Right
// after a node died JetStream may not answer for a while (its API or the
// stream electing a leader): the read is tried again, as the replay does,
// for up to 30 s.
func orphanRecords(t *testing.T, o *orphans, node string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var out [][]byte
		_, err := o.read(ctx, o.subject(node), replayFrom{}, func(rs []keptRecord) {
			for _, r := range rs {
				out = append(out, append([]byte(nil), r.data...))
			}
		})
		if err == nil {
			return out
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestOrphanDirect: the rules by which a replay leaves out a kept message
// that reached the rebuilt session directly. This node's own messages
// reached it when numbered after the registration; a node that answered
// the cut sent its later messages directly; an earlier one, or one from a
// node that did not answer, reached it only if the Router handed it over
// after the registration.
func TestOrphanDirect(t *testing.T) {
	o := &orphans{r: &Router{origin: "me@1"}}
	cs := cutState{cuts: map[string]uint64{"b@1": 50}, origins: map[string]uint32{"b@1": 0, "dead@1": 1}}
	set := map[arrival]bool{{0, 40}: true, {1, 7}: true}
	c := &rebuiltClient{id: "x", self: 100}
	for _, tc := range []struct {
		origin string
		seq    uint64
		direct bool
	}{
		{"me@1", 100, false}, // numbered before the registration ended: replayed
		{"me@1", 101, true},
		{"b@1", 51, true},   // after b's cut
		{"b@1", 40, true},   // before the cut, arrived after the registration
		{"b@1", 41, false},  // before the cut, never arrived
		{"dead@1", 7, true}, // no cut: arrived after the registration
		{"dead@1", 8, false},
		{"gone@2", 1, false}, // never heard of: replayed
	} {
		e := &envelope{origin: []byte(tc.origin), seq: tc.seq, qos: 1}
		if got := o.direct(c, set, e, cs); got != tc.direct {
			t.Errorf("%s #%d: direct %v, want %v", tc.origin, tc.seq, got, tc.direct)
		}
	}
}
