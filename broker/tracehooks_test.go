package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/trace"
)

// startTraced runs a real broker with a tracer in mode m.
func startTraced(t *testing.T, m trace.Mode, mod func(*Config)) (*Server, *trace.Tracer) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.DataDir = t.TempDir()
	cfg.SysInterval = 0
	cfg.LogInterval = time.Hour
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	e := NewEngine(cfg)
	tr := trace.New(trace.Config{MaxEvents: 10_000, Messages: m}, e.TraceRings(), time.Now())
	e.SetTracer(tr)
	s := NewServer(e)
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, tr
}

// waitEvents waits until f selects n events and returns them.
func waitEvents(t *testing.T, tr *trace.Tracer, f trace.Filter, n int) []trace.Event {
	t.Helper()
	var evs []trace.Event
	waitFor(t, "trace events", func() bool {
		evs = tr.Find(f, time.Now().UnixMicro())
		return len(evs) >= n
	})
	return evs
}

func describeEvents(evs []trace.Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Kind.Action() + "/" + e.Info.String() + " " + e.ClientID + "; ")
	}
	return b.String()
}

// TestConnectionTrace: every connect, refusal and disconnect of a client is
// traced with the cloud's action and info, and the channel ID tells its
// connections apart.
func TestConnectionTrace(t *testing.T) {
	s, tr := startTraced(t, trace.MessagesQoS12, func(c *Config) { c.MaxClientIDLen = 23 })
	id := "GID_t@@@dev-1"

	a := dialRaw(t, s)
	a.connect(id, true, false)
	a.sendHex("e0 00") // DISCONNECT
	a.expectClosed(5 * time.Second)

	b := dialRaw(t, s)
	b.connect(id, true, false)
	c := dialRaw(t, s)
	c.connect(id, true, false) // takes the client ID over from b
	b.expectClosed(5 * time.Second)
	c.c.Close() // the client goes away

	long := strings.Repeat("x", 24)
	r := dialRaw(t, s)
	r.send(connectPacket(long, true, 0))
	r.expectPacket("20 02 00 02") // identifier rejected
	r.expectClosed(5 * time.Second)

	want := []struct {
		kind trace.Kind
		info trace.Info
	}{
		{trace.KindConnect, trace.InfoAccepted},
		{trace.KindDisconnect, trace.InfoDisconnectedByClient},
		{trace.KindConnect, trace.InfoAccepted},
		{trace.KindConnect, trace.InfoAccepted},
		{trace.KindClose, trace.InfoClientIDConflict},
		{trace.KindClose, trace.InfoClosedByClient},
	}
	evs := waitEvents(t, tr, trace.Filter{ClientID: id, Kinds: trace.Connections}, len(want))
	if len(evs) != len(want) {
		t.Fatalf("got %d events (%s), want %d", len(evs), describeEvents(evs), len(want))
	}
	// Events of the same millisecond on two loops may come in either
	// order; compare as a multiset, then check causality per channel.
	count := map[[2]uint8]int{}
	for _, w := range want {
		count[[2]uint8{uint8(w.kind), uint8(w.info)}]++
	}
	channels := map[uint64][]trace.Event{}
	for _, e := range evs {
		count[[2]uint8{uint8(e.Kind), uint8(e.Info)}]--
		channels[e.Channel] = append(channels[e.Channel], e)
	}
	for k, n := range count {
		if n != 0 {
			t.Fatalf("events %s: kind %d info %d off by %d", describeEvents(evs), k[0], k[1], n)
		}
	}
	if len(channels) != 3 {
		t.Fatalf("events on %d channels, want 3 (one per accepted connection): %s", len(channels), describeEvents(evs))
	}
	for ch, es := range channels {
		if len(es) != 2 || es[0].Kind != trace.KindConnect || es[1].Kind == trace.KindConnect {
			t.Fatalf("channel %x: %s; want a connect then its end", ch, describeEvents(es))
		}
	}
	ref := waitEvents(t, tr, trace.Filter{ClientID: long}, 1)
	if len(ref) != 1 || ref[0].Kind != trace.KindClose || ref[0].Info != trace.InfoInvalidParam {
		t.Fatalf("refused CONNECT traced as %s, want close/invalid param", describeEvents(ref))
	}
}

