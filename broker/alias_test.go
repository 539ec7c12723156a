package broker

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// expectDisconnect5 reads a server DISCONNECT and checks its reason code;
// it returns the packet's properties.
func (r *rawClient) expectDisconnect5(rc codec.ReasonCode) codec.Properties {
	r.t.Helper()
	b := r.read()
	var d codec.Disconnect
	if _, err := d.DecodeV(b, 5); err != nil || codec.PacketType(b) != codec.TypeDisconnect {
		r.t.Fatalf("got % x (%v), want DISCONNECT %#x", b, err, rc)
	}
	if d.ReasonCode != rc {
		r.t.Fatalf("DISCONNECT reason %#x (%q), want %#x", d.ReasonCode, d.Props.ReasonString, rc)
	}
	return d.Props.Clone()
}

// publish5 sends an MQTT 5.0 PUBLISH of payload to topic ("" with an alias
// uses it), with topic alias alias when not 0, and reads the PUBACK of QoS 1.
func (r *rawClient) publish5(topic string, alias uint16, qos byte, id uint16, payload string) {
	r.t.Helper()
	p := codec.Publish{QoS: qos, TopicName: []byte(topic), PacketID: id, Payload: []byte(payload)}
	if alias != 0 {
		p.Props.TopicAlias = alias
		p.Props.Set(codec.PropTopicAlias)
	}
	r.send(codec.AppendPublishV5(nil, &p))
	if qos == 1 {
		var a codec.Ack
		if b := r.read(); codec.PacketType(b) != codec.TypePuback {
			r.t.Fatalf("got % x, want PUBACK", b)
		} else if _, err := a.DecodeV(b, 5); err != nil || a.PacketID != id {
			r.t.Fatalf("PUBACK % x (%v), want id %d", b, err, id)
		}
	}
}

// aliasReader receives 5.0 PUBLISHes as a client that sent Topic Alias
// Maximum max does: it keeps the server's aliases of one connection and
// fails the test on an alias above max [MQTT5-3.3.2-11] or one used before
// it was set.
type aliasReader struct {
	*rawClient
	max     uint16
	aliases map[uint16]string
}

// delivery is one received PUBLISH: its topic after alias resolution,
// whether the packet carried the name, and its alias (0 for none).
type delivery struct {
	topic   string
	named   bool
	alias   uint16
	payload string
	p       codec.Publish
}

func dialAliases(t *testing.T, s *Server, id string, clean bool, max uint16, extra func(*codec.Properties)) (*aliasReader, codec.Connack) {
	t.Helper()
	r := &aliasReader{rawClient: dialRaw(t, s), max: max, aliases: map[uint16]string{}}
	var pr codec.Properties
	if max > 0 {
		pr.TopicAliasMaximum = max
		pr.Set(codec.PropTopicAliasMaximum)
	}
	if extra != nil {
		extra(&pr)
	}
	ack := r.connect5(id, clean, &pr)
	return r, ack
}

func (r *aliasReader) next() delivery {
	r.t.Helper()
	p := r.readPublish5()
	d := delivery{topic: string(p.TopicName), named: len(p.TopicName) > 0, payload: string(p.Payload), p: p}
	if p.Props.Has(codec.PropTopicAlias) {
		d.alias = p.Props.TopicAlias
		if r.max == 0 || d.alias > r.max { // [MQTT5-3.1.2-27], [MQTT5-3.3.2-11]
			r.t.Fatalf("topic alias %d from the server, our maximum is %d", d.alias, r.max)
		}
		if d.named {
			r.aliases[d.alias] = d.topic
		} else if known, ok := r.aliases[d.alias]; ok {
			d.topic = known
		} else {
			r.t.Fatalf("empty topic name with alias %d that the server never set on this connection [MQTT5-3.3.2-7]", d.alias)
		}
	} else if !d.named {
		r.t.Fatalf("PUBLISH with neither topic name nor alias")
	}
	return d
}

