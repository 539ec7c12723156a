package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// TestQoS2ExactlyOnce covers [MQTT-4.3.3-2]: a duplicate PUBLISH before
// PUBREL is acknowledged again but not delivered again.
func TestQoS2ExactlyOnce(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialRaw(t, s)
	sub.connect("sub", true, false)
	sub.subscribe(1, "eo", 2)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("eo", "once", 2, false, 42)
	pub.expectPacket("50 02 002a") // PUBREC
	pub.send(codec.AppendPublish(nil, &codec.Publish{Dup: true, QoS: 2, TopicName: []byte("eo"), PacketID: 42, Payload: []byte("once")}))
	pub.expectPacket("50 02 002a") // acknowledged again
	pub.sendHex("62 02 002a")      // PUBREL
	pub.expectPacket("70 02 002a") // PUBCOMP

	m := sub.readPublish()
	if string(m.Payload) != "once" || m.QoS != 2 || m.Dup || m.PacketID != 1 {
		t.Fatalf("got %q qos %d dup %v id %d, want \"once\" qos 2 dup false id 1", m.Payload, m.QoS, m.Dup, m.PacketID)
	}
	sub.sendHex("50 02 0001")      // PUBREC
	sub.expectPacket("62 02 0001") // PUBREL
	sub.sendHex("70 02 0001")      // PUBCOMP
	sub.expectSilence(300 * time.Millisecond)

	t.Run("same packet ID after PUBREL is a new message", func(t *testing.T) {
		pub.publish("eo", "again", 2, false, 42)
		pub.expectPacket("50 02 002a")
		if m := sub.readPublish(); string(m.Payload) != "again" {
			t.Fatalf("got %q, want \"again\"", m.Payload)
		}
	})
}

// TestWrongAckCloses: an acknowledgement of the wrong kind for an
// outgoing delivery in flight is a protocol violation and closes the
// connection; one for a packet ID not in flight is ignored.
func TestWrongAckCloses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		qos   byte
		acks  []string // hex packets the subscriber sends after the PUBLISH (id 1)
		close bool
	}{
		{"PUBREC for QoS 1", 1, []string{"50 02 0001"}, true},
		{"PUBCOMP for QoS 1", 1, []string{"70 02 0001"}, true},
		{"PUBACK for QoS 2", 2, []string{"40 02 0001"}, true},
		{"PUBCOMP before PUBREC", 2, []string{"70 02 0001"}, true},
		{"PUBACK after PUBREC", 2, []string{"50 02 0001", "40 02 0001"}, true},
		{"PUBACK not in flight", 1, []string{"40 02 0009", "40 02 0001"}, false},
		{"PUBREC not in flight", 2, []string{"50 02 0009", "50 02 0001", "70 02 0001"}, false},
		{"PUBCOMP not in flight", 2, []string{"70 02 0009", "50 02 0001", "70 02 0001"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startBroker(t, nil)
			sub := dialRaw(t, s)
			sub.connect("sub", true, false)
			sub.subscribe(1, "w", tc.qos)
			pub := dialRaw(t, s)
			pub.connect("pub", true, false)
			pub.publish("w", "m", tc.qos, false, 7)
			if m := sub.readPublish(); m.PacketID != 1 || m.QoS != tc.qos {
				t.Fatalf("got id %d qos %d, want 1 %d", m.PacketID, m.QoS, tc.qos)
			}
			for _, a := range tc.acks {
				sub.sendHex(a)
				if a == "50 02 0001" && tc.qos == 2 {
					sub.expectPacket("62 02 0001") // PUBREL for the real PUBREC only
				}
			}
			if tc.close {
				sub.expectClosed(2 * time.Second)
				return
			}
			// Still connected and serving: a PINGREQ is answered, and no
			// PUBREL answered the unknown PUBREC.
			sub.sendHex("c0 00")
			sub.expectPacket("d0 00")
			var info session.Info
			if !s.Engine().SessionInfo("sub", &info) || info.InflightLen != 0 {
				t.Fatalf("in flight %d, want 0", info.InflightLen)
			}
		})
	}
}

