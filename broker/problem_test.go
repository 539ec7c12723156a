package broker

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/glassmq/glassmq/auth"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// connectProblem connects at 5.0 with Request Problem Information rpi (1 or
// 0; 2 leaves it out) and Maximum Packet Size max (0: none), and returns
// the raw CONNACK.
func connectProblem(t *testing.T, s *Server, id string, rpi byte, max uint32) (*rawClient, []byte) {
	t.Helper()
	r := dialRaw(t, s)
	p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, ClientID: []byte(id)}
	if rpi < 2 {
		p.Props.RequestProblemInfo = rpi
		p.Props.Set(codec.PropRequestProblemInfo)
	}
	if max > 0 {
		p.Props.MaximumPacketSize = max
		p.Props.Set(codec.PropMaximumPacketSize)
	}
	r.send(codec.AppendConnect(nil, p))
	return r, r.read()
}

// subackProblem subscribes to a bad filter and a good one and returns the
// raw SUBACK.
func (r *rawClient) subackProblem() (codec.Suback, []byte) {
	r.t.Helper()
	r.send(codec.AppendSubscribeV5(nil, 1, &codec.Properties{}, []codec.Subscription{
		{TopicFilter: []byte("ok/topic")}, {TopicFilter: []byte("bad/#/filter")}}))
	b := r.read()
	var s codec.Suback
	if _, err := s.DecodeV(b, 5); err != nil {
		r.t.Fatalf("SUBACK % x: %v", b, err)
	}
	if !bytes.Equal(s.ReturnCodes, []byte{0, byte(codec.ReasonTopicFilterInvalid)}) {
		r.t.Fatalf("SUBACK codes % x, want 00 8f", s.ReturnCodes)
	}
	return s, b
}

// aliasTooHigh sends a PUBLISH with a topic alias above the maximum and
// returns the raw DISCONNECT.
func (r *rawClient) aliasTooHigh() (codec.Disconnect, []byte) {
	r.t.Helper()
	r.publish5("pi/topic", 65535, 0, 0, "x")
	b := r.read()
	var d codec.Disconnect
	if _, err := d.DecodeV(b, 5); err != nil || d.ReasonCode != codec.ReasonTopicAliasInvalid {
		r.t.Fatalf("got % x (%v), want DISCONNECT 0x94", b, err)
	}
	r.expectClosed(2 * time.Second)
	return d, b
}

func TestV5ProblemInformation(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.MaxClientIDLen = 32 })
	long := strings.Repeat("x", 40)
	t.Run("MQTT5-3.2.2.3.9 failed CONNACK has a reason string", func(t *testing.T) {
		r, b := connectProblem(t, s, long, 2, 0)
		var ack codec.Connack
		if _, err := ack.DecodeV(b, 5); err != nil || ack.ReturnCode != byte(codec.ReasonClientIdentifierNotValid) {
			t.Fatalf("CONNACK % x (%v), want 0x85", b, err)
		}
		if len(ack.Props.ReasonString) == 0 {
			t.Fatalf("CONNACK 0x85 without a reason string")
		}
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.2.2-19 no reason string past the client's Maximum Packet Size", func(t *testing.T) {
		r, b := connectProblem(t, s, long, 1, 16)
		var ack codec.Connack
		if _, err := ack.DecodeV(b, 5); err != nil || ack.ReturnCode != byte(codec.ReasonClientIdentifierNotValid) {
			t.Fatalf("CONNACK % x (%v), want 0x85", b, err)
		}
		if len(b) > 16 || ack.Props.Has(codec.PropReasonString) {
			t.Fatalf("CONNACK of %d bytes with reason string %q, want at most 16 bytes and none", len(b), ack.Props.ReasonString)
		}
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.9.2 SUBACK with a refused filter says which", func(t *testing.T) {
		r, _ := connectProblem(t, s, "pi-suback", 2, 0)
		sa, _ := r.subackProblem()
		if got := string(sa.Props.ReasonString); !strings.Contains(got, "filter 2 of 2") || !strings.Contains(got, "topic filter invalid") {
			t.Fatalf("SUBACK reason string %q, want it to name filter 2 and why", got)
		}
		// A SUBACK with nothing refused carries none.
		if codes := r.subscribe5(2, 0, codec.Subscription{TopicFilter: []byte("fine")}); !bytes.Equal(codes, []byte{0}) {
			t.Fatalf("SUBACK codes % x", codes)
		}
	})
	t.Run("MQTT5-3.1.2-29 Request Problem Information 0: none on SUBACK, DISCONNECT may", func(t *testing.T) {
		r, _ := connectProblem(t, s, "pi-quiet", 0, 0)
		if sa, b := r.subackProblem(); sa.Props.Has(codec.PropReasonString) || sa.Props.Has(codec.PropUser) {
			t.Fatalf("SUBACK % x has a reason string or user property for a client that asked for none", b)
		}
		if d, _ := r.aliasTooHigh(); len(d.Props.ReasonString) == 0 {
			t.Fatalf("DISCONNECT without a reason string: DISCONNECT may carry one whatever the client asked")
		}
	})
	t.Run("MQTT5-3.9.2-1 SUBACK reason string left out past Maximum Packet Size", func(t *testing.T) {
		r, _ := connectProblem(t, s, "pi-small-suback", 1, 12)
		if sa, b := r.subackProblem(); len(b) > 12 || sa.Props.Has(codec.PropReasonString) {
			t.Fatalf("SUBACK % x: %d bytes, reason %q; want at most 12 bytes and none", b, len(b), sa.Props.ReasonString)
		}
	})
	t.Run("MQTT5-3.14.2-3 DISCONNECT reason string left out past Maximum Packet Size", func(t *testing.T) {
		r, _ := connectProblem(t, s, "pi-small-disc", 1, 8)
		if d, b := r.aliasTooHigh(); len(b) > 8 || d.Props.Has(codec.PropReasonString) {
			t.Fatalf("DISCONNECT % x: %d bytes, reason %q; want at most 8 bytes and none", b, len(b), d.Props.ReasonString)
		}
	})
	t.Run("MQTT5-4.13.1-1 keep-alive, takeover, kick and shutdown have their words", func(t *testing.T) {
		for _, r := range []session.Reason{session.ReasonKeepAlive, session.ReasonTakenOver, session.ReasonKicked, session.ReasonShutdown, session.ReasonSlowConsumer} {
			if rc := disconnectReason(r); reasonText(rc) == "" {
				t.Errorf("reason %v (code %#x) has no reason string", r, rc)
			}
		}
	})
}

