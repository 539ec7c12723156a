package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// TestLimits: each limit closes or refuses only the offender; a
// well-behaved client on the same broker keeps working.
func TestLimits(t *testing.T) {
	s := startBroker(t, func(c *Config) {
		c.MaxPacketSize = 1024
		c.MaxSubscriptions = 2
		c.MaxConnections = 6
		c.ConnectTimeout = 300 * time.Millisecond
	})
	good := dialRaw(t, s)
	good.connect("good", true, false)
	good.subscribe(1, "ok", 0)
	stillGood := func(t *testing.T) {
		t.Helper()
		good.publish("ok", "alive", 0, false, 0)
		if m := good.readPublish(); string(m.Payload) != "alive" {
			t.Fatalf("good client got %q", m.Payload)
		}
	}
	t.Run("max packet size", func(t *testing.T) {
		c := dialRaw(t, s)
		c.connect("big", true, false)
		c.publish("ok", strings.Repeat("x", 2000), 0, false, 0)
		c.expectClosed(2 * time.Second)
		stillGood(t)
	})
	t.Run("huge remaining length before CONNECT", func(t *testing.T) {
		c := dialRaw(t, s)
		c.sendHex("10 ff ff ff 7f")
		c.expectClosed(2 * time.Second)
		stillGood(t)
	})
	t.Run("max subscriptions", func(t *testing.T) {
		c := dialRaw(t, s)
		c.connect("subs", true, false)
		c.send(codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte("a"), QoS: 0},
			{TopicFilter: []byte("b"), QoS: 1}, {TopicFilter: []byte("c"), QoS: 1}, {TopicFilter: []byte("a"), QoS: 2}}))
		c.expectPacket("90 06 0001 00 01 80 02") // re-subscribing an existing filter is not a new one
	})
	t.Run("garbage bytes", func(t *testing.T) {
		var before, after stats.BrokerSnapshot
		s.Engine().Stats().Snapshot(&before)
		c := dialRaw(t, s)
		c.sendHex("ff ff ff ff ff ff")
		c.expectClosed(2 * time.Second)
		stillGood(t)
		s.Engine().Stats().Snapshot(&after)
		if after.Malformed <= before.Malformed {
			t.Fatalf("malformed count %d -> %d, want it counted", before.Malformed, after.Malformed)
		}
	})
	t.Run("half a CONNECT then silence", func(t *testing.T) {
		c := dialRaw(t, s)
		c.sendHex("10 0d 0004 4d51")
		c.expectClosed(3 * time.Second)
		stillGood(t)
	})
	t.Run("CONNECT byte by byte", func(t *testing.T) {
		c := dialRaw(t, s)
		for _, b := range connectPacket("slowpoke", true, 0) {
			c.send([]byte{b})
			time.Sleep(5 * time.Millisecond)
		}
		c.expectPacket("20 02 00 00")
	})
	t.Run("max connections", func(t *testing.T) {
		var extra []*rawClient
		for s.Engine().Stats().Connections.Load() < int64(s.Engine().cfg.MaxConnections) {
			c := dialRaw(t, s)
			c.connect("filler-"+hex16(uint16(len(extra))), true, false)
			extra = append(extra, c)
		}
		c := dialRaw(t, s)
		c.expectClosed(2 * time.Second)
		for _, x := range extra {
			x.c.Close()
		}
		stillGood(t)
	})
}

// TestSeedCounters reproduces the Tencent DescribeMQTTClient example at the
// engine: whole-packet bytes and counts by type and fixed-header QoS.
func TestSeedCounters(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s)
	c.send(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4,
		CleanSession: true, KeepAlive: 60, ClientID: []byte("sub_client2"), UsernameFlag: true,
		Username: []byte("user"), PasswordFlag: true, Password: []byte("pass")}))
	c.expectPacket("20 02 00 00")
	c.send(codec.AppendSubscribe(nil, 1, []codec.Subscription{
		{TopicFilter: []byte("home/sun/+/"), QoS: 1}, {TopicFilter: []byte("home/temp/+/"), QoS: 1},
		{TopicFilter: []byte("home/humidity/+/"), QoS: 0}, {TopicFilter: []byte("home/person/+/"), QoS: 2}}))
	c.expectPacket("90 06 0001 01 01 00 02")
	for i := 0; i < 14; i++ {
		c.sendHex("c0 00")
		c.expectPacket("d0 00")
	}
	var info session.Info
	if !s.Engine().SessionInfo("sub_client2", &info) {
		t.Fatal("no session for sub_client2")
	}
	if info.Sent.Bytes != 40 || info.Received.Bytes != 134 {
		t.Fatalf("got sent %d received %d bytes, want 40 and 134", info.Sent.Bytes, info.Received.Bytes)
	}
	wantSent := "CONNACK/0:1 SUBACK/0:1 PINGRESP/0:14"
	wantRecv := "CONNECT/0:1 SUBSCRIBE/1:1 PINGREQ/0:14"
	if got := items(info.Sent); got != wantSent {
		t.Fatalf("sent items %s, want %s", got, wantSent)
	}
	if got := items(info.Received); got != wantRecv {
		t.Fatalf("received items %s, want %s", got, wantRecv)
	}
	if info.KeepAlive != 60 || info.ProtocolVersion != 4 || !info.Connected || info.DisconnectTime != 0 ||
		info.Username != "user" || len(info.Subscriptions) != 4 || info.Subscriptions[2].TopicFilter != "home/humidity/+/" {
		t.Fatalf("got %+v", info)
	}
}

func items(s interface{ String() string }) string { return s.String() }
