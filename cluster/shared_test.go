package cluster

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestQueueName(t *testing.T) {
	for _, tc := range []struct{ group, filter string }{
		{"g", "a/b"},
		{"workers", "#"},
		{"g.1 x", "a/+/c d/#"},
		{"ü", "$SYS/#"},
	} {
		q := queueName(tc.group, tc.filter)
		g, f, ok := parseQueue(q)
		if !ok || g != tc.group || f != tc.filter {
			t.Errorf("parseQueue(queueName(%q, %q) = %q) = %q, %q, %v", tc.group, tc.filter, q, g, f, ok)
		}
	}
	if queueName("g", "a/+") == queueName("g", "a/#") {
		t.Error("one group at two filters shares a queue name: NATS would give a message matching both to one of them")
	}
	for _, q := range []string{"", "g", "g.a.b", "g._2", "g_zz.a"} {
		if _, _, ok := parseQueue(q); ok {
			t.Errorf("parseQueue(%q) accepted", q)
		}
	}
}

func marker(node, origin string, seq uint64, flagged bool) []byte {
	b := appendField(appendField(nil, node), origin)
	b = binary.AppendUvarint(b, seq)
	if flagged {
		b = append(b, markShared)
	}
	return b
}

// TestSharedMarkerHoldsAnswer: a marker flagged as following shared
// batches is answered only once the origin's shared marker with that
// number (or a later one) was taken, so the answer covers the shared
// batches that NATS gave this node; an unflagged marker is answered at
// once unless a flagged one of its origin still waits, and answers stay
// cumulative.
func TestSharedMarkerHoldsAnswer(t *testing.T) {
	nodes := startNodes(t, 1)
	r, err := NewRouter(nodes[0], &gate{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	answers := make(chan uint64, 16)
	sub, err := nodes[0].sc.Subscribe(ackPrefix+".origin-node", func(m *nats.Msg) {
		_, b, _ := field(m.Data)
		_, b, _ = field(b)
		seq, _, _ := uvarint(b)
		answers <- seq
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	nodes[0].sc.Flush() // the second connection has echo: it hears the node's own answers
	want := func(seq uint64) {
		t.Helper()
		select {
		case got := <-answers:
			if got != seq {
				t.Fatalf("answered %d, want %d", got, seq)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer, want %d", seq)
		}
	}
	none := func() {
		t.Helper()
		nodes[0].NC().Flush()
		select {
		case got := <-answers:
			t.Fatalf("answered %d while the shared batches were not all taken", got)
		case <-time.After(100 * time.Millisecond):
		}
	}
	var rs runState
	const o = "origin-node@1"
	r.takeMarker(&rs, marker("origin-node", o, 5, true))
	none()
	r.takeSharedMarker(&rs, marker("origin-node", o, 5, true))
	want(5)
	r.takeMarker(&rs, marker("origin-node", o, 6, false))
	want(6)
	r.takeMarker(&rs, marker("origin-node", o, 7, true))
	r.takeMarker(&rs, marker("origin-node", o, 8, false)) // behind a waiting one: waits too
	none()
	r.takeSharedMarker(&rs, marker("origin-node", o, 7, true))
	want(8)
	r.takeMarker(&rs, marker("origin-node", o, 9, true))
	r.takeMarker(&rs, marker("origin-node", o, 10, true))
	r.takeSharedMarker(&rs, marker("origin-node", o, 9, true)) // not yet the batches before 10
	none()
	r.takeSharedMarker(&rs, marker("origin-node", o, 10, true))
	want(10)
	r.takeSharedMarker(&rs, marker("origin-node", o, 12, true)) // the shared copy first
	r.takeMarker(&rs, marker("origin-node", o, 12, true))
	want(12)
}