func TestClipUTF8(t *testing.T) {
	s := strings.Repeat("é", 100) // 2 bytes each
	for _, n := range []int{0, 1, 2, 3, 127, 128, 199, 200, 201} {
		got := clipUTF8(s, n)
		if len(got) > n || !utf8.ValidString(got) || (n < len(s) && len(got) < n-1) {
			t.Errorf("clipUTF8(%d) = %d bytes, valid %v; want at most %d, valid, at most one byte short", n, len(got), utf8.ValidString(got), n)
		}
	}
}

// TestV5MaxMessageExpiry: with -max-message-expiry a 5.0 message lives at
// most that long: a longer Message Expiry Interval is shortened, a message
// without one gets it, and a queued message past it is not sent
// [MQTT5-3.3.2-5], [MQTT5-3.3.2-6].
func TestV5MaxMessageExpiry(t *testing.T) {
	clock := newFakeClock()
	s := startBroker(t, func(c *Config) { c.MaxMessageExpiry = 10 * time.Second; c.Clock = clock })
	sub := dialRaw(t, s)
	var pr codec.Properties
	pr.SessionExpiry = 300
	pr.Set(codec.PropSessionExpiry)
	sub.connect5("mme-sub", true, &pr)
	sub.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("mme/#"), QoS: 1})
	pub := dialRaw(t, s)
	pub.connect5("mme-pub", true, nil)
	send := func(expiry uint32, has bool, payload string) {
		p := codec.Publish{QoS: 1, PacketID: 1, TopicName: []byte("mme/t"), Payload: []byte(payload)}
		if has {
			p.Props.MessageExpiry = expiry
			p.Props.Set(codec.PropMessageExpiry)
		}
		pub.send(codec.AppendPublishV5(nil, &p))
		pub.read() // PUBACK
	}
	for _, tc := range []struct {
		name      string
		expiry    uint32
		has       bool
		min, max_ uint32
	}{
		{"longer interval capped", 3600, true, 9, 10},
		{"no interval gets the cap", 0, false, 9, 10},
		{"shorter interval kept", 5, true, 4, 5},
	} {
		send(tc.expiry, tc.has, tc.name)
		got := sub.readPublish5()
		sub.send(codec.AppendPuback(nil, got.PacketID))
		if !got.Props.Has(codec.PropMessageExpiry) || got.Props.MessageExpiry < tc.min || got.Props.MessageExpiry > tc.max_ {
			t.Errorf("%s: Message Expiry Interval %d (present %v), want %d..%d",
				tc.name, got.Props.MessageExpiry, got.Props.Has(codec.PropMessageExpiry), tc.min, tc.max_)
		}
	}
	// Offline: a message without an interval is queued, then outlives the cap.
	sub.c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.Engine().Stats().Connections.Load() > 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	send(0, false, "stale")
	clock.Advance(11 * time.Second)
	send(0, false, "fresh")
	again := dialRaw(t, s)
	if ack := again.connect5("mme-sub", false, &pr); !ack.SessionPresent {
		t.Fatalf("session not present")
	}
	if got := again.readPublish5(); string(got.Payload) != "fresh" {
		t.Fatalf("got %q, want only the message within the cap", got.Payload)
	}
}

