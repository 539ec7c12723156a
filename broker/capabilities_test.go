package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// capabilitiesOff is a Config change turning every capability flag down.
func capabilitiesOff(c *Config) {
	c.MaxQoS = 1
	c.RetainAvailable = false
	c.WildcardSubscriptions = false
	c.SubscriptionIdentifiers = false
}

// willConnect5 returns a 5.0 CONNECT for id with a will to topic.
func willConnect5(id, topic string, payload []byte, qos byte, retain bool, props *codec.Properties) []byte {
	p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, ClientID: []byte(id),
		WillFlag: true, WillQoS: qos, WillRetain: retain, WillTopic: []byte(topic), WillMessage: payload}
	if props != nil {
		p.WillProps = *props
	}
	return codec.AppendConnect(nil, p)
}

// connackOf decodes the 5.0 CONNACK b.
func connackOf(t *testing.T, b []byte) codec.Connack {
	t.Helper()
	var ack codec.Connack
	if _, err := ack.DecodeV(b, 5); err != nil {
		t.Fatalf("CONNACK % x: %v", b, err)
	}
	return ack
}

// waitSubscribed waits until clientID's session has a subscription (an
// operator's Subscribe is applied on the client's loop).
func waitSubscribed(t *testing.T, s *Server, clientID string) {
	t.Helper()
	var info session.Info
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if s.Engine().SessionInfo(clientID, &info) && len(info.Subscriptions) > 0 {
			return
		}
	}
	t.Fatalf("%s has no subscription after 10s", clientID)
}

// TestCapabilitiesConnack: CONNACK names only the capabilities the server
// lacks, since absence means supported [MQTT5-3.2.2.3].
func TestCapabilitiesConnack(t *testing.T) {
	caps := []codec.PropID{codec.PropMaximumQoS, codec.PropRetainAvailable, codec.PropWildcardSubAvailable, codec.PropSubIDAvailable}
	t.Run("MQTT5-3.2.2.3 defaults announce nothing", func(t *testing.T) {
		s := startBroker(t, nil)
		ack := dialRaw(t, s).connect5("full", true, nil)
		for _, id := range caps {
			if ack.Props.Has(id) {
				t.Errorf("CONNACK carries %s with every capability on", id)
			}
		}
	})
	t.Run("MQTT5-3.2.2-9 every capability off is announced", func(t *testing.T) {
		s := startBroker(t, capabilitiesOff)
		ack := dialRaw(t, s).connect5("limited", true, nil)
		for _, id := range caps {
			if !ack.Props.Has(id) {
				t.Errorf("CONNACK lacks %s", id)
			}
		}
		pr := &ack.Props
		if pr.MaximumQoS != 1 || pr.RetainAvailable != 0 || pr.WildcardSubAvailable != 0 || pr.SubIDAvailable != 0 {
			t.Errorf("Maximum QoS %d, Retain %d, Wildcard %d, Subscription Identifiers %d; want 1 0 0 0",
				pr.MaximumQoS, pr.RetainAvailable, pr.WildcardSubAvailable, pr.SubIDAvailable)
		}
	})
	t.Run("MQTT5-3.2.2-9 max-qos 0", func(t *testing.T) {
		s := startBroker(t, func(c *Config) { c.MaxQoS = 0 })
		ack := dialRaw(t, s).connect5("qos0", true, nil)
		if !ack.Props.Has(codec.PropMaximumQoS) || ack.Props.MaximumQoS != 0 {
			t.Errorf("Maximum QoS %d (present %v), want 0", ack.Props.MaximumQoS, ack.Props.Has(codec.PropMaximumQoS))
		}
		if ack.Props.Has(codec.PropRetainAvailable) {
			t.Errorf("Retain Available announced though on")
		}
	})
}