// want checks d: topic, whether the name came, and the alias (0 for none).
func (d delivery) want(t *testing.T, topic string, named bool, alias uint16) {
	t.Helper()
	if d.topic != topic || d.named != named || d.alias != alias {
		t.Fatalf("got topic %q (name sent %v) alias %d, want %q (name sent %v) alias %d",
			d.topic, d.named, d.alias, topic, named, alias)
	}
}

func TestV5TopicAliasInbound(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.TopicAliasMaximum = 3 })
	sub := dialRaw(t, s)
	sub.connect5("tai-sub", true, nil)
	sub.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("tai/#"), QoS: 1})
	expect := func(topic, payload string) {
		t.Helper()
		if p := sub.readPublish5(); string(p.TopicName) != topic || string(p.Payload) != payload {
			t.Fatalf("subscriber got %q %q, want %q %q", p.TopicName, p.Payload, topic, payload)
		}
	}

	pub := dialRaw(t, s)
	if ack := pub.connect5("tai-pub", true, nil); !ack.Props.Has(codec.PropTopicAliasMaximum) || ack.Props.TopicAliasMaximum != 3 {
		t.Fatalf("CONNACK Topic Alias Maximum %d (present %v), want 3 [MQTT5-3.2.2-17]",
			ack.Props.TopicAliasMaximum, ack.Props.Has(codec.PropTopicAliasMaximum))
	}
	t.Run("MQTT5-3.3.2-12 aliases up to the maximum are set, used and changed", func(t *testing.T) {
		pub.publish5("tai/one", 1, 0, 0, "a")
		expect("tai/one", "a")
		pub.publish5("", 1, 1, 1, "b") // QoS 1 through the alias
		expect("tai/one", "b")
		pub.publish5("tai/three", 3, 0, 0, "c") // the maximum itself
		pub.publish5("", 3, 0, 0, "d")
		expect("tai/three", "c")
		expect("tai/three", "d")
		pub.publish5("tai/other", 1, 0, 0, "e") // alias 1 now means another topic
		pub.publish5("", 1, 0, 0, "f")
		expect("tai/other", "e")
		expect("tai/other", "f")
		pub.publish5("", 3, 0, 0, "g") // alias 3 unchanged
		expect("tai/three", "g")
	})
	t.Run("MQTT5-3.3.2-7 aliases are not carried to a new connection", func(t *testing.T) {
		again := dialRaw(t, s)
		again.connect5("tai-pub", true, nil) // takes the session over; the old connection's aliases are gone
		again.publish5("", 1, 0, 0, "x")
		props := again.expectDisconnect5(codec.ReasonProtocolError)
		if len(props.ReasonString) == 0 {
			t.Errorf("DISCONNECT without a reason string; the client asked for problem information")
		}
		again.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.3.2-9 alias above the maximum gets DISCONNECT 0x94", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("tai-big", true, nil)
		r.publish5("tai/four", 4, 0, 0, "x")
		props := r.expectDisconnect5(codec.ReasonTopicAliasInvalid)
		if !bytes.Contains(props.ReasonString, []byte("above the Topic Alias Maximum 3")) {
			t.Errorf("reason string %q, want it to name the maximum", props.ReasonString)
		}
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.3.2.3.4 unknown alias with an empty topic gets DISCONNECT 0x82", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("tai-unknown", true, nil)
		r.publish5("tai/two", 2, 0, 0, "x") // alias 2 set, alias 1 never
		r.publish5("", 1, 0, 0, "y")
		r.expectDisconnect5(codec.ReasonProtocolError)
		r.expectClosed(2 * time.Second)
	})
	expect("tai/two", "x") // the last good message of the closed connection was delivered
	sub.expectSilence(200 * time.Millisecond)
}

