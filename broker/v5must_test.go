package broker

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/gorilla/websocket"
)

// Raw-packet tests of the MQTT 5.0 server obligations that no feature test
// covers, against a real broker. Subtest names start with the 5.0 rule they
// prove; docs/CONFORMANCE.md lists every rule with its test.

// sessionExpiryProps returns CONNECT properties with a Session Expiry Interval.
func sessionExpiryProps(secs uint32) *codec.Properties {
	var pr codec.Properties
	pr.SessionExpiry = secs
	pr.Set(codec.PropSessionExpiry)
	return &pr
}

// connectAccepted5 connects a 5.0 client and checks CONNACK 0x00 and Session
// Present [MQTT5-3.1.4-5].
func (r *rawClient) connectAccepted5(id string, clean bool, props *codec.Properties, present bool) codec.Connack {
	r.t.Helper()
	ack := r.connect5(id, clean, props)
	if ack.ReturnCode != 0 || ack.SessionPresent != present {
		r.t.Fatalf("CONNACK code %#x present %v, want 0x00 and %v", ack.ReturnCode, ack.SessionPresent, present)
	}
	return ack
}

// readPayload5 reads a 5.0 PUBLISH and checks its payload; it returns it.
func (r *rawClient) readPayload5(want string) codec.Publish {
	r.t.Helper()
	p := r.readPublish5()
	if string(p.Payload) != want {
		r.t.Fatalf("got PUBLISH %q on %q, want %q", p.Payload, p.TopicName, want)
	}
	return p
}

// expectRefusedConnect5 reads what the broker answers to a CONNECT it must
// refuse: nothing, or a 5.0 CONNACK with a reason of 0x80 or more and
// Session Present 0; then the connection must close [MQTT5-3.2.2-6],
// [MQTT5-3.2.2-7], [MQTT5-4.13.2-1].
func (r *rawClient) expectRefusedConnect5() {
	r.t.Helper()
	b, err := r.next(20 * time.Second)
	if err == nil {
		var ack codec.Connack
		if _, derr := ack.DecodeV(b, 5); derr != nil || ack.ReturnCode < 0x80 || ack.SessionPresent {
			r.t.Fatalf("got % x, want a refusing CONNACK or the connection closed", b)
		}
		r.expectClosed(5 * time.Second)
	}
}

func sendPublishV5(r *rawClient, p *codec.Publish) {
	r.t.Helper()
	r.send(codec.AppendPublishV5(nil, p))
}

