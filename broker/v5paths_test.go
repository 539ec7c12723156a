package broker

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// TestV5DeliveryPaths sends the same messages to 5.0 subscribers that take
// each delivery path: plain ones (the message's one shared encoding,
// written inline by route, or by publishV5's short path at QoS 1), one with
// a Maximum Packet Size (route5, which shares that encoding), one with a
// subscription identifier (an encoding of its own) and one that takes
// topic aliases. On two loops, so some deliveries cross to the other one.
// Whatever the path, each subscriber decodes the same message, with the
// properties forwarded [MQTT5-3.3.2-17], [MQTT5-3.3.2-20], the expiry left
// [MQTT5-3.3.2-6], its own identifier only [MQTT5-3.3.4-3] and an empty
// property block where there is nothing to carry; the plain and the sized
// subscribers get the very same bytes.
func TestV5DeliveryPaths(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.TopicAliasMaximum = 10 })
	sub := codec.Subscription{TopicFilter: []byte("paths/#"), QoS: 1}
	type client struct {
		name string
		r    *rawClient
	}
	var subs []client
	for _, name := range []string{"plain-1", "plain-2", "plain-3", "sized", "ids", "alias"} {
		r := dialRaw(t, s)
		var pr codec.Properties
		switch name {
		case "sized":
			pr.MaximumPacketSize = 4096
			pr.Set(codec.PropMaximumPacketSize)
		case "alias":
			pr.TopicAliasMaximum = 10
			pr.Set(codec.PropTopicAliasMaximum)
		}
		if ack := r.connect5(name, true, &pr); ack.ReturnCode != 0 {
			t.Fatalf("%s: CONNACK reason %#x", name, ack.ReturnCode)
		}
		id := uint32(0)
		if name == "ids" {
			id = 5
		}
		if codes := r.subscribe5(1, id, sub); !bytes.Equal(codes, []byte{1}) {
			t.Fatalf("%s: SUBACK % x, want 01", name, codes)
		}
		subs = append(subs, client{name, r})
	}
	pub := dialRaw(t, s)
	pub.connect5("paths-pub", true, nil)

	withProps := func(p codec.Publish) codec.Publish {
		p.Props.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
		p.Props.ContentType = []byte("text/plain")
		p.Props.Set(codec.PropContentType)
		return p
	}
	expiring := func(p codec.Publish) codec.Publish {
		p.Props.MessageExpiry = 60
		p.Props.Set(codec.PropMessageExpiry)
		return p
	}
	msgs := []codec.Publish{
		{TopicName: []byte("paths/a"), Payload: []byte("bare")},
		withProps(codec.Publish{TopicName: []byte("paths/a"), Payload: []byte("props")}),
		expiring(codec.Publish{TopicName: []byte("paths/a"), Payload: []byte("expiry")}),
		{QoS: 1, PacketID: 1, TopicName: []byte("paths/b"), Payload: []byte("bare-1")},
		withProps(codec.Publish{QoS: 1, PacketID: 2, TopicName: []byte("paths/b"), Payload: []byte("props-1")}),
	}
	aliasSeen := map[string]uint16{}
	for i, m := range msgs {
		pub.send(codec.AppendPublishV5(nil, &m))
		if m.QoS == 1 {
			pub.expectPacket(fmt.Sprintf("40 02 00 %02x", m.PacketID))
		}
		var plain []byte
		ids := make([]uint16, len(subs))
		for k, c := range subs {
			b := c.r.read()
			var got codec.Publish
			if _, err := got.DecodeFromServer(b, 5); err != nil {
				t.Fatalf("message %d, %s: got % x: %v", i, c.name, b, err)
			}
			ids[k] = got.PacketID
			topic := string(got.TopicName)
			if c.name == "alias" {
				a := got.Props.TopicAlias
				if known, ok := aliasSeen[string(m.TopicName)]; ok {
					if topic != "" || a != known {
						t.Fatalf("message %d, alias: topic %q alias %d, want the alias %d alone [MQTT5-3.3.2-11]", i, topic, a, known)
					}
				} else if a == 0 || topic != string(m.TopicName) {
					t.Fatalf("message %d, alias: topic %q alias %d, want the name with a new alias", i, topic, a)
				}
				aliasSeen[string(m.TopicName)] = a
				topic = string(m.TopicName)
			} else if got.Props.Has(codec.PropTopicAlias) {
				t.Fatalf("message %d, %s: topic alias %d to a client that takes none [MQTT5-3.3.2-12]", i, c.name, got.Props.TopicAlias)
			}
			if topic != string(m.TopicName) || !bytes.Equal(got.Payload, m.Payload) || got.QoS != m.QoS || got.Retain {
				t.Fatalf("message %d, %s: got %q %q QoS %d retain %v; want %q %q QoS %d", i, c.name,
					topic, got.Payload, got.QoS, got.Retain, m.TopicName, m.Payload, m.QoS)
			}
			if v, ok := userProp(&got.Props, "k"); ok != (len(m.Props.User) > 0) || ok && v != "v" ||
				!bytes.Equal(got.Props.ContentType, m.Props.ContentType) {
				t.Fatalf("message %d, %s: user property %q (%v), content type %q; want content type %q and the user property if sent [MQTT5-3.3.2-17], [MQTT5-3.3.2-20]",
					i, c.name, v, ok, got.Props.ContentType, m.Props.ContentType)
			}
			if got.Props.Has(codec.PropMessageExpiry) != m.Props.Has(codec.PropMessageExpiry) ||
				got.Props.MessageExpiry > m.Props.MessageExpiry {
				t.Fatalf("message %d, %s: expiry %v %d, want %v, at most %d [MQTT5-3.3.2-6]", i, c.name,
					got.Props.Has(codec.PropMessageExpiry), got.Props.MessageExpiry, m.Props.Has(codec.PropMessageExpiry), m.Props.MessageExpiry)
			}
			wantIDs := "[]"
			if c.name == "ids" {
				wantIDs = "[5]"
			}
			if ids := fmt.Sprint(got.Props.SubscriptionIDs); ids != wantIDs {
				t.Fatalf("message %d, %s: subscription identifiers %s, want %s [MQTT5-3.3.4-3]", i, c.name, ids, wantIDs)
			}
			if c.name != "alias" && c.name != "ids" && got.Props.Empty() && len(got.Props.Raw) != 0 {
				t.Fatalf("message %d, %s: % x has property bytes but no property", i, c.name, b)
			}
			if c.name == "ids" || c.name == "alias" {
				continue
			}
			if m.QoS == 0 && plain == nil {
				plain = b
			} else if m.QoS == 0 && !bytes.Equal(b, plain) {
				t.Fatalf("message %d: %s got % x, the first plain subscriber % x; want the same encoding", i, c.name, b, plain)
			}
		}
		if i == 0 {
			want := unhex(t, "30 0e 0007 70617468732f61 00 62617265") // property length 0
			if !bytes.Equal(plain, want) {
				t.Fatalf("bare QoS 0: got % x, want % x", plain, want)
			}
		}
		for k, c := range subs {
			if m.QoS == 1 {
				c.r.send(codec.AppendPuback(nil, ids[k]))
			}
		}
	}
	for _, c := range subs {
		c.r.expectSilence(100 * time.Millisecond)
	}
}