func TestV5TopicAliasOutbound(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.TopicAliasMaximum = 2 })
	pub := dialRaw(t, s)
	pub.connect5("tao-pub", true, nil)
	for _, qos := range []byte{0, 1} {
		t.Run(fmt.Sprintf("MQTT5-3.3.2-11 QoS %d first kept, never above the maximum", qos), func(t *testing.T) {
			// Several subscribers, so that some sit on the publisher's loop and
			// some on the other; one with a subscription identifier takes an
			// encoding of its own.
			var subs []*aliasReader
			for i := 0; i < 4; i++ {
				r, _ := dialAliases(t, s, fmt.Sprintf("tao-sub%d-%d", qos, i), true, 5, nil) // ours (2) is lower
				subID := uint32(0)
				if i == 3 {
					subID = 7
				}
				r.subscribe5(1, subID, codec.Subscription{TopicFilter: []byte("#"), QoS: qos})
				subs = append(subs, r)
			}
			topics := []string{"tao/aaaa", "tao/bbbb", "tao/cccc", "tao/aaaa", "tao/bbbb", "tao/cccc", "t/x", "tao/aaaa"}
			for i, tp := range topics {
				pub.publish5(tp, 0, qos, uint16(i+1), fmt.Sprint(i))
			}
			for _, r := range subs {
				got := make([]delivery, len(topics))
				for i := range topics {
					got[i] = r.next()
					if qos == 1 {
						r.send(codec.AppendPuback(nil, got[i].p.PacketID))
					}
					if got[i].payload != fmt.Sprint(i) {
						t.Fatalf("message %d has payload %q", i, got[i].payload)
					}
				}
				got[0].want(t, "tao/aaaa", true, 1) // first send: name and a new alias
				got[1].want(t, "tao/bbbb", true, 2)
				got[2].want(t, "tao/cccc", true, 0) // table full: by name
				got[3].want(t, "tao/aaaa", false, 1)
				got[4].want(t, "tao/bbbb", false, 2)
				got[5].want(t, "tao/cccc", true, 0)
				got[6].want(t, "t/x", true, 0) // 3 bytes: not worth an alias
				got[7].want(t, "tao/aaaa", false, 1)
				if ids := got[7].p.Props.SubscriptionIDs; r == subs[3] && (len(ids) != 1 || ids[0] != 7) {
					t.Fatalf("subscription identifiers %v, want [7]", ids)
				}
			}
		})
	}
	t.Run("MQTT5-3.1.2-27 no aliases to a client without Topic Alias Maximum", func(t *testing.T) {
		r, _ := dialAliases(t, s, "tao-none", true, 0, nil)
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("tao/#")})
		for i := 0; i < 3; i++ {
			pub.publish5("tao/aaaa", 0, 0, 0, "x")
			r.next().want(t, "tao/aaaa", true, 0)
		}
	})
	t.Run("retained message on SUBSCRIBE sets the alias live messages use", func(t *testing.T) {
		pub.send(codec.AppendPublishV5(nil, &codec.Publish{Retain: true, TopicName: []byte("tao/kept"), Payload: []byte("r")}))
		r, _ := dialAliases(t, s, "tao-retained", true, 5, nil)
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("tao/kept")})
		r.next().want(t, "tao/kept", true, 1)
		pub.publish5("tao/kept", 0, 0, 0, "live")
		r.next().want(t, "tao/kept", false, 1)
	})
	t.Run("MQTT5-3.1.2-27 -topic-alias-maximum 0 sends none", func(t *testing.T) {
		s0 := startBroker(t, func(c *Config) { c.TopicAliasMaximum = 0 })
		r, ack := dialAliases(t, s0, "tao-off", true, 5, nil)
		if ack.Props.Has(codec.PropTopicAliasMaximum) {
			t.Fatalf("CONNACK announces Topic Alias Maximum %d with aliases off", ack.Props.TopicAliasMaximum)
		}
		r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("tao/#")})
		p := dialRaw(t, s0)
		p.connect5("tao-off-pub", true, nil)
		for i := 0; i < 2; i++ {
			p.publish5("tao/aaaa", 0, 0, 0, "x")
			r.next().want(t, "tao/aaaa", true, 0)
		}
	})
}