func TestConfigValidateV5Aliases(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		flag string
	}{
		{"alias maximum above 65535", func(c *Config) { c.TopicAliasMaximum = 70000 }, "-topic-alias-maximum 70000"},
		{"negative alias maximum", func(c *Config) { c.TopicAliasMaximum = -1 }, "-topic-alias-maximum -1"},
		{"server keep-alive above 65535", func(c *Config) { c.ServerKeepAlive = 65536 }, "-server-keep-alive 65536"},
		{"message expiry below a second", func(c *Config) { c.MaxMessageExpiry = time.Millisecond }, `-max-message-expiry "1ms"`},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%s: Validate() = %v, want an error naming %s", tc.name, err, tc.flag)
		}
	}
	c := DefaultConfig()
	c.TopicAliasMaximum, c.ServerKeepAlive, c.MaxMessageExpiry = 0, 0, 0
	if err := c.Validate(); err != nil {
		t.Errorf("zeros (features off): %v", err)
	}
}

// readAck5 reads a PUBACK or PUBREC of a 5.0 connection.
func (r *rawClient) readAck5(t codec.Type) (codec.Ack, []byte) {
	r.t.Helper()
	b := r.read()
	var a codec.Ack
	if _, err := a.DecodeV(b, 5); err != nil || a.Type != t {
		r.t.Fatalf("got % x (%v), want %s", b, err, t)
	}
	a.Props = a.Props.Clone()
	return a, b
}

// TestV5PublishRefused: a 5.0 QoS 1/2 PUBLISH the broker will not deliver
// ($-topic, ACL denial) is answered with 0x87 and, when the client allows
// it and it fits, a reason string; after PUBREC 0x87 the packet identifier
// starts a new message [MQTT5-4.3.3-9].
func TestV5PublishRefused(t *testing.T) {
	acl := writeTemp(t, "acl.conf", "deny publish all secret/#\nallow pubsub all #\n")
	s := startAuthBroker(t, auth.Options{ACLFile: acl, AllowAnonymous: true}, nil)
	sub := dialRaw(t, s)
	sub.connect5("pr-sub", true, nil)
	sub.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("open/#"), QoS: 2})
	send := func(r *rawClient, topic string, qos byte, id uint16) {
		r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: qos, TopicName: []byte(topic), PacketID: id, Payload: []byte("x")}))
	}
	t.Run("MQTT5-3.4.2.1 $-topic and ACL denial get PUBACK 0x87 with a reason string", func(t *testing.T) {
		r, _ := connectProblem(t, s, "pr-1", 2, 0)
		for _, topic := range []string{"$SYS/x", "secret/x"} {
			send(r, topic, 1, 1)
			a, b := r.readAck5(codec.TypePuback)
			if a.ReasonCode != codec.ReasonNotAuthorized || a.PacketID != 1 || len(a.Props.ReasonString) == 0 {
				t.Fatalf("%s: PUBACK % x, want 0x87 with a reason string", topic, b)
			}
		}
		send(r, "open/x", 1, 2) // allowed: plain success
		r.expectPacket("40 02 00 02")
		sub.readPublish5()
	})
	t.Run("MQTT5-4.3.3-9 PUBREC 0x87 frees the packet identifier", func(t *testing.T) {
		r, _ := connectProblem(t, s, "pr-2", 2, 0)
		send(r, "secret/x", 2, 7)
		if a, b := r.readAck5(codec.TypePubrec); a.ReasonCode != codec.ReasonNotAuthorized {
			t.Fatalf("PUBREC % x, want 0x87", b)
		}
		send(r, "open/y", 2, 7) // the same identifier, a new message: delivered
		if a, b := r.readAck5(codec.TypePubrec); a.ReasonCode != 0 || a.PacketID != 7 {
			t.Fatalf("PUBREC % x, want success for the new message", b)
		}
		r.send(codec.AppendPubrel(nil, 7))
		r.expectPacket("70 02 00 07")
		if got := sub.readPublish5(); string(got.TopicName) != "open/y" {
			t.Fatalf("subscriber got %q, want open/y", got.TopicName)
		}
	})
	t.Run("MQTT5-3.1.2-29 Request Problem Information 0: 0x87 without a reason string", func(t *testing.T) {
		r, _ := connectProblem(t, s, "pr-3", 0, 0)
		send(r, "secret/x", 1, 3)
		if a, b := r.readAck5(codec.TypePuback); a.ReasonCode != codec.ReasonNotAuthorized || a.Props.Has(codec.PropReasonString) {
			t.Fatalf("PUBACK % x, want 0x87 and no reason string", b)
		}
	})
	t.Run("MQTT5-3.4.2-2 no reason string past Maximum Packet Size", func(t *testing.T) {
		r, _ := connectProblem(t, s, "pr-4", 1, 10)
		send(r, "secret/x", 1, 4)
		if a, b := r.readAck5(codec.TypePuback); a.ReasonCode != codec.ReasonNotAuthorized || len(b) > 10 || a.Props.Has(codec.PropReasonString) {
			t.Fatalf("PUBACK % x, want 0x87 in at most 10 bytes, no reason string", b)
		}
	})
}