// TestQoSDowngrade: delivery QoS is min(publish QoS, subscription QoS)
// [MQTT-3.8.4-6].
func TestQoSDowngrade(t *testing.T) {
	s := startBroker(t, nil)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	for _, tc := range []struct{ pubQoS, subQoS, want byte }{{2, 0, 0}, {2, 1, 1}, {1, 2, 1}, {0, 2, 0}, {2, 2, 2}} {
		t.Run(fmt.Sprintf("pub%d-sub%d", tc.pubQoS, tc.subQoS), func(t *testing.T) {
			sub := dialRaw(t, s)
			topic := fmt.Sprintf("dg/%d%d", tc.pubQoS, tc.subQoS)
			sub.connect("sub-"+topic, true, false)
			sub.subscribe(1, topic, tc.subQoS)
			pub.publish(topic, "x", tc.pubQoS, false, 9)
			if tc.pubQoS > 0 {
				pub.read() // PUBACK or PUBREC
			}
			if tc.pubQoS == 2 {
				pub.sendHex("62 02 0009")
				pub.read()
			}
			if m := sub.readPublish(); m.QoS != tc.want {
				t.Fatalf("got qos %d, want %d", m.QoS, tc.want)
			}
		})
	}
}

// TestInflightWindowAndRedelivery: at most -max-inflight messages are
// unacknowledged; the rest wait; on reconnect of the persistent session the
// unacknowledged ones are sent again with DUP 1 and their packet IDs
// [MQTT-4.4.0-1], then the queue continues. Packet IDs start at 1.
func TestInflightWindowAndRedelivery(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.MaxInflight = 3 })
	sub := dialRaw(t, s)
	sub.connect("slow", false, false)
	sub.subscribe(1, "w", 1)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	for i := 0; i < 5; i++ {
		pub.publish("w", fmt.Sprint(i), 1, false, uint16(i+1))
		pub.read()
	}
	for i := 0; i < 3; i++ {
		m := sub.readPublish()
		if m.PacketID != uint16(i+1) || m.Dup || string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d: got id %d dup %v %q", i, m.PacketID, m.Dup, m.Payload)
		}
	}
	sub.expectSilence(300 * time.Millisecond) // window full
	var info session.Info
	s.Engine().SessionInfo("slow", &info)
	if info.InflightLen != 3 || info.QueueLen != 2 || info.InflightMax != 3 {
		t.Fatalf("got inflight %d/%d queue %d, want 3/3 and 2", info.InflightLen, info.InflightMax, info.QueueLen)
	}
	sub.sendHex("40 02 0001") // ack the first: one more flows
	if m := sub.readPublish(); m.PacketID != 4 || string(m.Payload) != "3" {
		t.Fatalf("got id %d %q, want id 4 \"3\"", m.PacketID, m.Payload)
	}
	sub.c.Close()
	waitFor(t, "session offline", func() bool { return !s.Engine().reg.Lookup("slow").IsConnected() })

	again := dialRaw(t, s)
	again.connect("slow", false, true)
	for _, want := range []struct {
		id  uint16
		p   string
		dup bool
	}{{2, "1", true}, {3, "2", true}, {4, "3", true}} {
		m := again.readPublish()
		if m.PacketID != want.id || string(m.Payload) != want.p || m.Dup != want.dup {
			t.Fatalf("got id %d %q dup %v, want id %d %q dup %v", m.PacketID, m.Payload, m.Dup, want.id, want.p, want.dup)
		}
	}
	again.sendHex("40 02 0002")
	if m := again.readPublish(); string(m.Payload) != "4" || m.Dup || m.PacketID != 5 {
		t.Fatalf("got id %d %q dup %v, want id 5 \"4\" dup false", m.PacketID, m.Payload, m.Dup)
	}
}

// TestQoS2RedeliveryOfPubrel: a released QoS 2 message resends PUBREL, not
// PUBLISH, on reconnect.
func TestQoS2RedeliveryOfPubrel(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialRaw(t, s)
	sub.connect("q2", false, false)
	sub.subscribe(1, "q2", 2)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("q2", "x", 2, false, 1)
	pub.expectPacket("50 02 0001")
	m := sub.readPublish()
	sub.send(codec.AppendPubrec(nil, m.PacketID))
	sub.expectPacket("62 02 0001")
	sub.c.Close()
	waitFor(t, "session offline", func() bool { return !s.Engine().reg.Lookup("q2").IsConnected() })
	again := dialRaw(t, s)
	again.connect("q2", false, true)
	again.expectPacket("62 02 0001")
}