func TestV5MustConnect(t *testing.T) {
	s := startBroker(t, nil)
	t.Run("MQTT5-3.1.0-1 a first packet other than CONNECT closes the connection, no DISCONNECT before CONNACK [MQTT5-3.14.0-1]", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendHex("c0 00") // PINGREQ
		r.expectClosed(5 * time.Second)
	})
	t.Run("MQTT5-3.1.0-2 a second CONNECT gets DISCONNECT 0x82, no second CONNACK [MQTT5-3.2.0-2], no Session Expiry in it [MQTT5-3.14.2-2]", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("twice", true, nil, false)
		r.send(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, ClientID: []byte("twice")}))
		if pr := r.expectDisconnect5(codec.ReasonProtocolError); pr.Has(codec.PropSessionExpiry) {
			t.Errorf("server DISCONNECT carries a Session Expiry Interval [MQTT5-3.14.2-2]")
		}
		r.expectClosed(5 * time.Second) // nothing after DISCONNECT [MQTT5-3.14.4-1], [MQTT5-3.14.4-2]
	})
	t.Run("MQTT5-3.1.2-1 a protocol name other than MQTT closes the connection", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendHex("10 0e 0004 4d515458 05 02 003c 00 0001 61") // "MQTX"
		r.expectRefusedConnect5()
	})
	t.Run("MQTT5-3.1.2-3 reserved CONNECT flag set closes the connection [MQTT5-3.1.4-1]", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendHex("10 0e 0004 4d515454 05 03 003c 00 0001 61")
		r.expectRefusedConnect5()
	})
	t.Run("MQTT5-3.2.0-1 CONNACK comes before the answer to a packet sent right behind CONNECT", func(t *testing.T) {
		r := dialRaw(t, s)
		c := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, ClientID: []byte("pipelined")})
		c = codec.AppendPingreq(c)
		r.send(c)
		var ack codec.Connack
		if b := r.read(); codec.PacketType(b) != codec.TypeConnack {
			t.Fatalf("first packet % x, want CONNACK", b)
		} else if _, err := ack.DecodeV(b, 5); err != nil || ack.ReturnCode != 0 {
			t.Fatalf("CONNACK % x (%v), want 0x00 [MQTT5-3.1.4-5]", b, err)
		}
		r.expectPacket("d0 00")
	})
	t.Run("MQTT5-3.1.4-6 nothing sent after a refused CONNECT is processed", func(t *testing.T) {
		w := dialRaw(t, s)
		w.connectAccepted5("w-314-6", true, nil, false)
		w.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("m3146/#")})
		r := dialRaw(t, s)
		b := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true,
			ClientID: []byte(strings.Repeat("x", 300))}) // over -max-client-id-len: CONNACK 0x85
		b = codec.AppendPublishV5(b, &codec.Publish{TopicName: []byte("m3146/refused"), Payload: []byte("must not pass")})
		r.send(b)
		r.expectRefusedConnect5()
		p := dialRaw(t, s)
		p.connectAccepted5("p-314-6", true, nil, false)
		sendPublishV5(p, &codec.Publish{TopicName: []byte("m3146/marker"), Payload: []byte("marker")})
		w.readPayload5("marker") // the refused client's PUBLISH would have come first
	})
	t.Run("MQTT5-3.1.2-4 Clean Start 1 discards the session, Session Present 0 [MQTT5-3.2.2-2], [MQTT5-3.1.4-4]", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("cs", false, sessionExpiryProps(300), false) // no session yet: a new one [MQTT5-3.1.2-6], Session Present 0 [MQTT5-3.2.2-3]
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("cs/old")})
		r.c.Close()
		// Clean Start 0 resumes it: Session Present 1 [MQTT5-3.1.2-5], [MQTT5-3.2.2-3], its
		// subscription in force [MQTT5-3.1.2-23].
		r = dialRaw(t, s)
		r.connectAccepted5("cs", false, sessionExpiryProps(300), true)
		p := dialRaw(t, s)
		p.connectAccepted5("cs-pub", true, nil, false)
		sendPublishV5(p, &codec.Publish{TopicName: []byte("cs/old"), Payload: []byte("kept")})
		r.readPayload5("kept")
		r.c.Close()
		r = dialRaw(t, s)
		r.connectAccepted5("cs", true, sessionExpiryProps(300), false)
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("cs/marker")})
		sendPublishV5(p, &codec.Publish{TopicName: []byte("cs/old"), Payload: []byte("old subscription")})
		sendPublishV5(p, &codec.Publish{TopicName: []byte("cs/marker"), Payload: []byte("marker")})
		r.readPayload5("marker")
	})
	t.Run("MQTT5-3.2.2-6 a refused CONNECT for an existing session has Session Present 0 and closes [MQTT5-3.2.2-7]", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("sp-refused", false, sessionExpiryProps(300), false)
		r.c.Close()
		r = dialRaw(t, s)
		c := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, ClientID: []byte("sp-refused"),
			WillFlag: true, WillTopic: []byte("sp/will"), WillMessage: []byte{0xff, 0xfe}}
		c.Props = *sessionExpiryProps(300)
		c.WillProps.PayloadFormat = 1
		c.WillProps.Set(codec.PropPayloadFormat)
		r.send(codec.AppendConnect(nil, c))
		b := r.read()
		var ack codec.Connack
		if _, err := ack.DecodeV(b, 5); err != nil || ack.ReturnCode != byte(codec.ReasonPayloadFormatInvalid) || ack.SessionPresent {
			t.Fatalf("CONNACK % x (%v), want 0x99 with Session Present 0", b, err)
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("MQTT5-3.1.2-28 no Response Information, asked for or not", func(t *testing.T) {
		for _, ask := range []byte{0, 1} {
			var pr codec.Properties
			pr.RequestResponseInfo = ask
			pr.Set(codec.PropRequestResponseInfo)
			r := dialRaw(t, s)
			if ack := r.connectAccepted5("rri", true, &pr, false); ack.Props.Has(codec.PropResponseInfo) {
				t.Errorf("Request Response Information %d: CONNACK has Response Information %q", ask, ack.Props.ResponseInfo)
			}
		}
	})
	t.Run("MQTT5-3.1.3-5 a 23-character alphanumeric client ID is accepted", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("0123456789abcdefghijABC", true, nil, false)
	})
	t.Run("MQTT5-3.1.3-6 empty client IDs get distinct assigned IDs [MQTT5-3.1.3-7], [MQTT5-3.2.2-16]", func(t *testing.T) {
		a, b := dialRaw(t, s), dialRaw(t, s)
		ida := string(a.connectAccepted5("", true, nil, false).Props.AssignedClientID)
		idb := string(b.connectAccepted5("", true, nil, false).Props.AssignedClientID)
		if ida == "" || ida == idb {
			t.Fatalf("assigned IDs %q and %q, want two different ones", ida, idb)
		}
	})
	t.Run("MQTT5-3.8.1-1 SUBSCRIBE with flags 0000 is malformed: DISCONNECT 0x81 [MQTT5-4.13.1-1]", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("subflags", true, nil, false)
		r.sendHex("80 07 0001 00 0001 61 00")
		r.expectDisconnect5(codec.ReasonMalformedPacket)
		r.expectClosed(5 * time.Second)
	})
	t.Run("MQTT5-3.2.2-15 a packet over the announced Maximum Packet Size gets DISCONNECT 0x95", func(t *testing.T) {
		r := dialRaw(t, s)
		ack := r.connectAccepted5("toolarge", true, nil, false)
		n := ack.Props.MaximumPacketSize + 1
		r.send([]byte{0x30, byte(n) | 0x80, byte(n>>7) | 0x80, byte(n>>14) | 0x80, byte(n >> 21), 0x00, 0x01, 't'}) // the header alone tells
		r.expectDisconnect5(codec.ReasonPacketTooLarge)
		r.expectClosed(5 * time.Second)
	})
	t.Run("MQTT5-3.6.1-1 PUBREL with flags 0000 is malformed: DISCONNECT 0x81", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("relflags", true, nil, false)
		r.sendHex("60 02 0001")
		r.expectDisconnect5(codec.ReasonMalformedPacket)
		r.expectClosed(5 * time.Second)
	})
}

// TestV5MustWill: the will is stored with the session and published on an
// abnormal close, retained or not as the CONNECT said.
func TestV5MustWill(t *testing.T) {
	s := startBroker(t, nil)
	w := dialRaw(t, s)
	w.connectAccepted5("will-watch", true, nil, false)
	w.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("wr/#")})
	for _, retain := range []bool{false, true} {
		r := dialRaw(t, s)
		topic := "wr/plain"
		if retain {
			topic = "wr/retained"
		}
		r.send(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true,
			ClientID: []byte("willer-" + topic[3:]), WillFlag: true, WillRetain: retain, WillTopic: []byte(topic), WillMessage: []byte("gone")}))
		r.read()    // CONNACK
		r.c.Close() // no DISCONNECT: the will is due [MQTT5-3.1.2-7], [MQTT5-3.1.2-8]
		if p := w.readPayload5("gone"); p.Retain {
			t.Errorf("%s: live will forwarded with RETAIN 1, want 0 [MQTT5-3.3.1-12]", topic)
		}
	}
	n := dialRaw(t, s)
	n.connectAccepted5("will-late", true, nil, false)
	n.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("wr/#")})
	t.Run("MQTT5-3.1.2-15 a will with Will Retain 1 is published retained", func(t *testing.T) {
		if p := n.readPayload5("gone"); !p.Retain || string(p.TopicName) != "wr/retained" {
			t.Fatalf("got %q retain %v, want the retained will on wr/retained", p.TopicName, p.Retain)
		}
	})
	t.Run("MQTT5-3.1.2-14 a will with Will Retain 0 is not retained", func(t *testing.T) {
		p := dialRaw(t, s)
		p.connectAccepted5("will-marker", true, nil, false)
		sendPublishV5(p, &codec.Publish{TopicName: []byte("wr/marker"), Payload: []byte("marker")})
		n.readPayload5("marker") // a retained wr/plain would have come on SUBSCRIBE, before it
	})
}

