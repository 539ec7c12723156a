package broker

import (
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
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
	t.Run("MQTT-3.1.2-24 keep-alive timeout after 1.5x", func(t *testing.T) {
		longtest.Skip(t, "waits 1.5 keep-alive periods")
		c := dialRaw(t, s)
		start := time.Now()
		c.send(willConnect("sleepy", 1))
		c.expectPacket("20 02 00 00")
		// Activity every 1.2 s keeps it alive beyond 1.5 s.
		time.Sleep(1200 * time.Millisecond)
		c.sendHex("c0 00")
		c.expectPacket("d0 00")
		c.expectClosed(3 * time.Second)
		idle := time.Since(start) - 1200*time.Millisecond
		if idle < 1500*time.Millisecond {
			t.Fatalf("closed after %v idle, want at least 1.5 s", idle)
		}
		expectWill(t, "sleepy")
		var info session.Info
		if s.Engine().SessionInfo("sleepy", &info) {
			t.Fatalf("clean session still present after close: %+v", info)
		}
	})
}
