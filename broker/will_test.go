package broker

import (
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

func willConnect(id string, keepAlive uint16) []byte {
	return willConnectClean(id, keepAlive, true)
}

func willConnectClean(id string, keepAlive uint16, clean bool) []byte {
	return codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4,
		CleanSession: clean, KeepAlive: keepAlive, ClientID: []byte(id), WillFlag: true,
		WillTopic: []byte("will/" + id), WillMessage: []byte("bye " + id)})
}

// TestWills: the will is published on every abnormal close [MQTT-3.1.2-8]
// and discarded on DISCONNECT [MQTT-3.1.2-10].
func TestWills(t *testing.T) {
	s := startBroker(t, nil)
	watcher := dialRaw(t, s)
	watcher.connect("watcher", true, false)
	watcher.subscribe(1, "will/#", 0)
	expectWill := func(t *testing.T, id string) {
		t.Helper()
		if m := watcher.readPublish(); string(m.TopicName) != "will/"+id {
			t.Fatalf("got %q, want will/%s", m.TopicName, id)
		}
	}
	t.Run("network error", func(t *testing.T) {
		c := dialRaw(t, s)
		c.send(willConnect("net", 0))
		c.expectPacket("20 02 00 00")
		c.c.Close()
		expectWill(t, "net")
	})
	t.Run("protocol error", func(t *testing.T) {
		c := dialRaw(t, s)
		c.send(willConnect("proto", 0))
		c.expectPacket("20 02 00 00")
		c.sendHex("30 03 0001 23") // PUBLISH to topic "#"
		c.expectClosed(2 * time.Second)
		expectWill(t, "proto")
	})
	t.Run("DISCONNECT discards the will", func(t *testing.T) {
		c := dialRaw(t, s)
		c.send(willConnect("polite", 0))
		c.expectPacket("20 02 00 00")
		c.sendHex("e0 00")
		c.expectClosed(2 * time.Second)
		watcher.expectSilence(200 * time.Millisecond)
	})
	t.Run("kick with will", func(t *testing.T) {
		c := dialRaw(t, s)
		c.send(willConnectClean("kicked", 0, false)) // persistent, so the session outlives the kick
		c.expectPacket("20 02 00 00")
		if !s.Engine().Kick("kicked", true) {
			t.Fatal("Kick returned false for a connected client")
		}
		c.expectClosed(2 * time.Second)
		expectWill(t, "kicked")
		var info session.Info
		s.Engine().SessionInfo("kicked", &info)
		if info.DisconnectReason != session.ReasonKicked {
			t.Fatalf("got reason %v, want kicked", info.DisconnectReason)
		}
	})
	t.Run("kick without will", func(t *testing.T) {
		c := dialRaw(t, s)
		c.send(willConnect("quiet", 0))
		c.expectPacket("20 02 00 00")
		s.Engine().Kick("quiet", false)
		c.expectClosed(2 * time.Second)
		watcher.expectSilence(200 * time.Millisecond)
	})
}

// TestKeepAliveOnClock [MQTT-3.1.2-24]: with keep-alive 10 s the broker
// closes after 1.5 x 10 s without a packet, not earlier, and publishes the
// will; a packet restarts the count. It runs on a fake clock.
func TestKeepAliveOnClock(t *testing.T) {
	clock := newFakeClock()
	s := startBroker(t, func(c *Config) { c.Clock = clock })
	watcher := dialRaw(t, s)
	watcher.connect("watcher", true, false)
	watcher.subscribe(1, "will/#", 0)
	c := dialRaw(t, s)
	c.send(willConnect("sleepy", 10))
	c.expectPacket("20 02 00 00")
	clock.Advance(12 * time.Second)
	c.sendHex("c0 00") // activity at +12 s restarts the count
	c.expectPacket("d0 00")
	clock.Advance(14900 * time.Millisecond) // 14.9 s idle: still alive
	c.sendHex("c0 00")
	c.expectPacket("d0 00")
	clock.Advance(14900 * time.Millisecond)
	c.expectSilence(100 * time.Millisecond)
	clock.Advance(200 * time.Millisecond) // 15.1 s idle
	c.expectClosed(3 * time.Second)
	if m := watcher.readPublish(); string(m.TopicName) != "will/sleepy" {
		t.Fatalf("got %q, want will/sleepy", m.TopicName)
	}
	var info session.Info
	if s.Engine().SessionInfo("sleepy", &info) {
		t.Fatalf("clean session still present after close: %+v", info)
	}
}