// TestMessageTrace: a QoS 1 message gets an ID; its trace names the
// publisher and each subscriber it was sent to, live or (for a persistent
// session that was offline) as an offline push. QoS 0 is not traced in
// the default mode.
func TestMessageTrace(t *testing.T) {
	s, tr := startTraced(t, trace.MessagesQoS12, nil)
	sub := dialRaw(t, s)
	sub.connect("sub", false, false)
	sub.subscribe(1, "t/#", 1)
	live := dialRaw(t, s)
	live.connect("live", true, false)
	live.subscribe(1, "t/#", 1)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)

	pub.publish("t/1", "one", 1, false, 7)
	pub.expectPacket("40 02 00 07")
	for _, c := range []*rawClient{sub, live} {
		p := c.readPublish()
		c.send(codec.AppendPuback(nil, p.PacketID))
	}
	pubs := waitEvents(t, tr, trace.Filter{ClientID: "pub", Kinds: trace.Publishes}, 1)
	if len(pubs) != 1 || pubs[0].Kind != trace.KindPublish || pubs[0].MsgID == 0 {
		t.Fatalf("publisher's trace: %s, want one pub_mqtt with an ID", describeEvents(pubs))
	}
	first := pubs[0].MsgID
	evs := waitEvents(t, tr, trace.Filter{MsgID: first}, 3)
	if len(evs) != 3 || evs[0].Kind != trace.KindPublish || evs[1].Kind != trace.KindPush || evs[2].Kind != trace.KindPush ||
		evs[1].ClientID == evs[2].ClientID {
		t.Fatalf("message %x: %s; want its pub_mqtt then a push to sub and to live", first, describeEvents(evs))
	}

	pub.publish("t/0", "zero", 0, false, 0)
	for _, c := range []*rawClient{sub, live} {
		if p := c.readPublish(); string(p.Payload) != "zero" {
			t.Fatalf("got %q, want the QoS 0 message", p.Payload)
		}
	}

	sub.sendHex("e0 00")
	sub.expectClosed(5 * time.Second)
	waitFor(t, "sub offline", func() bool { return !s.Engine().reg.Lookup("sub").IsConnected() })
	pub.publish("t/2", "two", 1, false, 8)
	pub.expectPacket("40 02 00 08")
	live.readPublish()
	sub = dialRaw(t, s)
	sub.connect("sub", false, true)
	if p := sub.readPublish(); string(p.Payload) != "two" {
		t.Fatalf("got %q, want the message queued while offline", p.Payload)
	}
	pubs = waitEvents(t, tr, trace.Filter{ClientID: "pub", Kinds: trace.Publishes}, 2)
	if len(pubs) != 2 {
		t.Fatalf("publisher's trace: %s; want 2 pub_mqtt (QoS 0 untraced)", describeEvents(pubs))
	}
	second := pubs[1].MsgID
	evs = waitEvents(t, tr, trace.Filter{MsgID: second, ClientID: "sub"}, 1)
	if len(evs) != 1 || evs[0].Kind != trace.KindPushOffline || evs[0].Info != trace.InfoPushOffline {
		t.Fatalf("message %x to sub: %s; want push_offline", second, describeEvents(evs))
	}
	evs = waitEvents(t, tr, trace.Filter{MsgID: second, ClientID: "live"}, 1)
	if len(evs) != 1 || evs[0].Kind != trace.KindPush {
		t.Fatalf("message %x to live: %s; want sub", second, describeEvents(evs))
	}
}

// TestMessageTraceModes: off records no message events, all records QoS 0
// deliveries too.
func TestMessageTraceModes(t *testing.T) {
	for _, m := range []trace.Mode{trace.MessagesOff, trace.MessagesAll} {
		t.Run(m.String(), func(t *testing.T) {
			s, tr := startTraced(t, m, nil)
			sub := dialRaw(t, s)
			sub.connect("sub", true, false)
			sub.subscribe(1, "t", 0)
			pub := dialRaw(t, s)
			pub.connect("pub", true, false)
			pub.publish("t", "x", 0, false, 0)
			sub.readPublish()
			pub.publish("t", "y", 1, false, 1)
			pub.expectPacket("40 02 00 01")
			sub.readPublish()
			// A loop publishes its round's events after it wrote the round's
			// packets (Ring.Sync), so the subscriber can be ahead of them.
			want := 0
			if m == trace.MessagesAll {
				want = 4 // two publishes, two pushes
			}
			evs := waitEvents(t, tr, trace.Filter{Kinds: trace.Messages}, want)
			if len(evs) != want {
				t.Fatalf("mode %v: %d message events (%s), want %d", m, len(evs), describeEvents(evs), want)
			}
			if conns := waitEvents(t, tr, trace.Filter{Kinds: trace.Connections}, 2); len(conns) < 2 {
				t.Fatalf("mode %v: connection events %s, want the two connects", m, describeEvents(conns))
			}
		})
	}
}