// TestCapabilitiesMaxQoS: with -max-qos 1 a 5.0 client asking for QoS 2
// is refused, subscriptions are granted at most 1, and a 3.1.1 client,
// which cannot be told, has its QoS 2 lowered where it is routed.
func TestCapabilitiesMaxQoS(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.MaxQoS = 1 })
	t.Run("MQTT5-3.2.2-11 PUBLISH above Maximum QoS gets DISCONNECT 0x9B", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("q2pub", true, nil)
		r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 2, PacketID: 1, TopicName: []byte("q/t"), Payload: []byte("x")}))
		r.expectDisconnect5(codec.ReasonQoSNotSupported)
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.2.2-11 PUBLISH at Maximum QoS is taken", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("q1pub", true, nil)
		r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 1, PacketID: 1, TopicName: []byte("q/t"), Payload: []byte("x")}))
		b := r.read()
		if len(b) < 4 || b[0] != 0x40 || b[2] != 0 || b[3] != 1 {
			t.Fatalf("got % x, want PUBACK for id 1", b)
		}
	})
	t.Run("MQTT5-3.2.2-12 will QoS above Maximum QoS gets CONNACK 0x9B", func(t *testing.T) {
		r := dialRaw(t, s)
		r.send(willConnect5("q2will", "w/t", []byte("x"), 2, false, nil))
		if ack := connackOf(t, r.read()); ack.ReturnCode != byte(codec.ReasonQoSNotSupported) {
			t.Fatalf("CONNACK code %#x, want 0x9b", ack.ReturnCode)
		}
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.2.2-10 SUBSCRIBE QoS 2 is granted 1", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("q2sub5", true, nil)
		codes := r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("a/b"), QoS: 2},
			codec.Subscription{TopicFilter: []byte("a/c"), QoS: 0})
		if string(codes) != "\x01\x00" {
			t.Fatalf("SUBACK codes % x, want 01 00", codes)
		}
	})
	t.Run("MQTT-3.9.3 a 3.1.1 SUBSCRIBE QoS 2 is granted 1", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect("q2sub4", true, false)
		r.send(codec.AppendSubscribe(nil, 7, []codec.Subscription{{TopicFilter: []byte("a/b"), QoS: 2}}))
		r.expectPacket("90 03 0007 01")
	})
	t.Run("3.1.1 QoS 2 PUBLISH is acknowledged and routed at 1", func(t *testing.T) {
		sub := dialRaw(t, s)
		sub.connect("q2dest", true, false)
		// An operator's subscription at QoS 2 is granted at 1, as a
		// client's is.
		if !s.Engine().Subscribe("q2dest", "r/#", 2) {
			t.Fatal("Subscribe returned false")
		}
		waitSubscribed(t, s, "q2dest")
		pub := dialRaw(t, s)
		pub.connect("q2src4", true, false)
		pub.publish("r/x", "two", 2, false, 9)
		pub.expectPacket("50 02 0009") // PUBREC: the client's own flow completes [MQTT-4.3.3-2]
		pub.sendHex("62 02 0009")
		pub.expectPacket("70 02 0009")
		m := sub.readPublish()
		if string(m.Payload) != "two" || m.QoS != 1 {
			t.Fatalf("delivered %q at QoS %d, want \"two\" at QoS 1", m.Payload, m.QoS)
		}
	})
	t.Run("3.1.1 will QoS 2 is published at 1", func(t *testing.T) {
		sub := dialRaw(t, s)
		sub.connect("q2willdest", true, false)
		if !s.Engine().Subscribe("q2willdest", "w4/#", 2) {
			t.Fatal("Subscribe returned false")
		}
		waitSubscribed(t, s, "q2willdest")
		c := dialRaw(t, s)
		c.send(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4, CleanSession: true,
			ClientID: []byte("q2will4"), WillFlag: true, WillQoS: 2, WillTopic: []byte("w4/x"), WillMessage: []byte("bye")}))
		c.expectPacket("20 02 00 00") // accepted: 3.1.1 has no code to refuse it
		c.c.Close()
		m := sub.readPublish()
		if string(m.Payload) != "bye" || m.QoS != 1 {
			t.Fatalf("will %q at QoS %d, want \"bye\" at QoS 1", m.Payload, m.QoS)
		}
	})
}