// TestV5MustPublish: what the broker forwards, and how.
func TestV5MustPublish(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialRaw(t, s)
	sub.connectAccepted5("mp-sub", true, nil, false)
	sub.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("mp/#"), QoS: 2})
	pub := dialRaw(t, s)
	pub.connectAccepted5("mp-pub", true, nil, false)

	t.Run("MQTT5-3.3.2-17 every property forwarded unaltered: user properties in order [MQTT5-3.3.2-18], payload format [MQTT5-3.3.2-4], response topic [MQTT5-3.3.2-15], correlation data [MQTT5-3.3.2-16], content type [MQTT5-3.3.2-20]", func(t *testing.T) {
		p := codec.Publish{TopicName: []byte("mp/props"), Payload: []byte("héllo")}
		p.Props.User = []codec.UserProperty{{Key: []byte("b"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")}, {Key: []byte("b"), Value: []byte("3")}}
		p.Props.PayloadFormat = 1
		p.Props.Set(codec.PropPayloadFormat)
		p.Props.ResponseTopic = []byte("mp/reply/to/me")
		p.Props.Set(codec.PropResponseTopic)
		p.Props.CorrelationData = []byte{0, 1, 2, 0xff}
		p.Props.Set(codec.PropCorrelationData)
		p.Props.ContentType = []byte("text/plain; charset=utf-8")
		p.Props.Set(codec.PropContentType)
		sendPublishV5(pub, &p)
		got := sub.readPayload5("héllo")
		if got.Dup || got.QoS != 0 {
			t.Errorf("QoS 0 forward with DUP %v QoS %d, want DUP 0 QoS 0 [MQTT5-3.3.1-2], [MQTT5-4.3.1-1]", got.Dup, got.QoS)
		}
		if !slices.EqualFunc(got.Props.User, p.Props.User, func(a, b codec.UserProperty) bool {
			return bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
		}) {
			t.Errorf("user properties %q, want %q in that order", got.Props.User, p.Props.User)
		}
		if !got.Props.Has(codec.PropPayloadFormat) || got.Props.PayloadFormat != 1 {
			t.Errorf("payload format indicator lost")
		}
		if string(got.Props.ResponseTopic) != "mp/reply/to/me" || !bytes.Equal(got.Props.CorrelationData, p.Props.CorrelationData) ||
			string(got.Props.ContentType) != "text/plain; charset=utf-8" {
			t.Errorf("response topic %q, correlation data % x, content type %q: altered", got.Props.ResponseTopic,
				got.Props.CorrelationData, got.Props.ContentType)
		}
	})
	t.Run("MQTT5-3.3.1-3 the DUP flag of a forward is the broker's own: 0 on a first delivery [MQTT5-3.3.1-1]", func(t *testing.T) {
		sendPublishV5(pub, &codec.Publish{Dup: true, QoS: 1, PacketID: 5, TopicName: []byte("mp/dup"), Payload: []byte("dup")})
		pub.readAck5(codec.TypePuback) // [MQTT5-3.3.4-1], [MQTT5-4.3.2-4]
		got := sub.readPayload5("dup")
		if got.Dup || got.QoS != 1 || got.PacketID == 0 {
			t.Fatalf("forward DUP %v QoS %d id %d, want DUP 0 QoS 1 and a packet identifier [MQTT5-4.3.2-1], [MQTT5-4.3.2-2]", got.Dup, got.QoS, got.PacketID)
		}
		sub.send(codec.AppendPuback(nil, got.PacketID))
	})
	t.Run("MQTT5-3.3.2.3.2 payload format 1 with a payload that is not UTF-8: PUBACK/PUBREC 0x99, not forwarded; at QoS 0 DISCONNECT 0x99", func(t *testing.T) {
		bad := codec.Publish{TopicName: []byte("mp/utf8"), Payload: []byte{'a', 0xc3, 0x28}}
		bad.Props.PayloadFormat = 1
		bad.Props.Set(codec.PropPayloadFormat)
		bad.QoS, bad.PacketID = 1, 11
		sendPublishV5(pub, &bad)
		if a, b := pub.readAck5(codec.TypePuback); a.ReasonCode != codec.ReasonPayloadFormatInvalid || a.PacketID != 11 {
			t.Fatalf("PUBACK % x, want id 11 reason 0x99", b)
		}
		bad.QoS, bad.PacketID = 2, 12
		sendPublishV5(pub, &bad)
		if a, b := pub.readAck5(codec.TypePubrec); a.ReasonCode != codec.ReasonPayloadFormatInvalid || a.PacketID != 12 {
			t.Fatalf("PUBREC % x, want id 12 reason 0x99", b)
		}
		// After PUBREC 0x99 the identifier starts a new message [MQTT5-4.3.3-9].
		sendPublishV5(pub, &codec.Publish{QoS: 2, PacketID: 12, TopicName: []byte("mp/utf8"), Payload: []byte("fine")})
		if a, b := pub.readAck5(codec.TypePubrec); a.ReasonCode != 0 {
			t.Fatalf("PUBREC % x, want 0x00", b)
		}
		pub.send(codec.AppendPubrel(nil, 12))
		pub.expectPacket("70 02 00 0c")
		got := sub.readPayload5("fine") // the refused ones came first if they were forwarded
		sub.send(codec.AppendPubrec(nil, got.PacketID))
		sub.expectPacket("62 02 " + hex16(got.PacketID))
		sub.send(codec.AppendPubcomp(nil, got.PacketID))

		q0 := dialRaw(t, s)
		q0.connectAccepted5("mp-q0", true, nil, false)
		bad.QoS, bad.PacketID = 0, 0
		sendPublishV5(q0, &bad)
		q0.expectDisconnect5(codec.ReasonPayloadFormatInvalid)
		q0.expectClosed(5 * time.Second)
	})
	t.Run("MQTT5-3.3.4-2 overlapping subscriptions: one copy at the highest QoS with every subscription identifier [MQTT5-3.3.4-3], [MQTT5-3.3.4-4]", func(t *testing.T) {
		o := dialRaw(t, s)
		o.connectAccepted5("mp-overlap", true, nil, false)
		o.subscribe5(1, 1, codec.Subscription{TopicFilter: []byte("ov/#"), QoS: 0})
		o.subscribe5(2, 2, codec.Subscription{TopicFilter: []byte("ov/+"), QoS: 1})
		sendPublishV5(pub, &codec.Publish{QoS: 2, PacketID: 21, TopicName: []byte("ov/a"), Payload: []byte("both")})
		pub.readAck5(codec.TypePubrec)
		pub.send(codec.AppendPubrel(nil, 21))
		pub.expectPacket("70 02 00 15")
		got := o.readPayload5("both")
		ids := slices.Sorted(slices.Values(got.Props.SubscriptionIDs))
		if got.QoS != 1 || !slices.Equal(ids, []uint32{1, 2}) {
			t.Fatalf("got QoS %d subscription IDs %v, want QoS 1 (min of 2 and the highest grant 1 [MQTT5-3.8.4-8]) with [1 2]", got.QoS, got.Props.SubscriptionIDs)
		}
		o.send(codec.AppendPuback(nil, got.PacketID))
		sendPublishV5(pub, &codec.Publish{TopicName: []byte("ov/marker"), Payload: []byte("marker")})
		o.readPayload5("marker") // a second copy of "both" would have come first
	})
}

// TestV5MustQoS: the QoS 1 and 2 flows of a 5.0 connection, both ways.
func TestV5MustQoS(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialRaw(t, s)
	sub.connectAccepted5("mq-sub", true, nil, false)
	sub.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("mq/#"), QoS: 2})
	pub := dialRaw(t, s)
	pub.connectAccepted5("mq-pub", true, nil, false)
	ackAll := func() {
		// Completes whatever the subscriber got, in its QoS.
		p := sub.readPublish5()
		switch p.QoS {
		case 1:
			sub.send(codec.AppendPuback(nil, p.PacketID))
		case 2:
			sub.send(codec.AppendPubrec(nil, p.PacketID))
			sub.expectPacket("62 02 " + hex16(p.PacketID))
			sub.send(codec.AppendPubcomp(nil, p.PacketID))
		}
	}
	t.Run("MQTT5-4.3.2-5 after PUBACK the same packet identifier is a new message [MQTT5-4.3.2-4]", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			sendPublishV5(pub, &codec.Publish{QoS: 1, PacketID: 7, TopicName: []byte("mq/one"), Payload: []byte("x")})
			if a, b := pub.readAck5(codec.TypePuback); a.PacketID != 7 || a.ReasonCode != 0 {
				t.Fatalf("PUBACK % x, want id 7 success", b)
			}
		}
		ackAll()
		ackAll()
	})
	t.Run("MQTT5-4.3.3-10 QoS 2 receiver: a repeat before PUBREL is acknowledged, not forwarded; PUBREL gets PUBCOMP [MQTT5-4.3.3-11]; after it the identifier is new [MQTT5-4.3.3-12]", func(t *testing.T) {
		send := func(dup bool, payload string) {
			sendPublishV5(pub, &codec.Publish{Dup: dup, QoS: 2, PacketID: 9, TopicName: []byte("mq/two"), Payload: []byte(payload)})
			if a, b := pub.readAck5(codec.TypePubrec); a.PacketID != 9 || a.ReasonCode != 0 { // [MQTT5-4.3.3-8]
				t.Fatalf("PUBREC % x, want id 9 success", b)
			}
		}
		send(false, "first")
		send(true, "first")
		pub.send(codec.AppendPubrel(nil, 9))
		pub.expectPacket("70 02 00 09")
		send(false, "second")
		pub.send(codec.AppendPubrel(nil, 9))
		pub.expectPacket("70 02 00 09")
		// The sender side: QoS 2, DUP 0, a fresh identifier [MQTT5-4.3.3-1], [MQTT5-4.3.3-2];
		// PUBREL with the same identifier after PUBREC [MQTT5-4.3.3-4].
		first, second := sub.readPayload5("first"), sub.readPayload5("second")
		if first.PacketID == second.PacketID {
			t.Fatalf("two deliveries in flight share packet identifier %d", first.PacketID)
		}
		for _, p := range []codec.Publish{first, second} {
			if p.QoS != 2 || p.Dup || p.PacketID == 0 {
				t.Fatalf("delivery QoS %d DUP %v id %d, want QoS 2 DUP 0 and an identifier", p.QoS, p.Dup, p.PacketID)
			}
			sub.send(codec.AppendPubrec(nil, p.PacketID))
			sub.expectPacket("62 02 " + hex16(p.PacketID))
			sub.send(codec.AppendPubcomp(nil, p.PacketID))
		}
	})
	t.Run("MQTT5-4.3.3-11 PUBREL for an identifier not awaiting release gets PUBCOMP 0x92", func(t *testing.T) {
		pub.send(codec.AppendPubrel(nil, 0x63))
		if a, b := pub.readAck5(codec.TypePubcomp); a.PacketID != 0x63 || a.ReasonCode != codec.ReasonPacketIdentifierNotFound {
			t.Fatalf("got % x, want PUBCOMP id 0x63 reason 0x92", b)
		}
	})
}

