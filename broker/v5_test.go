package broker

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/auth"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/stats"
)

// connect5 sends an MQTT 5.0 CONNECT for id with props and returns the
// decoded CONNACK.
func (r *rawClient) connect5(id string, clean bool, props *codec.Properties) codec.Connack {
	r.t.Helper()
	p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: clean, ClientID: []byte(id)}
	if props != nil {
		p.Props = *props
	}
	r.send(codec.AppendConnect(nil, p))
	b := r.read()
	var ack codec.Connack
	if _, err := ack.DecodeV(b, 5); err != nil {
		r.t.Fatalf("CONNACK % x: %v", b, err)
	}
	return ack
}

// subscribe5 sends an MQTT 5.0 SUBSCRIBE and returns its SUBACK codes.
func (r *rawClient) subscribe5(id uint16, subID uint32, filters ...codec.Subscription) []byte {
	r.t.Helper()
	var pr codec.Properties
	if subID != 0 {
		pr.SubscriptionIDs = []uint32{subID}
	}
	r.send(codec.AppendSubscribeV5(nil, id, &pr, filters))
	b := r.read()
	var s codec.Suback
	if _, err := s.DecodeV(b, 5); err != nil || s.PacketID != id {
		r.t.Fatalf("SUBACK % x (err %v), want id %d", b, err, id)
	}
	return append([]byte(nil), s.ReturnCodes...)
}

// readPublish5 reads one packet and decodes it as an MQTT 5.0 PUBLISH.
func (r *rawClient) readPublish5() codec.Publish {
	r.t.Helper()
	b := r.read()
	var p codec.Publish
	if _, err := p.DecodeFromServer(b, 5); err != nil {
		r.t.Fatalf("got % x, want a 5.0 PUBLISH: %v", b, err)
	}
	c := p.Clone()
	c.Props = p.Props.Clone()
	return c
}

func userProp(p *codec.Properties, key string) (string, bool) {
	for _, u := range p.User {
		if string(u.Key) == key {
			return string(u.Value), true
		}
	}
	return "", false
}

func TestV5Connect(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.MaxSessionExpiry = time.Hour; c.ReceiveMaximum = 100 })
	t.Run("MQTT5-3.2.2.3 level 5 accepted with the server's limits", func(t *testing.T) {
		r := dialRaw(t, s)
		var pr codec.Properties
		pr.SessionExpiry = 1 << 30 // more than -max-session-expiry
		pr.Set(codec.PropSessionExpiry)
		ack := r.connect5("v5a", true, &pr)
		if ack.ReturnCode != 0 || ack.SessionPresent {
			t.Fatalf("CONNACK code %#x present %v, want 0 false", ack.ReturnCode, ack.SessionPresent)
		}
		if !ack.Props.Has(codec.PropReceiveMaximum) || ack.Props.ReceiveMaximum != 100 {
			t.Errorf("Receive Maximum %d, want 100 [MQTT5-3.2.2.3.3]", ack.Props.ReceiveMaximum)
		}
		if !ack.Props.Has(codec.PropMaximumPacketSize) || ack.Props.MaximumPacketSize != 1<<20 {
			t.Errorf("Maximum Packet Size %d, want %d [MQTT5-3.2.2.3.6]", ack.Props.MaximumPacketSize, 1<<20)
		}
		if !ack.Props.Has(codec.PropSessionExpiry) || ack.Props.SessionExpiry != 3600 {
			t.Errorf("Session Expiry %d (present %v), want the cap 3600 [MQTT5-3.2.2.3.2]",
				ack.Props.SessionExpiry, ack.Props.Has(codec.PropSessionExpiry))
		}
		if ack.Props.Has(codec.PropAssignedClientID) {
			t.Errorf("Assigned Client Identifier sent for a client that chose one")
		}
	})
	t.Run("MQTT5-3.2.2-16 empty client ID is assigned one", func(t *testing.T) {
		r := dialRaw(t, s)
		ack := r.connect5("", false, nil)
		if ack.ReturnCode != 0 || !bytes.HasPrefix(ack.Props.AssignedClientID, []byte("glassmq-")) {
			t.Fatalf("CONNACK code %#x assigned %q, want 0 and an assigned ID", ack.ReturnCode, ack.Props.AssignedClientID)
		}
		if ack.Props.Has(codec.PropSessionExpiry) {
			t.Errorf("Session Expiry announced though not capped")
		}
	})
	t.Run("MQTT5-3.1.2-2 unknown level gets CONNACK 0x84", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendHex("10 0d 0004 4d515454 06 02 003c 0001 61")
		r.expectPacket("20 03 00 84 00")
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.1.4-2 malformed 5.0 CONNECT gets CONNACK 0x81", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendHex("10 0d 0004 4d515454 05 02 003c 0001 61") // property length 0, then a truncated client ID
		r.expectPacket("20 03 00 81 00")
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.1.3-8 client ID too long gets CONNACK 0x85", func(t *testing.T) {
		r := dialRaw(t, s)
		ack := r.connect5(string(bytes.Repeat([]byte("x"), 300)), true, nil)
		if ack.ReturnCode != 0x85 {
			t.Fatalf("CONNACK code %#x, want 0x85", ack.ReturnCode)
		}
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.12.4-1 PINGREQ at level 5", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("v5ping", true, nil)
		r.sendHex("c0 00")
		r.expectPacket("d0 00")
	})
}

