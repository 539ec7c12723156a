package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

func TestConnectRules(t *testing.T) {
	s := startBroker(t, nil)
	t.Run("MQTT-3.1.0-1 first packet not CONNECT closes", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendHex("c0 00") // PINGREQ
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT-3.1.0-2 second CONNECT closes", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect("twice", true, false)
		r.send(connectPacket("twice", true, 0))
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT-3.1.2-2 bad protocol level gets CONNACK 0x01 then close", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendHex("10 0d 0004 4d515454 02 02 003c 0001 61") // level 2; 5 is MQTT 5.0 (v5_test.go)
		r.expectPacket("20 02 00 01")
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT-3.1.2-1 bad protocol name closes without CONNACK", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendHex("10 0d 0004 4d515458 04 02 003c 0001 61")
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT-3.1.2-3 reserved flag closes without CONNACK", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendHex("10 0d 0004 4d515454 04 03 003c 0001 61")
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT 3.1 MQIsdp level 3 accepted", func(t *testing.T) {
		r := dialRaw(t, s)
		r.send(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQIsdp"), ProtocolLevel: 3,
			CleanSession: true, KeepAlive: 30, ClientID: []byte("old-client")}))
		r.expectPacket("20 02 00 00")
		var info session.Info
		if !s.Engine().SessionInfo("old-client", &info) || info.ProtocolVersion != 3 || info.KeepAlive != 30 {
			t.Fatalf("got info %+v, want protocol 3 keep-alive 30", info)
		}
	})
	t.Run("MQTT-3.1.3-6 empty client ID with clean session gets an assigned ID", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect("", true, false)
		found := false
		s.Engine().RangeSessions(func(id string, connected bool) bool {
			found = found || strings.HasPrefix(id, "glassmq-") && connected
			return true
		})
		if !found {
			t.Fatal("no session with an assigned glassmq- client ID")
		}
	})
	t.Run("MQTT-3.1.3-8 empty client ID without clean session gets CONNACK 0x02", func(t *testing.T) {
		r := dialRaw(t, s)
		r.send(connectPacket("", false, 0))
		r.expectPacket("20 02 00 02")
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT-3.1.3-5 any UTF-8 client ID up to the limit", func(t *testing.T) {
		for _, id := range []string{"GID_test@@@device-1", "GID_test@@@dev 1*~/é+&=", strings.Repeat("x", 256)} {
			r := dialRaw(t, s)
			r.connect(id, true, false)
		}
	})
	t.Run("client ID over -max-client-id-len gets CONNACK 0x02", func(t *testing.T) {
		r := dialRaw(t, s)
		r.send(connectPacket(strings.Repeat("x", 257), true, 0))
		r.expectPacket("20 02 00 02")
		r.expectClosed(2 * time.Second)
	})
}

// TestTakeover covers [MQTT-3.1.4-2]: a second CONNECT with a connected
// client ID closes the old connection, publishes its will, and hands over
// the session when CleanSession is 0.
func TestTakeover(t *testing.T) {
	s := startBroker(t, nil)
	watcher := dialRaw(t, s)
	watcher.connect("watcher", true, false)
	watcher.subscribe(1, "wills/#", 1)

	old := dialRaw(t, s)
	old.send(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4,
		ClientID: []byte("dev-1"), WillFlag: true, WillQoS: 1, WillTopic: []byte("wills/dev-1"), WillMessage: []byte("gone")}))
	old.expectPacket("20 02 00 00")
	old.subscribe(1, "cmd/dev-1", 1)

	newer := dialRaw(t, s)
	newer.send(connectPacket("dev-1", false, 0))
	newer.expectPacket("20 02 01 00") // session present: subscriptions handed over
	old.expectClosed(2 * time.Second)

	w := watcher.readPublish()
	if string(w.TopicName) != "wills/dev-1" || string(w.Payload) != "gone" {
		t.Fatalf("watcher got %q %q, want the old connection's will", w.TopicName, w.Payload)
	}
	watcher.send(codec.AppendPuback(nil, w.PacketID))

	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("cmd/dev-1", "reboot", 1, false, 7)
	pub.expectPacket("40 02 0007")
	m := newer.readPublish()
	if string(m.Payload) != "reboot" || m.QoS != 1 || m.PacketID != 1 {
		t.Fatalf("new owner got %q qos %d id %d, want \"reboot\" qos 1 id 1", m.Payload, m.QoS, m.PacketID)
	}
	var info session.Info
	s.Engine().SessionInfo("dev-1", &info)
	if !info.Connected || info.Connections != 2 {
		t.Fatalf("got connected %v connections %d, want true 2", info.Connected, info.Connections)
	}
	var sawTakeover bool
	for _, ev := range info.History {
		sawTakeover = sawTakeover || ev.Reason == session.ReasonTakenOver
	}
	if !sawTakeover {
		t.Fatalf("history %+v has no taken_over event", info.History)
	}

	t.Run("clean session takeover starts a new session", func(t *testing.T) {
		third := dialRaw(t, s)
		third.send(connectPacket("dev-1", true, 0))
		third.expectPacket("20 02 00 00")
		newer.expectClosed(2 * time.Second)
		var info session.Info
		s.Engine().SessionInfo("dev-1", &info)
		if len(info.Subscriptions) != 0 {
			t.Fatalf("got subscriptions %+v, want none after a clean-session takeover", info.Subscriptions)
		}
	})
}

// TestTakeoverStorm has many connections race for one client ID; exactly
// one may end up connected, and the session stays usable.
func TestTakeoverStorm(t *testing.T) {
	s := startBroker(t, nil)
	const n = 20
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = dialRaw(t, s)
	}
	for _, c := range clients {
		c.send(connectPacket("contested", false, 0))
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		// All n connections must have been accepted and all but one
		// closed, not just the first few accepted: a straggler would take
		// over from last below.
		var info session.Info
		var st stats.BrokerSnapshot
		s.Engine().SessionInfo("contested", &info)
		s.Engine().Stats().Snapshot(&st)
		if info.Connected && st.Disconnects >= n-1 && st.Connections == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var st stats.BrokerSnapshot
	s.Engine().Stats().Snapshot(&st)
	if st.Connections != 1 || st.Disconnects < n-1 {
		t.Fatalf("got %d open connections and %d closed, want exactly 1 owner and %d closed", st.Connections, st.Disconnects, n-1)
	}
	last := dialRaw(t, s)
	last.connect("contested", false, true)
	last.subscribe(1, "x", 0)
}