// TestV5MustResend: what a resumed 5.0 session sends again, and what it
// must not.
func TestV5MustResend(t *testing.T) {
	s := startBroker(t, nil)
	pub := dialRaw(t, s)
	pub.connectAccepted5("rs-pub", true, nil, false)
	publish := func(qos byte, topic, payload string) {
		sendPublishV5(pub, &codec.Publish{QoS: qos, PacketID: 1, TopicName: []byte(topic), Payload: []byte(payload)})
		switch qos {
		case 1:
			pub.readAck5(codec.TypePuback)
		case 2:
			pub.readAck5(codec.TypePubrec)
			pub.send(codec.AppendPubrel(nil, 1))
			pub.expectPacket("70 02 00 01")
		}
	}
	subscribeAll := func(r *rawClient) {
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("rs/#"), QoS: 2},
			codec.Subscription{TopicFilter: []byte("rsm/#"), QoS: 0})
	}
	t.Run("MQTT5-4.4.0-1 unacknowledged PUBLISH resent with its identifier and DUP 1, PUBREL resent", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("rs-a", false, sessionExpiryProps(300), false)
		subscribeAll(r)
		publish(1, "rs/q1", "q1")
		p1 := r.readPayload5("q1")
		publish(2, "rs/q2", "q2")
		p2 := r.readPayload5("q2")
		r.send(codec.AppendPubrec(nil, p2.PacketID))
		r.expectPacket("62 02 " + hex16(p2.PacketID))
		r.c.Close()
		r = dialRaw(t, s)
		r.connectAccepted5("rs-a", false, sessionExpiryProps(300), true)
		got := map[string]bool{}
		for i := 0; i < 2; i++ {
			b := r.read()
			switch codec.PacketType(b) {
			case codec.TypePublish:
				var p codec.Publish
				if _, err := p.DecodeFromServer(b, 5); err != nil || !p.Dup || p.PacketID != p1.PacketID || string(p.Payload) != "q1" {
					t.Fatalf("resent % x, want q1 with DUP 1 and id %d", b, p1.PacketID)
				}
				got["publish"] = true
				r.send(codec.AppendPuback(nil, p.PacketID))
			case codec.TypePubrel:
				if !bytes.Equal(b, codec.AppendPubrel(nil, p2.PacketID)) {
					t.Fatalf("resent % x, want PUBREL %d", b, p2.PacketID)
				}
				got["pubrel"] = true
				r.send(codec.AppendPubcomp(nil, p2.PacketID))
			default:
				t.Fatalf("got % x, want the resent PUBLISH and PUBREL", b)
			}
		}
		if !got["publish"] || !got["pubrel"] {
			t.Fatalf("resent %v, want one PUBLISH and one PUBREL", got)
		}
	})
	t.Run("MQTT5-4.4.0-2 PUBACK or PUBREC 0x80 ends the delivery: no PUBREL, nothing resent [MQTT5-4.3.3-4]", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("rs-b", false, sessionExpiryProps(300), false)
		subscribeAll(r)
		publish(1, "rs/q1", "refused1")
		p1 := r.readPayload5("refused1")
		r.send(codec.AppendAckV5(nil, codec.TypePuback, p1.PacketID, codec.ReasonUnspecifiedError, nil))
		publish(2, "rs/q2", "refused2")
		p2 := r.readPayload5("refused2")
		r.send(codec.AppendAckV5(nil, codec.TypePubrec, p2.PacketID, codec.ReasonUnspecifiedError, nil))
		publish(0, "rsm/1", "marker1")
		r.readPayload5("marker1") // a PUBREL would have come first
		r.c.Close()
		r = dialRaw(t, s)
		r.connectAccepted5("rs-b", false, sessionExpiryProps(300), true)
		publish(0, "rsm/2", "marker2")
		r.readPayload5("marker2") // a resend would have come first
	})
	t.Run("MQTT5-3.10.4-3 a QoS 1 delivery started before UNSUBSCRIBE is still completed", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("rs-c", false, sessionExpiryProps(300), false)
		subscribeAll(r)
		publish(1, "rs/u", "started")
		p := r.readPayload5("started")
		r.send(codec.AppendUnsubscribeV5(nil, 2, nil, [][]byte{[]byte("rs/#")}))
		if b := r.read(); codec.PacketType(b) != codec.TypeUnsuback {
			t.Fatalf("got % x, want UNSUBACK", b)
		}
		r.c.Close()
		r = dialRaw(t, s)
		r.connectAccepted5("rs-c", false, sessionExpiryProps(300), true)
		again := r.readPayload5("started")
		if !again.Dup || again.PacketID != p.PacketID {
			t.Fatalf("resent DUP %v id %d, want DUP 1 id %d", again.Dup, again.PacketID, p.PacketID)
		}
		r.send(codec.AppendPuback(nil, again.PacketID))
	})
}