func TestV5PublishSubscribe(t *testing.T) {
	s := startBroker(t, nil)
	sub5 := dialRaw(t, s)
	sub5.connect5("sub5", true, nil)
	if codes := sub5.subscribe5(1, 7, codec.Subscription{TopicFilter: []byte("v5/#"), QoS: 1}); !bytes.Equal(codes, []byte{1}) {
		t.Fatalf("SUBACK codes % x, want 01", codes)
	}
	sub4 := dialRaw(t, s)
	sub4.connect("sub4", true, false)
	sub4.subscribe(1, "v5/#", 1)
	pub5 := dialRaw(t, s)
	pub5.connect5("pub5", true, nil)

	// A v5 publisher with a user property and a message expiry.
	p := codec.Publish{QoS: 1, TopicName: []byte("v5/a"), PacketID: 9, Payload: []byte("hello")}
	p.Props.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
	p.Props.MessageExpiry = 60
	p.Props.Set(codec.PropMessageExpiry)
	p.Props.ContentType = []byte("text/plain")
	p.Props.Set(codec.PropContentType)
	pub5.send(codec.AppendPublishV5(nil, &p))
	pub5.expectPacket("40 02 00 09") // PUBACK reason 0x00 in its short form [MQTT5-3.4.2.1]

	got := sub5.readPublish5()
	if string(got.TopicName) != "v5/a" || string(got.Payload) != "hello" || got.QoS != 1 {
		t.Fatalf("v5 subscriber got %q %q QoS %d", got.TopicName, got.Payload, got.QoS)
	}
	if v, ok := userProp(&got.Props, "k"); !ok || v != "v" {
		t.Errorf("user property k = %q (%v), want v [MQTT5-3.3.2-17]", v, ok)
	}
	if string(got.Props.ContentType) != "text/plain" {
		t.Errorf("content type %q, want text/plain [MQTT5-3.3.2-20]", got.Props.ContentType)
	}
	if !got.Props.Has(codec.PropMessageExpiry) || got.Props.MessageExpiry == 0 || got.Props.MessageExpiry > 60 {
		t.Errorf("message expiry %d, want 1..60 left [MQTT5-3.3.2-6]", got.Props.MessageExpiry)
	}
	if len(got.Props.SubscriptionIDs) != 1 || got.Props.SubscriptionIDs[0] != 7 {
		t.Errorf("subscription identifiers %v, want [7] [MQTT5-3.3.4-3]", got.Props.SubscriptionIDs)
	}
	sub5.send(codec.AppendPuback(nil, got.PacketID))

	// The 3.1.1 subscriber gets the message without properties.
	got4 := sub4.readPublish()
	if string(got4.Payload) != "hello" {
		t.Fatalf("3.1.1 subscriber got %q", got4.Payload)
	}
	sub4.send(codec.AppendPuback(nil, got4.PacketID))

	// And back: a 3.1.1 publisher reaches the v5 subscriber, QoS 0 and 1.
	pub4 := dialRaw(t, s)
	pub4.connect("pub4", true, false)
	pub4.publish("v5/b", "q0", 0, false, 0)
	if got := sub5.readPublish5(); string(got.Payload) != "q0" || got.QoS != 0 || len(got.Props.User) != 0 ||
		len(got.Props.SubscriptionIDs) != 1 || got.Props.SubscriptionIDs[0] != 7 {
		t.Fatalf("v5 subscriber got %q QoS %d user %+v subscription IDs %v", got.Payload, got.QoS, got.Props.User, got.Props.SubscriptionIDs)
	}
	pub4.publish("v5/c", "q1", 1, false, 3)
	pub4.expectPacket("40 02 00 03")
	if got := sub5.readPublish5(); string(got.Payload) != "q1" || got.QoS != 1 {
		t.Fatalf("v5 subscriber got %q QoS %d", got.Payload, got.QoS)
	}
}