// TestV5TopicAliasResume: a resumed session's in-flight messages are
// resent on a new connection, which has no aliases yet, so each carries
// its topic name [MQTT5-3.3.2-7]; DUP is set [MQTT5-3.3.1-1].
func TestV5TopicAliasResume(t *testing.T) {
	s := startBroker(t, nil)
	keep := func(pr *codec.Properties) {
		pr.SessionExpiry = 300
		pr.Set(codec.PropSessionExpiry)
	}
	sub, _ := dialAliases(t, s, "tar-sub", true, 5, keep)
	sub.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("tar/#"), QoS: 1})
	pub := dialRaw(t, s)
	pub.connect5("tar-pub", true, nil)
	pub.publish5("tar/one", 0, 1, 1, "a")
	pub.publish5("tar/one", 0, 1, 2, "b")
	sub.next().want(t, "tar/one", true, 1)
	sub.next().want(t, "tar/one", false, 1) // not acknowledged: both stay in flight
	sub.c.Close()

	deadline := time.Now().Add(5 * time.Second)
	var again *aliasReader
	for {
		var ack codec.Connack
		again, ack = dialAliases(t, s, "tar-sub", false, 5, keep)
		if ack.SessionPresent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session not present on reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"a", "b"} {
		d := again.next() // fails on an alias this connection never set
		if d.topic != "tar/one" || d.payload != want || !d.p.Dup {
			t.Fatalf("resend %q %q DUP %v, want tar/one %q DUP true", d.topic, d.payload, d.p.Dup, want)
		}
		again.send(codec.AppendPuback(nil, d.p.PacketID))
	}
	pub.publish5("tar/one", 0, 1, 3, "c")
	if d := again.next(); d.topic != "tar/one" || d.named || d.p.Dup {
		t.Fatalf("after the resends got %q (name sent %v, DUP %v), want tar/one by its alias", d.topic, d.named, d.p.Dup)
	}
}

// TestV5TopicAliasMaximumPacketSize: a new alias adds 3 bytes; when that
// passes the client's Maximum Packet Size the message goes by name alone,
// and a known alias, which makes the packet smaller, is used [MQTT5-3.1.2-24].
func TestV5TopicAliasMaximumPacketSize(t *testing.T) {
	s := startBroker(t, nil)
	const topic = "mps/abcd"
	pub := dialRaw(t, s)
	pub.connect5("mps-pub", true, nil)
	for _, qos := range []byte{0, 1} {
		t.Run(fmt.Sprintf("QoS %d", qos), func(t *testing.T) {
			big := string(bytes.Repeat([]byte("x"), 40))
			max := codec.PublishSizeV5(qos, len(topic), 0, len(big)) // big fits by name, not with a new alias
			r, _ := dialAliases(t, s, fmt.Sprintf("mps-sub%d", qos), true, 5, func(pr *codec.Properties) {
				pr.MaximumPacketSize = uint32(max)
				pr.Set(codec.PropMaximumPacketSize)
			})
			r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("mps/#"), QoS: qos})
			ack := func(d delivery) {
				if qos == 1 {
					r.send(codec.AppendPuback(nil, d.p.PacketID))
				}
			}
			pub.publish5(topic, 0, qos, 1, big)
			d := r.next()
			d.want(t, topic, true, 0)
			ack(d)
			pub.publish5(topic, 0, qos, 2, "small")
			d = r.next()
			d.want(t, topic, true, 1)
			ack(d)
			pub.publish5(topic, 0, qos, 3, big)
			d = r.next()
			d.want(t, topic, false, 1)
			ack(d)
			if d.payload != big {
				t.Fatalf("payload %q", d.payload)
			}
		})
	}
}