// TestV5MustFlowControl: the broker keeps to the client's Receive Maximum
// and answers every other packet meanwhile.
func TestV5MustFlowControl(t *testing.T) {
	s := startBroker(t, nil)
	var pr codec.Properties
	pr.ReceiveMaximum = 2
	pr.Set(codec.PropReceiveMaximum)
	sub := dialRaw(t, s)
	sub.connectAccepted5("fc-sub", true, &pr, false)
	sub.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("fc/q"), QoS: 1})
	pub := dialRaw(t, s)
	pub.connectAccepted5("fc-pub", true, nil, false)
	for i := 1; i <= 4; i++ {
		sendPublishV5(pub, &codec.Publish{QoS: 1, PacketID: uint16(i), TopicName: []byte("fc/q"), Payload: []byte{'0' + byte(i)}})
		pub.readAck5(codec.TypePuback)
	}
	t.Run("MQTT5-3.3.4-9 no more unacknowledged QoS 1/2 PUBLISHes than the client's Receive Maximum [MQTT5-4.9.0-1], [MQTT5-4.9.0-2]", func(t *testing.T) {
		a := sub.readPayload5("1")
		b := sub.readPayload5("2")
		// The other two wait in the session's queue, not in flight: with
		// no regard for the client's maximum they would leave it.
		sess := s.Engine().reg.Lookup("fc-sub")
		waitFor(t, "two messages held back", func() bool { return sess.QueueLen() == 2 })
		t.Run("MQTT5-4.9.0-3 other packets are answered while the quota is 0 [MQTT5-3.3.4-10]", func(t *testing.T) {
			sub.sendHex("c0 00")
			sub.expectPacket("d0 00") // and no third PUBLISH before it
		})
		if n := sess.QueueLen(); n != 2 {
			t.Fatalf("%d messages queued after PINGREQ, want still 2", n)
		}
		sub.send(codec.AppendPuback(nil, a.PacketID))
		c := sub.readPayload5("3")
		sub.send(codec.AppendPuback(nil, b.PacketID))
		d := sub.readPayload5("4")
		sub.send(codec.AppendPuback(nil, c.PacketID))
		sub.send(codec.AppendPuback(nil, d.PacketID))
	})
}