func TestV5SubscribeUnsubscribe(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s)
	r.connect5("subs5", true, nil)
	codes := r.subscribe5(2, 0, codec.Subscription{TopicFilter: []byte("a/+"), QoS: 2},
		codec.Subscription{TopicFilter: []byte("a/#/b"), QoS: 0})
	if !bytes.Equal(codes, []byte{2, 0x8F}) { // [MQTT5-3.9.3]: a bad filter is 0x8F Topic Filter invalid
		t.Fatalf("SUBACK codes % x, want 02 8f", codes)
	}
	r.send(codec.AppendUnsubscribeV5(nil, 3, nil, [][]byte{[]byte("a/+"), []byte("never")}))
	b := r.read()
	var u codec.Unsuback
	if _, err := u.DecodeV(b, 5); err != nil || u.PacketID != 3 {
		t.Fatalf("UNSUBACK % x: %v", b, err)
	}
	if !bytes.Equal(u.ReasonCodes, []byte{0x00, 0x11}) { // [MQTT5-3.11.3]: 0x11 No subscription existed
		t.Fatalf("UNSUBACK codes % x, want 00 11", u.ReasonCodes)
	}
}

func TestV5ServerDisconnect(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.TopicAliasMaximum = 0 })
	t.Run("MQTT5-3.3.2-9 topic alias with maximum 0 gets DISCONNECT 0x94", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("alias", true, nil)
		p := codec.Publish{TopicName: []byte("t"), Payload: []byte("x")}
		p.Props.TopicAlias = 1
		p.Props.Set(codec.PropTopicAlias)
		r.send(codec.AppendPublishV5(nil, &p))
		r.expectDisconnect5(codec.ReasonTopicAliasInvalid)
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.14.2-2 session expiry after 0 gets DISCONNECT 0x82", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("expiry0", true, nil)
		var pr codec.Properties
		pr.SessionExpiry = 10
		pr.Set(codec.PropSessionExpiry)
		r.send(codec.AppendDisconnectV5(nil, 0, &pr))
		r.expectDisconnect5(codec.ReasonProtocolError)
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-4.13.1-1 malformed packet gets DISCONNECT 0x81", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("malformed", true, nil)
		r.sendHex("82 04 0001 0000") // SUBSCRIBE with property length 0 and no filter
		b := r.read()
		if len(b) < 3 || b[0] != 0xe0 || b[2] < 0x80 {
			t.Fatalf("got % x, want DISCONNECT with an error reason", b)
		}
		r.expectClosed(2 * time.Second)
	})
}

func TestV5DisconnectWithWill(t *testing.T) {
	s := startBroker(t, nil)
	w := dialRaw(t, s)
	w.connect("watcher", true, false)
	w.subscribe(1, "will/#", 0)
	for _, tc := range []struct {
		reason codec.ReasonCode
		will   bool
	}{{0x00, false}, {codec.ReasonDisconnectWithWill, true}} {
		r := dialRaw(t, s)
		p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true,
			ClientID: []byte("willer"), WillFlag: true, WillTopic: []byte("will/x"), WillMessage: []byte("gone")}
		r.send(codec.AppendConnect(nil, p))
		r.read()
		r.send(codec.AppendDisconnectV5(nil, tc.reason, nil))
		r.expectClosed(2 * time.Second)
		if tc.will { // [MQTT5-3.14.4-3]: 0x04 publishes the will
			if got := w.readPublish(); string(got.Payload) != "gone" {
				t.Fatalf("will payload %q", got.Payload)
			}
		} else { // 0x00 discards it [MQTT5-3.1.2-10]
			w.expectSilence(300 * time.Millisecond)
		}
	}
}