// TestOfflineQueue: QoS 1/2 messages for an offline persistent session are
// queued up to -max-queued; beyond that the oldest are dropped and counted.
// QoS 0 messages are not queued.
func TestOfflineQueue(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.MaxQueued = 5 })
	sub := dialRaw(t, s)
	sub.connect("offline", false, false)
	sub.subscribe(1, "q/#", 2)
	sub.sendHex("e0 00")
	waitFor(t, "session offline", func() bool { return !s.Engine().reg.Lookup("offline").IsConnected() })
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("q/0", "qos0", 0, false, 0)
	for i := 0; i < 10; i++ {
		pub.publish("q/1", fmt.Sprint(i), 1, false, uint16(i+1))
		pub.read()
	}
	var info session.Info
	s.Engine().SessionInfo("offline", &info)
	if info.QueueLen != 5 || info.QueueDropped != 5 || info.Connected {
		t.Fatalf("got queue %d dropped %d connected %v, want 5 5 false", info.QueueLen, info.QueueDropped, info.Connected)
	}
	again := dialRaw(t, s)
	again.connect("offline", false, true)
	for i := 5; i < 10; i++ {
		m := again.readPublish()
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("got %q, want %q (the newest five, in order)", m.Payload, fmt.Sprint(i))
		}
		again.send(codec.AppendPuback(nil, m.PacketID))
	}
	again.expectSilence(200 * time.Millisecond)
}

// TestSessionExpiry: an offline persistent session is removed after
// -session-expiry; a reconnect then gets session present 0.
func TestSessionExpiry(t *testing.T) {
	clock := newFakeClock()
	s := startBroker(t, func(c *Config) { c.SessionExpiry = time.Hour; c.Clock = clock })
	sub := dialRaw(t, s)
	sub.connect("expiring", false, false)
	sub.subscribe(1, "e", 1)
	sub.sendHex("e0 00")
	waitFor(t, "offline", func() bool { return !s.Engine().reg.Lookup("expiring").IsConnected() })
	clock.Advance(59 * time.Minute)
	clock.Advance(59 * time.Second)       // the expiry check runs at most once a second
	clock.Advance(100 * time.Millisecond) // returns once the previous tick was handled
	if s.Engine().reg.Lookup("expiring") == nil {
		t.Fatal("session expired before -session-expiry")
	}
	clock.Advance(2 * time.Second)
	waitFor(t, "session expired", func() bool { return s.Engine().reg.Lookup("expiring") == nil })
	if got := s.Engine().Stats().Subscriptions.Load(); got != 0 {
		t.Fatalf("got %d subscriptions after expiry, want 0", got)
	}
	again := dialRaw(t, s)
	again.connect("expiring", false, false)
}

// TestPerTopicOrdering: messages from one publisher on one topic arrive in
// order at QoS 0, 1 and 2, across event loops.
func TestPerTopicOrdering(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.MaxQueued = 100000 })
	for qos := byte(0); qos <= 2; qos++ {
		sub := dialRaw(t, s)
		sub.connect(fmt.Sprintf("order-sub-%d", qos), true, false)
		topic := fmt.Sprintf("order/%d", qos)
		sub.subscribe(1, topic, qos)
		pub := dialRaw(t, s)
		pub.connect(fmt.Sprintf("order-pub-%d", qos), true, false)
		const n = 500
		go func() {
			for i := 0; i < n; i++ {
				pub.c.Write(codec.AppendPublish(nil, &codec.Publish{QoS: qos, TopicName: []byte(topic), PacketID: uint16(i + 1), Payload: []byte(fmt.Sprint(i))}))
			}
		}()
		for i := 0; i < n; {
			p := sub.read()
			if codec.PacketType(p) == codec.TypePubrel {
				sub.send(codec.AppendPubcomp(nil, uint16(p[2])<<8|uint16(p[3])))
				continue
			}
			var m codec.Publish
			if _, err := m.Decode(p); err != nil {
				t.Fatalf("qos %d: got % x: %v", qos, p, err)
			}
			if string(m.Payload) != fmt.Sprint(i) {
				t.Fatalf("qos %d: message %d is %q", qos, i, m.Payload)
			}
			i++
			switch qos {
			case 1:
				sub.send(codec.AppendPuback(nil, m.PacketID))
			case 2:
				sub.send(codec.AppendPubrec(nil, m.PacketID))
			}
		}
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