func TestV5ServerKeepAlive(t *testing.T) {
	t.Run("MQTT5-3.2.2-22 without -server-keep-alive the client's is used", func(t *testing.T) {
		s := startBroker(t, nil)
		r := dialRaw(t, s)
		if ack := r.connect5("ska-none", true, nil); ack.Props.Has(codec.PropServerKeepAlive) {
			t.Fatalf("CONNACK has Server Keep Alive %d", ack.Props.ServerKeepAlive)
		}
	})
	t.Run("MQTT5-3.2.2-21 Server Keep Alive announced and enforced", func(t *testing.T) {
		s := startBroker(t, func(c *Config) { c.ServerKeepAlive = 1 })
		old := dialRaw(t, s)
		old.connect("ska-311", true, false) // 3.1.1 without keep-alive: not affected
		r := dialRaw(t, s)
		p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, KeepAlive: 600, ClientID: []byte("ska")}
		r.send(codec.AppendConnect(nil, p))
		var ack codec.Connack
		if b := r.read(); func() error { _, err := ack.DecodeV(b, 5); return err }() != nil {
			t.Fatalf("CONNACK % x", b)
		}
		if !ack.Props.Has(codec.PropServerKeepAlive) || ack.Props.ServerKeepAlive != 1 {
			t.Fatalf("Server Keep Alive %d (present %v), want 1", ack.Props.ServerKeepAlive, ack.Props.Has(codec.PropServerKeepAlive))
		}
		// Silent for 1.5 x 1 s, not 1.5 x 600 s: closed [MQTT5-3.1.2-22], with 0x8D.
		b, err := r.next(20 * time.Second)
		if err != nil {
			t.Fatalf("no DISCONNECT: %v", err)
		}
		var d codec.Disconnect
		if _, err := d.DecodeV(b, 5); err != nil || d.ReasonCode != codec.ReasonKeepAliveTimeout {
			t.Fatalf("got % x (%v), want DISCONNECT 0x8D", b, err)
		}
		r.expectClosed(5 * time.Second)
		old.sendHex("c0 00") // the 3.1.1 client kept its own keep-alive
		old.expectPacket("d0 00")
	})
}

// TestV5MosquittoTopicAlias: mosquitto_pub -l with a topic alias sends its
// first line with the topic name and alias 1 and the others with alias 1
// alone; mosquitto_sub, a real 5.0 client, receives all three under the
// full topic name [MQTT5-3.3.2-12]. (libmosquitto 2.0 cannot itself take
// aliases from a server: TestV5TopicAliasOutbound covers that direction.)
func TestV5MosquittoTopicAlias(t *testing.T) {
	pubBin, err1 := exec.LookPath("mosquitto_pub")
	subBin, err2 := exec.LookPath("mosquitto_sub")
	if err1 != nil || err2 != nil {
		t.Skip("mosquitto_pub/mosquitto_sub not installed (apt-get install -y mosquitto-clients)")
	}
	s := startBroker(t, nil)
	host, port, _ := net.SplitHostPort(brokerAddr(s))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, subBin, "-V", "mqttv5", "-h", host, "-p", port, "-t", "mta/#", "-C", "3", "-F", "%t %p")
	var out bytes.Buffer
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Engine().Stats().Subscriptions.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	pub := exec.CommandContext(ctx, pubBin, "-V", "mqttv5", "-h", host, "-p", port, "-t", "mta/aliased/topic",
		"-D", "publish", "topic-alias", "1", "-l")
	pub.Stdin = strings.NewReader("one\ntwo\nthree\n")
	if b, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, b)
	}
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v: %s", err, out.String())
	}
	want := "mta/aliased/topic one\nmta/aliased/topic two\nmta/aliased/topic three"
	if got := strings.TrimSpace(out.String()); got != want {
		t.Fatalf("mosquitto_sub printed %q, want %q", got, want)
	}
}