func TestV5MaximumPacketSize(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s)
	var pr codec.Properties
	pr.MaximumPacketSize = 64
	pr.Set(codec.PropMaximumPacketSize)
	r.connect5("small", true, &pr)
	r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("m/#"), QoS: 1})
	pub := dialRaw(t, s)
	pub.connect("bigpub", true, false)
	pub.publish("m/big", string(bytes.Repeat([]byte("x"), 200)), 0, false, 0)
	pub.publish("m/big1", string(bytes.Repeat([]byte("x"), 200)), 1, false, 1)
	pub.read() // PUBACK
	pub.publish("m/small", "ok", 1, false, 2)
	pub.read()
	// [MQTT5-3.1.2-25]: the large messages are not sent; the next one is.
	if got := r.readPublish5(); string(got.Payload) != "ok" {
		t.Fatalf("got %q, want the small message only", got.Payload)
	}
	var st stats.BrokerSnapshot
	s.Engine().Stats().Snapshot(&st)
	if st.DroppedTooLarge != 2 {
		t.Errorf("DroppedTooLarge = %d, want 2", st.DroppedTooLarge)
	}
}

func TestV5SubscriptionOptions(t *testing.T) {
	s := startBroker(t, nil)
	t.Run("MQTT5-3.8.3-3 No Local", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("nolocal", true, nil)
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("nl/own"), QoS: 0, NoLocal: true},
			codec.Subscription{TopicFilter: []byte("nl/+/x"), QoS: 0})
		r.send(codec.AppendPublishV5(nil, &codec.Publish{TopicName: []byte("nl/own"), Payload: []byte("mine")}))
		r.expectSilence(300 * time.Millisecond)
		// A topic also matched by a subscription without No Local is delivered.
		r.send(codec.AppendPublishV5(nil, &codec.Publish{TopicName: []byte("nl/y/x"), Payload: []byte("both")}))
		if got := r.readPublish5(); string(got.Payload) != "both" {
			t.Fatalf("got %q", got.Payload)
		}
		other := dialRaw(t, s)
		other.connect("nlother", true, false)
		other.publish("nl/own", "theirs", 0, false, 0)
		if got := r.readPublish5(); string(got.Payload) != "theirs" {
			t.Fatalf("got %q, want another client's message", got.Payload)
		}
	})
	t.Run("MQTT5-3.3.1-9..11 Retain Handling", func(t *testing.T) {
		pub := dialRaw(t, s)
		pub.connect("rhpub", true, false)
		pub.publish("rh/t", "kept", 1, true, 1)
		pub.read() // PUBACK
		r := dialRaw(t, s)
		r.connect5("rh", true, nil)
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("rh/#"), QoS: 0, RetainHandling: 2})
		r.expectSilence(300 * time.Millisecond) // 2: never
		r.subscribe5(2, 0, codec.Subscription{TopicFilter: []byte("rh/+"), QoS: 0, RetainHandling: 1})
		if got := r.readPublish5(); string(got.Payload) != "kept" || !got.Retain { // 1: new subscription
			t.Fatalf("got %q retain %v", got.Payload, got.Retain)
		}
		r.subscribe5(3, 0, codec.Subscription{TopicFilter: []byte("rh/+"), QoS: 0, RetainHandling: 1})
		r.expectSilence(300 * time.Millisecond) // 1: existing subscription
		r.subscribe5(4, 0, codec.Subscription{TopicFilter: []byte("rh/+"), QoS: 0})
		if got := r.readPublish5(); string(got.Payload) != "kept" { // 0: always
			t.Fatalf("got %q", got.Payload)
		}
	})
}

func TestV5RetainAsPublished(t *testing.T) {
	s := startBroker(t, nil)
	rap := dialRaw(t, s)
	rap.connect5("rap", true, nil)
	rap.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("rap/0"), QoS: 0, RetainAsPublished: true},
		codec.Subscription{TopicFilter: []byte("rap/1"), QoS: 1, RetainAsPublished: true})
	plain := dialRaw(t, s)
	plain.connect5("norap", true, nil)
	plain.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("rap/+"), QoS: 1})
	pub := dialRaw(t, s)
	pub.connect("rappub", true, false)
	for i, topic := range []string{"rap/0", "rap/1"} {
		pub.publish(topic, "r", byte(i), true, uint16(i))
		if i == 1 {
			pub.read() // PUBACK
		}
		// [MQTT5-3.3.1-12]: RETAIN as published with the option, 0 without.
		if got := rap.readPublish5(); !got.Retain || string(got.TopicName) != topic {
			t.Errorf("Retain As Published subscriber got %s retain %v, want retain 1", got.TopicName, got.Retain)
		} else if got.QoS > 0 {
			rap.send(codec.AppendPuback(nil, got.PacketID))
		}
		if got := plain.readPublish5(); got.Retain {
			t.Errorf("subscriber without the option got %s with retain 1 [MQTT5-3.3.1-13]", got.TopicName)
		} else if got.QoS > 0 {
			plain.send(codec.AppendPuback(nil, got.PacketID))
		}
	}
}

