package broker

import (
	"bytes"
	"slices"
	"strconv"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// keepTransport keeps what is written to it.
type keepTransport struct {
	sinkTransport
	got []byte
}

func (t *keepTransport) Write(b []byte) error {
	t.got = append(t.got, b...)
	return nil
}

// remoteFixture builds an engine with one loop that runs nothing by itself
// and a connected QoS 0 subscriber per topic on it: what DeliverRemote
// routes waits in the loop's hand-off queue until the test drains it.
func remoteFixture(tb testing.TB, maxOutbound int, topics ...string) (*Engine, *loopState, []*keepTransport) {
	cfg := DefaultConfig()
	cfg.Loops = 1
	if maxOutbound > 0 {
		cfg.MaxOutbound = maxOutbound
	}
	e := NewEngine(cfg)
	h := e.BindLoop(&countLoop{})
	var sinks []*keepTransport
	for i, topic := range topics {
		tr := &keepTransport{}
		e.router.add(topic, attachedConn(tb, e, h, tr, "sub-"+strconv.Itoa(i)).sess, 0, nil)
		sinks = append(sinks, tr)
	}
	return e, h.ls, sinks
}

// deliverRemote hands msgs (topic, payload pairs) to e as messages from
// another node, QoS 0.
func deliverRemote(e *Engine, msgs ...string) {
	e.DeliverRemote(func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64)) {
		for i := 0; i < len(msgs); i += 2 {
			deliver([]byte(msgs[i]), []byte(msgs[i+1]), nil, 0, false, 0)
		}
	})
}

// payloads decodes the QoS 0 PUBLISHes in b and returns their payloads.
func payloads(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	var p codec.Publish
	for len(b) > 0 {
		n, err := codec.Frame(b, 0)
		if err != nil || n == 0 {
			t.Fatalf("written bytes do not frame: %v", err)
		}
		if _, err := p.Decode(b[:n]); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(p.Payload))
		b = b[n:]
	}
	return out
}

// TestRemoteRunOneWrite: messages from another node for one subscriber,
// routed off its loop, reach it in order and counted one by one, though a
// run of them to one connection travels as one delivery of the hand-off.
func TestRemoteRunOneWrite(t *testing.T) {
	e, ls, sinks := remoteFixture(t, 0, "a", "b")
	deliverRemote(e, "a", "a1", "a", "a2", "b", "b1", "a", "a3", "a", "a4", "a", "a5")
	bs := ls.in.take()
	if len(bs) != 1 {
		t.Fatalf("%d batches handed over, want 1", len(bs))
	}
	var runs []int
	for _, it := range bs[0].items {
		runs = append(runs, 1+it.more)
	}
	if want := []int{2, 1, 3}; !slices.Equal(runs, want) {
		t.Errorf("deliveries of %v messages, want %v (a run per connection and stretch)", runs, want)
	}
	for _, b := range bs {
		ls.runBatch(b)
	}
	ls.flush()
	if got := payloads(t, sinks[0].got); !slices.Equal(got, []string{"a1", "a2", "a3", "a4", "a5"}) {
		t.Errorf("subscriber of a got %q", got)
	}
	if got := payloads(t, sinks[1].got); !slices.Equal(got, []string{"b1"}) {
		t.Errorf("subscriber of b got %q", got)
	}
	if n := e.stats.Loop(0).MessagesSent.Load(); n != 6 {
		t.Errorf("%d messages counted sent, want 6", n)
	}
}

// TestRemoteRunOutboundLimit: a run that does not fit under -max-outbound
// is cut where a message would pass it, as one message at a time would be:
// the first ones go, the rest are dropped and counted.
func TestRemoteRunOutboundLimit(t *testing.T) {
	size := codec.PublishSize(0, 1, 2)
	e, ls, sinks := remoteFixture(t, 2*size+size/2, "a")
	deliverRemote(e, "a", "m1", "a", "m2", "a", "m3", "a", "m4", "a", "m5")
	ls.drainHandoff()
	if got := payloads(t, sinks[0].got); !slices.Equal(got, []string{"m1", "m2"}) {
		t.Errorf("subscriber got %q, want the two that fit", got)
	}
	if n := e.stats.Loop(0).DroppedQoS0.Load(); n != 3 {
		t.Errorf("%d dropped, want 3", n)
	}
	if !bytes.Equal(sinks[0].got[:size], codec.AppendPublishParts(nil, false, 0, false, []byte("a"), 0, []byte("m1"))) {
		t.Errorf("first packet % x", sinks[0].got[:size])
	}
}