// TestV5MustSubscribe: SUBSCRIBE and UNSUBSCRIBE processing at 5.0.
func TestV5MustSubscribe(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s)
	r.connectAccepted5("ms", true, nil, false)
	pub := dialRaw(t, s)
	pub.connectAccepted5("ms-pub", true, nil, false)
	t.Run("MQTT5-3.8.4-5 several filters: one SUBACK with the packet identifier [MQTT5-3.8.4-1], [MQTT5-3.8.4-2], a code per filter [MQTT5-3.8.4-6], [MQTT5-3.8.4-7], in order [MQTT5-3.9.3-1]", func(t *testing.T) {
		codes := r.subscribe5(0x1234, 0,
			codec.Subscription{TopicFilter: []byte("ms/a"), QoS: 0},
			codec.Subscription{TopicFilter: []byte("ms/#/bad"), QoS: 1},
			codec.Subscription{TopicFilter: []byte("ms/+/c"), QoS: 2},
			codec.Subscription{TopicFilter: []byte("ms/d"), QoS: 1})
		if !bytes.Equal(codes, []byte{0x00, 0x8f, 0x02, 0x01}) {
			t.Fatalf("SUBACK codes % x, want 00 8f 02 01", codes)
		}
	})
	t.Run("MQTT5-3.8.4-3 an identical filter replaces the subscription: its new QoS and identifier, one copy", func(t *testing.T) {
		r.subscribe5(2, 5, codec.Subscription{TopicFilter: []byte("ms/rep"), QoS: 0})
		r.subscribe5(3, 6, codec.Subscription{TopicFilter: []byte("ms/rep"), QoS: 1})
		sendPublishV5(pub, &codec.Publish{QoS: 1, PacketID: 1, TopicName: []byte("ms/rep"), Payload: []byte("rep")})
		pub.readAck5(codec.TypePuback)
		got := r.readPayload5("rep")
		if got.QoS != 1 || !slices.Equal(got.Props.SubscriptionIDs, []uint32{6}) {
			t.Fatalf("got QoS %d identifiers %v, want QoS 1 [6]", got.QoS, got.Props.SubscriptionIDs)
		}
		r.send(codec.AppendPuback(nil, got.PacketID))
		sendPublishV5(pub, &codec.Publish{TopicName: []byte("ms/a"), Payload: []byte("marker")})
		r.readPayload5("marker") // a second copy of "rep" would have come first
	})
	t.Run("MQTT5-3.8.4-4 replacing with Retain Handling 0 sends the retained messages again", func(t *testing.T) {
		sendPublishV5(pub, &codec.Publish{Retain: true, QoS: 1, PacketID: 2, TopicName: []byte("ms/ret"), Payload: []byte("kept")})
		pub.readAck5(codec.TypePuback) // stored before the SUBSCRIBE below
		for i := 0; i < 2; i++ {
			r.subscribe5(uint16(10+i), 0, codec.Subscription{TopicFilter: []byte("ms/ret")})
			if p := r.readPayload5("kept"); !p.Retain {
				t.Fatalf("SUBSCRIBE %d: retained message sent with RETAIN 0", i+1)
			}
		}
		sendPublishV5(pub, &codec.Publish{Retain: true, QoS: 1, PacketID: 3, TopicName: []byte("ms/ret")}) // clear it
		pub.readAck5(codec.TypePuback)
		r.readPayload5("") // forwarded like any message [MQTT5-3.3.1-6]
		t.Run("MQTT5-3.3.1-6 an empty retained payload removes the retained message and is not kept [MQTT5-3.3.1-7]", func(t *testing.T) {
			n := dialRaw(t, s)
			n.connectAccepted5("ms-late", true, nil, false)
			n.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("ms/ret")}, codec.Subscription{TopicFilter: []byte("mslate/m")})
			sendPublishV5(pub, &codec.Publish{TopicName: []byte("mslate/m"), Payload: []byte("marker")})
			n.readPayload5("marker") // a retained ms/ret would have come on SUBSCRIBE, before it
		})
	})
	t.Run("MQTT5-4.7.3-4 topics are matched byte for byte, never normalized", func(t *testing.T) {
		n := dialRaw(t, s)
		n.connectAccepted5("ms-norm", true, nil, false)
		n.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("nm/Case")}, codec.Subscription{TopicFilter: []byte("nm/x")},
			codec.Subscription{TopicFilter: []byte("nm/\u00e9")}, codec.Subscription{TopicFilter: []byte("nm/end")})
		for _, topic := range []string{"nm/case", "nm/x/", "nm/ x", "nm/e\u0301", "nm/Case"} {
			sendPublishV5(pub, &codec.Publish{TopicName: []byte(topic), Payload: []byte(topic)})
		}
		sendPublishV5(pub, &codec.Publish{TopicName: []byte("nm/end"), Payload: []byte("end")})
		n.readPayload5("nm/Case") // the near misses before it were not delivered
		n.readPayload5("end")
	})
	t.Run("MQTT5-3.10.4-6 UNSUBSCRIBE of several filters: one UNSUBACK [MQTT5-3.10.4-4], [MQTT5-3.10.4-5], codes in order [MQTT5-3.11.3-1], exact match only [MQTT5-3.10.4-1], deliveries stop [MQTT5-3.10.4-2]", func(t *testing.T) {
		r.send(codec.AppendUnsubscribeV5(nil, 0x4321, nil, [][]byte{[]byte("ms/+/c"), []byte("ms/never"), []byte("ms/x/c"), []byte("ms/d")}))
		b := r.read()
		want := codec.AppendUnsubackV5(nil, 0x4321, []byte{0x00, 0x11, 0x11, 0x00}, nil)
		if !bytes.Equal(b, want) {
			t.Fatalf("got % x, want UNSUBACK % x", b, want)
		}
		sendPublishV5(pub, &codec.Publish{TopicName: []byte("ms/x/c"), Payload: []byte("unsubscribed")})
		sendPublishV5(pub, &codec.Publish{TopicName: []byte("ms/d"), Payload: []byte("unsubscribed")})
		sendPublishV5(pub, &codec.Publish{TopicName: []byte("ms/a"), Payload: []byte("marker")})
		r.readPayload5("marker")
	})
}