func TestV5TakeoverDisconnect(t *testing.T) {
	s := startBroker(t, nil)
	old := dialRaw(t, s)
	old.connect5("twice5", true, nil)
	nw := dialRaw(t, s)
	nw.connect5("twice5", true, nil)
	old.expectDisconnect5(codec.ReasonSessionTakenOver) // [MQTT5-3.14.2.1]
	old.expectClosed(2 * time.Second)
}

// TestV5Mosquitto sends a user property with mosquitto_pub -V mqttv5 and
// receives it with mosquitto_sub -V mqttv5, both real clients.
func TestV5Mosquitto(t *testing.T) {
	pubBin, err1 := exec.LookPath("mosquitto_pub")
	subBin, err2 := exec.LookPath("mosquitto_sub")
	if err1 != nil || err2 != nil {
		t.Skip("mosquitto_pub/mosquitto_sub not installed (apt-get install -y mosquitto-clients)")
	}
	s := startBroker(t, nil)
	host, port, _ := net.SplitHostPort(brokerAddr(s))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, subBin, "-V", "mqttv5", "-h", host, "-p", port, "-t", "mq/t", "-q", "1",
		"-C", "1", "-F", "%P %p")
	var out bytes.Buffer
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Engine().Stats().Subscriptions.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	pub := exec.CommandContext(ctx, pubBin, "-V", "mqttv5", "-h", host, "-p", port, "-t", "mq/t", "-q", "1",
		"-m", "payload5", "-D", "publish", "user-property", "k", "v")
	if b, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, b)
	}
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v: %s", err, out.String())
	}
	if got := strings.TrimSpace(out.String()); got != "k:v payload5" {
		t.Fatalf("mosquitto_sub printed %q, want %q", got, "k:v payload5")
	}
}

func TestV5ReceiveMaximum(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.ReceiveMaximum = 2 })
	r := dialRaw(t, s)
	if ack := r.connect5("rm", true, nil); ack.Props.ReceiveMaximum != 2 {
		t.Fatalf("Receive Maximum %d, want 2", ack.Props.ReceiveMaximum)
	}
	pub := func(id uint16) {
		r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 2, TopicName: []byte("rm/t"), PacketID: id, Payload: []byte("x")}))
	}
	pub(1)
	r.expectPacket("50 03 00 01 10") // PUBREC, no matching subscribers [MQTT5-3.5.2.1]
	pub(2)
	r.expectPacket("50 03 00 02 10")
	pub(1) // a duplicate is within the limit; its PUBREC is plain (not routed again)
	r.expectPacket("50 02 00 01")
	pub(3) // the third unreleased [MQTT5-3.3.4-9]
	r.expectDisconnect5(codec.ReasonReceiveMaximumExceeded)
	r.expectClosed(2 * time.Second)
}

func TestV5AuthorizerRefusals(t *testing.T) {
	t.Run("MQTT5-3.2.2.2 anonymous refused gets CONNACK 0x87", func(t *testing.T) {
		s := startAuthBroker(t, auth.Options{AllowAnonymous: false}, nil)
		r := dialRaw(t, s)
		if ack := r.connect5("anon5", true, nil); ack.ReturnCode != byte(codec.ReasonNotAuthorized) {
			t.Fatalf("CONNACK %#x, want 0x87", ack.ReturnCode)
		}
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.9.3 ACL denial gets SUBACK 0x87", func(t *testing.T) {
		acl := writeTemp(t, "acl.conf", "deny subscribe all secret/#\nallow pubsub all #\n")
		s := startAuthBroker(t, auth.Options{ACLFile: acl, AllowAnonymous: true}, nil)
		r := dialRaw(t, s)
		r.connect5("acl5", true, nil)
		codes := r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("secret/x")},
			codec.Subscription{TopicFilter: []byte("open/x"), QoS: 1})
		if !bytes.Equal(codes, []byte{0x87, 1}) {
			t.Fatalf("SUBACK codes % x, want 87 01", codes)
		}
	})
}