// TestCapabilitiesRetainUnavailable: with -retain-available false a 5.0
// client's RETAIN is refused and a 3.1.1 client's is ignored.
func TestCapabilitiesRetainUnavailable(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.RetainAvailable = false })
	t.Run("MQTT5-3.2.2-14 PUBLISH with RETAIN gets DISCONNECT 0x9A", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("ret5", true, nil)
		r.send(codec.AppendPublishV5(nil, &codec.Publish{Retain: true, TopicName: []byte("k/t"), Payload: []byte("x")}))
		r.expectDisconnect5(codec.ReasonRetainNotSupported)
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.2.2-13 will with RETAIN gets CONNACK 0x9A", func(t *testing.T) {
		r := dialRaw(t, s)
		r.send(willConnect5("retwill", "w/t", []byte("x"), 0, true, nil))
		if ack := connackOf(t, r.read()); ack.ReturnCode != byte(codec.ReasonRetainNotSupported) {
			t.Fatalf("CONNACK code %#x, want 0x9a", ack.ReturnCode)
		}
		r.expectClosed(2 * time.Second)
	})
	t.Run("3.1.1 RETAIN is forwarded live and not kept", func(t *testing.T) {
		sub := dialRaw(t, s)
		sub.connect("retsub", true, false)
		sub.subscribe(1, "k/#", 1)
		pub := dialRaw(t, s)
		pub.connect("ret4", true, false)
		pub.publish("k/x", "kept?", 1, true, 3)
		pub.expectPacket("40 02 0003")
		m := sub.readPublish()
		if string(m.Payload) != "kept?" || m.Retain {
			t.Fatalf("got %q retain %v, want \"kept?\" retain false", m.Payload, m.Retain)
		}
		if n := s.Engine().Stats().Retained.Load(); n != 0 {
			t.Errorf("%d retained messages kept, want 0", n)
		}
		late := dialRaw(t, s)
		late.connect("retlate", true, false)
		late.subscribe(1, "k/#", 1)
		late.expectSilence(300 * time.Millisecond)
		pub.sendHex("c0 00") // still connected
		pub.expectPacket("d0 00")
	})
}

// TestCapabilitiesWildcards: with -wildcard-subscriptions false a filter
// with '+' or '#' is refused alone, 0xA2 at 5.0 and 0x80 at 3.1.1.
func TestCapabilitiesWildcards(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.WildcardSubscriptions = false })
	t.Run("MQTT5-3.2.2.3.12 wildcard filters get SUBACK 0xA2", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("wild5", true, nil)
		codes := r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("a/+"), QoS: 1},
			codec.Subscription{TopicFilter: []byte("a/b"), QoS: 1}, codec.Subscription{TopicFilter: []byte("#"), QoS: 0})
		if string(codes) != "\xa2\x01\xa2" {
			t.Fatalf("SUBACK codes % x, want a2 01 a2", codes)
		}
	})
	t.Run("MQTT-3.9.3 a 3.1.1 wildcard filter gets SUBACK 0x80", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect("wild4", true, false)
		r.send(codec.AppendSubscribe(nil, 2, []codec.Subscription{{TopicFilter: []byte("a/#"), QoS: 1},
			{TopicFilter: []byte("a/b"), QoS: 1}}))
		r.expectPacket("90 04 0002 80 01")
		var info session.Info
		s.Engine().SessionInfo("wild4", &info)
		if len(info.Subscriptions) != 1 || info.Subscriptions[0].TopicFilter != "a/b" {
			t.Errorf("subscriptions %+v, want a/b alone", info.Subscriptions)
		}
	})
}

// TestCapabilitiesSubscriptionIDs: with -subscription-identifiers false a
// SUBSCRIBE carrying one is a protocol error, DISCONNECT 0xA1
// [MQTT5-3.2.2.3.13]; one without is served.
func TestCapabilitiesSubscriptionIDs(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.SubscriptionIdentifiers = false })
	r := dialRaw(t, s)
	r.connect5("noids", true, nil)
	if codes := r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("a/b"), QoS: 1}); string(codes) != "\x01" {
		t.Fatalf("SUBACK codes % x, want 01", codes)
	}
	var pr codec.Properties
	pr.SubscriptionIDs = []uint32{5}
	r.send(codec.AppendSubscribeV5(nil, 2, &pr, []codec.Subscription{{TopicFilter: []byte("a/c"), QoS: 1}}))
	r.expectDisconnect5(codec.ReasonSubscriptionIdentifiersNotSupported)
	r.expectClosed(2 * time.Second)
}

// TestCapabilitiesValidate: a bad -max-qos is named with what is valid.
func TestCapabilitiesValidate(t *testing.T) {
	for _, q := range []int{-1, 3} {
		c := DefaultConfig()
		c.MaxQoS = q
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "-max-qos") || !strings.Contains(err.Error(), "must be 0, 1 or 2") {
			t.Errorf("MaxQoS %d: Validate() = %v, want a sentence naming -max-qos and 0, 1 or 2", q, err)
		}
	}
	c := DefaultConfig()
	capabilitiesOff(&c)
	if err := c.Validate(); err != nil {
		t.Errorf("every capability off: %v", err)
	}
}