// TestV5MustExpiry: message and session expiry on the broker's clock (a
// fake one, so nothing sleeps).
func TestV5MustExpiry(t *testing.T) {
	clock := newFakeClock()
	s := startBroker(t, func(c *Config) { c.Clock = clock })
	pub := dialRaw(t, s)
	pub.connectAccepted5("ex-pub", true, nil, false)
	publish := func(qos byte, retain bool, topic, payload string, expiry uint32) {
		p := codec.Publish{QoS: qos, Retain: retain, PacketID: 1, TopicName: []byte(topic), Payload: []byte(payload)}
		if expiry > 0 {
			p.Props.MessageExpiry = expiry
			p.Props.Set(codec.PropMessageExpiry)
		}
		sendPublishV5(pub, &p)
		switch qos {
		case 1:
			pub.readAck5(codec.TypePuback)
		case 2:
			pub.readAck5(codec.TypePubrec)
			pub.send(codec.AppendPubrel(nil, 1))
			pub.expectPacket("70 02 00 01")
		}
	}
	offline := func(id string) {
		t.Helper()
		waitFor(t, id+" offline", func() bool { c := s.Engine().reg.Lookup(id); return c != nil && !c.IsConnected() })
	}

	sub := dialRaw(t, s)
	sub.connectAccepted5("ex-sub", false, sessionExpiryProps(3600), false)
	sub.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("ex/#"), QoS: 2})
	sub.c.Close()
	offline("ex-sub")
	publish(2, false, "ex/q", "short", 5)
	publish(2, false, "ex/q", "long", 100)
	publish(2, false, "ex/q", "none", 0)
	clock.Advance(10 * time.Second)
	var long codec.Publish
	t.Run("MQTT5-3.3.2-5 a queued message whose interval has passed is not sent", func(t *testing.T) {
		sub = dialRaw(t, s)
		sub.connectAccepted5("ex-sub", false, sessionExpiryProps(3600), true)
		long = sub.readPayload5("long") // "short" came first if it were sent
		t.Run("MQTT5-3.3.2-6 the interval sent is what is left", func(t *testing.T) {
			if !long.Props.Has(codec.PropMessageExpiry) || long.Props.MessageExpiry > 90 || long.Props.MessageExpiry < 80 {
				t.Fatalf("Message Expiry Interval %d (present %v), want 90 left of 100", long.Props.MessageExpiry, long.Props.Has(codec.PropMessageExpiry))
			}
		})
		none := sub.readPayload5("none")
		if none.Props.Has(codec.PropMessageExpiry) {
			t.Errorf("a message without an interval was sent with one (%d)", none.Props.MessageExpiry)
		}
		sub.send(codec.AppendPubrec(nil, none.PacketID))
		sub.expectPacket("62 02 " + hex16(none.PacketID))
		sub.send(codec.AppendPubcomp(nil, none.PacketID))
	})
	t.Run("MQTT5-4.3.3-7 a QoS 2 delivery once sent is not expired: resent after its interval has passed", func(t *testing.T) {
		sub.c.Close() // "long" unacknowledged
		offline("ex-sub")
		clock.Advance(200 * time.Second)
		sub = dialRaw(t, s)
		sub.connectAccepted5("ex-sub", false, sessionExpiryProps(3600), true)
		again := sub.readPayload5("long")
		if !again.Dup || again.PacketID != long.PacketID {
			t.Fatalf("resent DUP %v id %d, want DUP 1 id %d [MQTT5-4.4.0-1]", again.Dup, again.PacketID, long.PacketID)
		}
		sub.send(codec.AppendPubrec(nil, again.PacketID))
		sub.expectPacket("62 02 " + hex16(again.PacketID))
		sub.send(codec.AppendPubcomp(nil, again.PacketID))
	})
	t.Run("MQTT5-4.3.3-13 the receiver finishes a QoS 2 flow whose message has expired", func(t *testing.T) {
		late := codec.Publish{QoS: 2, PacketID: 3, TopicName: []byte("ex/late"), Payload: []byte("late")}
		late.Props.MessageExpiry = 1
		late.Props.Set(codec.PropMessageExpiry)
		sendPublishV5(pub, &late)
		pub.readAck5(codec.TypePubrec)
		clock.Advance(5 * time.Second)
		pub.send(codec.AppendPubrel(nil, 3))
		pub.expectPacket("70 02 00 03")
	})
	t.Run("MQTT5-3.3.2-5 an expired retained message is not sent on SUBSCRIBE", func(t *testing.T) {
		publish(1, true, "exr/gone", "gone", 5)
		publish(1, true, "exr/kept", "kept", 0)
		publish(1, true, "exr/older", "older", 100)
		clock.Advance(10 * time.Second)
		r := dialRaw(t, s)
		r.connectAccepted5("ex-ret", true, nil, false)
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("exr/#")})
		got := map[string]codec.Publish{}
		for i := 0; i < 2; i++ {
			p := r.readPublish5()
			got[string(p.Payload)] = p
		}
		if _, ok := got["kept"]; !ok {
			t.Fatalf("got %v, want the retained kept and older", slices.Collect(maps.Keys(got)))
		}
		if o, ok := got["older"]; !ok || !o.Props.Has(codec.PropMessageExpiry) || o.Props.MessageExpiry > 90 || o.Props.MessageExpiry < 80 {
			t.Fatalf("retained older: present %v, Message Expiry Interval %d, want 90 left of 100 [MQTT5-3.3.2-6]", ok, o.Props.MessageExpiry)
		}
		publish(0, false, "exr/marker", "marker", 0)
		r.readPayload5("marker")
	})
	t.Run("MQTT5-4.1.0-1 a connected session outlives its expiry interval", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connectAccepted5("ex-live", false, sessionExpiryProps(2), false)
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("exl/t")})
		for i := 0; i < 4; i++ {
			clock.Advance(time.Second + 100*time.Millisecond)
		}
		publish(0, false, "exl/t", "alive", 0)
		r.readPayload5("alive")
		t.Run("MQTT5-4.1.0-2 once the connection is gone the session ends after its interval [MQTT5-3.1.2-23]", func(t *testing.T) {
			r.c.Close()
			offline("ex-live")
			clock.Advance(time.Second)
			clock.Advance(100 * time.Millisecond)
			if s.Engine().reg.Lookup("ex-live") == nil {
				t.Fatal("session ended before its interval")
			}
			for i := 0; i < 3; i++ {
				clock.Advance(time.Second)
			}
			waitFor(t, "session expired", func() bool { return s.Engine().reg.Lookup("ex-live") == nil })
			r = dialRaw(t, s)
			r.connectAccepted5("ex-live", false, sessionExpiryProps(2), false)
		})
	})
}

// TestV5MustWebSocket: MQTT 5.0 over WebSocket.
func TestV5MustWebSocket(t *testing.T) {
	certs := makeCerts(t, "unused")
	_, ns := startNetBroker(t, certs, false)
	dial := func(t *testing.T) *websocket.Conn {
		d := websocket.Dialer{Subprotocols: []string{"mqtt"}}
		c, resp, err := d.Dial("ws://"+ns.Addr("ws").String()+"/mqtt", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "mqtt" {
			t.Fatalf("subprotocol %q, want mqtt [MQTT5-6.0.0-4]", got)
		}
		return c
	}
	// readPackets reads WebSocket messages until n whole packets arrived.
	readPackets := func(t *testing.T, c *websocket.Conn, n int) [][]byte {
		var buf []byte
		var out [][]byte
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		for len(out) < n {
			for {
				k, err := codec.Frame(buf, 0)
				if err != nil {
					t.Fatalf("frame % x: %v", buf, err)
				}
				if k == 0 {
					break
				}
				out = append(out, buf[:k])
				buf = buf[k:]
			}
			if len(out) >= n {
				break
			}
			mt, msg, err := c.ReadMessage()
			if err != nil || mt != websocket.BinaryMessage {
				t.Fatalf("read: type %d, %v; want a binary message [MQTT5-6.0.0-1]", mt, err)
			}
			buf = append(buf, msg...)
		}
		return out
	}
	connect := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, ClientID: []byte("ws5")})
	t.Run("MQTT5-6.0.0-2 packets split across messages and sharing one are read as a stream [MQTT5-6.0.0-4]", func(t *testing.T) {
		c := dial(t)
		c.WriteMessage(websocket.BinaryMessage, connect[:5])
		c.WriteMessage(websocket.BinaryMessage, codec.AppendPingreq(slices.Clone(connect[5:])))
		got := readPackets(t, c, 2)
		var ack codec.Connack
		if _, err := ack.DecodeV(got[0], 5); err != nil || ack.ReturnCode != 0 || !bytes.Equal(got[1], []byte{0xd0, 0}) {
			t.Fatalf("got % x, want CONNACK 0x00 then PINGRESP", got)
		}
	})
	t.Run("MQTT5-6.0.0-3 a client offering no subprotocol mqtt is closed", func(t *testing.T) {
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+ns.Addr("ws").String()+"/mqtt", nil)
		if err != nil {
			return // refused at the upgrade: closed as well
		}
		defer c.Close()
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "" {
			t.Fatalf("subprotocol %q chosen for a client that offered none", got)
		}
		c.WriteMessage(websocket.BinaryMessage, connect)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, msg, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseProtocolError) {
			t.Fatalf("got % x, %v; want a close frame (protocol error)", msg, err)
		}
	})
	t.Run("MQTT5-6.0.0-1 a text message closes the connection", func(t *testing.T) {
		c := dial(t)
		c.WriteMessage(websocket.BinaryMessage, connect)
		readPackets(t, c, 1)
		c.WriteMessage(websocket.TextMessage, []byte{0xc0, 0})
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if mt, msg, err := c.ReadMessage(); err == nil {
			t.Fatalf("got message type %d % x, want the connection closed", mt, msg)
		} else if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			t.Fatalf("connection still open: %v", err)
		}
	})
}

// TestV5MustNoUserProperties: the broker adds no User Property to a packet
// of its own, so none can push one past the client's Maximum Packet Size
// (and none reaches a client that set Request Problem Information 0). The
// broker's reason strings are checked against the size in
// TestV5ProblemInformation and TestV5PublishRefused.
func TestV5MustNoUserProperties(t *testing.T) {
	s := startBroker(t, nil)
	noUser := func(t *testing.T, what string, pr *codec.Properties) {
		t.Helper()
		if len(pr.User) != 0 {
			t.Errorf("%s carries user properties %q", what, pr.User)
		}
	}
	r := dialRaw(t, s)
	ack := r.connectAccepted5("nu", true, nil, false)
	t.Run("MQTT5-3.2.2-20 none on CONNACK", func(t *testing.T) {
		noUser(t, "accepting CONNACK", &ack.Props)
		f := dialRaw(t, s)
		refused := f.connect5(strings.Repeat("x", 300), true, nil)
		if refused.ReturnCode != byte(codec.ReasonClientIdentifierNotValid) {
			t.Fatalf("CONNACK %#x, want 0x85", refused.ReturnCode)
		}
		noUser(t, "refusing CONNACK", &refused.Props)
	})
	t.Run("MQTT5-3.9.2-2 none on SUBACK, also one with a reason string", func(t *testing.T) {
		r.send(codec.AppendSubscribeV5(nil, 1, &codec.Properties{}, []codec.Subscription{{TopicFilter: []byte("nu/#/bad")}, {TopicFilter: []byte("nu/t")}}))
		b := r.read()
		var sa codec.Suback
		if _, err := sa.DecodeV(b, 5); err != nil || !bytes.Equal(sa.ReturnCodes, []byte{0x8f, 0}) {
			t.Fatalf("SUBACK % x (%v), want codes 8f 00", b, err)
		}
		noUser(t, "SUBACK", &sa.Props)
	})
	t.Run("MQTT5-3.11.2-2 none on UNSUBACK, nor a reason string [MQTT5-3.11.2-1]", func(t *testing.T) {
		r.send(codec.AppendUnsubscribeV5(nil, 2, nil, [][]byte{[]byte("nu/t"), []byte("nu/none")}))
		b := r.read()
		var ua codec.Unsuback
		if _, err := ua.DecodeV(b, 5); err != nil {
			t.Fatalf("UNSUBACK % x: %v", b, err)
		}
		noUser(t, "UNSUBACK", &ua.Props)
		if ua.Props.Has(codec.PropReasonString) {
			t.Errorf("UNSUBACK carries a reason string %q", ua.Props.ReasonString)
		}
	})
	t.Run("MQTT5-3.4.2-3 none on PUBACK or PUBREC [MQTT5-3.5.2-3], also with a reason string", func(t *testing.T) {
		for _, qos := range []byte{1, 2} {
			p := codec.Publish{QoS: qos, PacketID: 3, TopicName: []byte("$nu/t"), Payload: []byte("x")} // refused: 0x87
			sendPublishV5(r, &p)
			typ := codec.TypePuback
			if qos == 2 {
				typ = codec.TypePubrec
			}
			a, b := r.readAck5(typ)
			if a.ReasonCode != codec.ReasonNotAuthorized {
				t.Fatalf("got % x, want %s 0x87", b, typ)
			}
			noUser(t, typ.String(), &a.Props)
		}
	})
	t.Run("MQTT5-3.7.2-3 none on PUBCOMP, nor a reason string [MQTT5-3.7.2-2]; PUBREL is always 4 bytes [MQTT5-3.6.2-2], [MQTT5-3.6.2-3] (TestV5MustQoS)", func(t *testing.T) {
		r.send(codec.AppendPubrel(nil, 0x77))
		a, _ := r.readAck5(codec.TypePubcomp)
		noUser(t, "PUBCOMP 0x92", &a.Props)
		if a.Props.Has(codec.PropReasonString) {
			t.Errorf("PUBCOMP carries a reason string %q", a.Props.ReasonString)
		}
	})
	t.Run("MQTT5-3.14.2-4 none on DISCONNECT", func(t *testing.T) {
		r.sendHex("82 04 0001 0000") // SUBSCRIBE without a filter: malformed
		b := r.read()
		var d codec.Disconnect
		if _, err := d.DecodeV(b, 5); err != nil || codec.PacketType(b) != codec.TypeDisconnect {
			t.Fatalf("got % x (%v), want DISCONNECT", b, err)
		}
		noUser(t, "DISCONNECT", &d.Props)
		r.expectClosed(5 * time.Second)
	})
}
