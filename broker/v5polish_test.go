package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/auth"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// MQTT 5.0 loose ends: subscription identifiers and No Local per
// subscription when shared and plain subscriptions overlap, and the other
// gaps closed beside them. Raw packets against a real broker.

// polishDelivery is one PUBLISH a test client received.
type polishDelivery struct {
	payload string
	qos     byte
	ids     []uint32
}

// collectUntil reads 5.0 PUBLISHes until one with payload end, which it
// leaves out, acknowledging QoS 1 ones; it returns the others by payload.
func (r *rawClient) collectUntil(end string) map[string]polishDelivery {
	r.t.Helper()
	got := make(map[string]polishDelivery)
	for {
		p := r.readPublish5()
		if p.QoS == 1 {
			r.send(codec.AppendPuback(nil, p.PacketID))
		}
		if string(p.Payload) == end {
			return got
		}
		if _, dup := got[string(p.Payload)]; dup {
			r.t.Fatalf("%q delivered twice", p.Payload)
		}
		got[string(p.Payload)] = polishDelivery{string(p.Payload), p.QoS, slices.Clone(p.Props.SubscriptionIDs)}
	}
}

// pub5 sends a 5.0 PUBLISH and, at QoS 1, reads its PUBACK.
func (r *rawClient) pub5(topic, payload string, qos byte, id uint16) {
	r.t.Helper()
	r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: qos, PacketID: id, TopicName: []byte(topic), Payload: []byte(payload)}))
	if qos == 1 {
		var a codec.Ack
		if b := r.read(); codec.PacketType(b) != codec.TypePuback {
			r.t.Fatalf("got % x, want PUBACK", b)
		} else if _, err := a.DecodeV(b, 5); err != nil || a.PacketID != id {
			r.t.Fatalf("PUBACK % x (%v), want id %d", b, err, id)
		}
	}
}

// TestV5SharedSubscriptionIDs: a client with a plain subscription (id 1)
// and a shared one (id 2) to the same topic, beside another member of the
// group, gets every message through the plain one, and id 2 exactly on
// those its group gave it; the other member gets the rest, with its own id
// [MQTT5-3.3.4-3], [MQTT5-4.8.2]. At QoS 0 (encoded per delivery) and QoS 1
// (queued, identifiers chosen when sent).
func TestV5SharedSubscriptionIDs(t *testing.T) {
	s := startBroker(t, nil)
	for _, qos := range []byte{0, 1} {
		t.Run(fmt.Sprintf("MQTT5-3.3.4-3 qos%d", qos), func(t *testing.T) {
			topic := fmt.Sprintf("sid%d/t", qos)
			a := dialRaw(t, s)
			a.connect5(fmt.Sprint("sid-a", qos), true, nil)
			a.subscribe5(1, 1, codec.Subscription{TopicFilter: []byte(topic), QoS: qos})
			a.subscribe5(2, 2, codec.Subscription{TopicFilter: []byte("$share/g/" + topic), QoS: qos})
			b := dialRaw(t, s)
			b.connect5(fmt.Sprint("sid-b", qos), true, nil)
			b.subscribe5(1, 7, codec.Subscription{TopicFilter: []byte("$share/g/" + topic), QoS: qos})
			b.subscribe5(2, 0, codec.Subscription{TopicFilter: []byte("end/" + topic), QoS: qos})
			a.subscribe5(3, 0, codec.Subscription{TopicFilter: []byte("end/" + topic), QoS: qos})
			pub := dialRaw(t, s)
			pub.connect5(fmt.Sprint("sid-pub", qos), true, nil)
			const n = 6
			for i := range n {
				pub.pub5(topic, fmt.Sprint(i), qos, uint16(i+1))
			}
			pub.pub5("end/"+topic, "end", qos, n+1)
			atA, atB := a.collectUntil("end"), b.collectUntil("end")
			if len(atA) != n {
				t.Fatalf("plain subscriber got %d messages, want all %d: %v", len(atA), n, atA)
			}
			picked := 0
			for i := range n {
				p := fmt.Sprint(i)
				da := atA[p]
				db, toB := atB[p]
				want := []uint32{1, 2} // the plain one and the group's pick
				if toB {
					want = []uint32{1} // the group picked the other member
					if !slices.Equal(db.ids, []uint32{7}) {
						t.Errorf("message %s at the other member: ids %v, want [7]", p, db.ids)
					}
				} else {
					picked++
				}
				ids := slices.Clone(da.ids)
				slices.Sort(ids)
				if !slices.Equal(ids, want) {
					t.Errorf("message %s: ids %v, want %v (group gave it to the other member: %v)", p, da.ids, want, toB)
				}
			}
			if picked == 0 || picked == n {
				t.Fatalf("the group gave %d of %d messages to the client with both subscriptions; want some to each member", picked, n)
			}
		})
	}
}

// TestV5NoLocalPerSubscription: No Local applies to the subscription that
// has it, not to the session [MQTT5-3.8.3-3].
func TestV5NoLocalPerSubscription(t *testing.T) {
	s := startBroker(t, nil)
	t.Run("MQTT5-3.8.3-3 plain No Local beside a shared subscription", func(t *testing.T) {
		// The publisher is in a group and has a plain No Local subscription
		// to the same topic: it gets its own message only when the group
		// picks it, with only the shared subscription's id.
		p := dialRaw(t, s)
		p.connect5("nlps-p", true, nil)
		p.subscribe5(1, 1, codec.Subscription{TopicFilter: []byte("nlps/t"), NoLocal: true})
		p.subscribe5(2, 2, codec.Subscription{TopicFilter: []byte("$share/g/nlps/t")})
		p.subscribe5(3, 0, codec.Subscription{TopicFilter: []byte("nlps/end")})
		q := dialRaw(t, s)
		q.connect5("nlps-q", true, nil)
		q.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("$share/g/nlps/t")})
		q.subscribe5(2, 0, codec.Subscription{TopicFilter: []byte("nlps/end")})
		const n = 6
		for i := range n {
			p.pub5("nlps/t", fmt.Sprint(i), 0, 0)
		}
		p.pub5("nlps/end", "end", 0, 0)
		atP, atQ := p.collectUntil("end"), q.collectUntil("end")
		for i := range n {
			m := fmt.Sprint(i)
			dp, toP := atP[m]
			_, toQ := atQ[m]
			if toP == toQ {
				t.Errorf("message %s: at the publisher %v, at the other member %v; want exactly one", m, toP, toQ)
			}
			if toP && !slices.Equal(dp.ids, []uint32{2}) {
				t.Errorf("message %s at the publisher: ids %v, want [2] (not the No Local subscription's)", m, dp.ids)
			}
		}
		if len(atP) == 0 || len(atQ) == 0 {
			t.Fatalf("publisher got %d, other member %d; want the group to share %d", len(atP), len(atQ), n)
		}
	})
	t.Run("MQTT5-3.8.3-3 QoS and ids of the subscriptions without No Local", func(t *testing.T) {
		// Own message on nlq/t: "nlq/#" (No Local, QoS 1, id 1) takes no
		// part; "nlq/t" (QoS 0, id 2) delivers it at QoS 0 with id 2.
		p := dialRaw(t, s)
		p.connect5("nlq", true, nil)
		p.subscribe5(1, 1, codec.Subscription{TopicFilter: []byte("nlq/#"), QoS: 1, NoLocal: true})
		p.subscribe5(2, 2, codec.Subscription{TopicFilter: []byte("nlq/t"), QoS: 0})
		p.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 1, PacketID: 9, TopicName: []byte("nlq/t"), Payload: []byte("own")}))
		var got *codec.Publish
		for range 2 { // the PUBLISH and the PUBACK, in either order
			b := p.read()
			switch codec.PacketType(b) {
			case codec.TypePuback:
			case codec.TypePublish:
				var m codec.Publish
				if _, err := m.DecodeFromServer(b, 5); err != nil {
					t.Fatalf("PUBLISH % x: %v", b, err)
				}
				c := m.Clone()
				c.Props = m.Props.Clone()
				got = &c
			default:
				t.Fatalf("got % x, want PUBLISH and PUBACK", b)
			}
		}
		if got == nil {
			t.Fatal("own message not delivered through the subscription without No Local")
		}
		if got.QoS != 0 || !slices.Equal(got.Props.SubscriptionIDs, []uint32{2}) {
			t.Fatalf("own message at QoS %d with ids %v; want QoS 0, ids [2]", got.QoS, got.Props.SubscriptionIDs)
		}
	})
}

// TestV5InboundAliasBytes: with -topic-alias-maximum 65535, a client may
// set aliases until their names hold maxInAliasBytes; replacing an alias's
// name by one no longer takes nothing more, and the alias that would pass
// the bound closes the connection with DISCONNECT 0x97 Quota exceeded
// [MQTT5-3.14.2.1] instead of making the broker hold the name.
func TestV5InboundAliasBytes(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.TopicAliasMaximum = 65535 })
	sub := dialRaw(t, s)
	sub.connect5("alb-sub", true, nil)
	sub.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("alb/#")})
	r := dialRaw(t, s)
	if ack := r.connect5("alb", true, nil); ack.Props.TopicAliasMaximum != 65535 {
		t.Fatalf("CONNACK Topic Alias Maximum %d, want 65535", ack.Props.TopicAliasMaximum)
	}
	const size = 1000
	name := func(i int) string {
		n := fmt.Sprintf("alb/%d/", i)
		return n + strings.Repeat("x", size-len(n))
	}
	fit := maxInAliasBytes / (size + aliasEntryCost)
	for i := 1; i <= fit; i++ {
		r.publish5(name(i), uint16(i), 1, uint16(i), "set")
	}
	r.publish5(name(fit+1000), 1, 1, 1, "renamed") // the same size again: fits
	r.publish5("", 1, 1, 2, "by alias")
	for i := 1; i <= fit+2; i++ {
		want, payload := name(i), "set"
		switch i {
		case fit + 1:
			want, payload = name(fit+1000), "renamed"
		case fit + 2:
			want, payload = name(fit+1000), "by alias" // alias 1 now names the new topic
		}
		if p := sub.readPublish5(); string(p.TopicName) != want || string(p.Payload) != payload {
			t.Fatalf("subscriber got %.12q on %.20q, want %q on %.20q", p.Payload, p.TopicName, payload, want)
		}
	}
	r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 1, PacketID: 3, TopicName: []byte(name(fit + 1)), Payload: []byte("over"),
		Props: aliasProps(uint16(fit + 1))}))
	r.expectDisconnect5(codec.ReasonQuotaExceeded)
	r.expectClosed(20 * time.Second)
}

// aliasProps returns PUBLISH properties with Topic Alias a.
func aliasProps(a uint16) codec.Properties {
	var pr codec.Properties
	pr.TopicAlias = a
	pr.Set(codec.PropTopicAlias)
	return pr
}

// TestOperatorCapabilities: the operator's Publish and Subscribe (the
// admin API's) are held to -max-qos, -retain-available,
// -wildcard-subscriptions and -shared-subscriptions as a client's packets
// are [MQTT5-3.2.2-10], [MQTT5-3.2.2-14], [MQTT5-3.2.2.3.12]; CheckPublish
// and CheckSubscribe say why.
func TestOperatorCapabilities(t *testing.T) {
	s := startBroker(t, func(c *Config) {
		c.MaxQoS, c.RetainAvailable, c.WildcardSubscriptions, c.SharedSubscriptions = 1, false, false, false
	})
	e := s.Engine()
	r := dialRaw(t, s)
	r.connect5("opcap", true, nil)
	for _, tc := range []struct {
		filter string
		want   error
	}{
		{"opcap/+", ErrWildcardUnavailable},
		{"opcap/#", ErrWildcardUnavailable},
		{"$share/g/opcap/t", ErrSharedUnavailable},
		{"opcap/t", nil},
	} {
		if err := e.CheckSubscribe(tc.filter); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("CheckSubscribe(%q) = %v, want %v", tc.filter, err, tc.want)
		}
		if tc.want != nil && e.Subscribe("opcap", tc.filter, 1) {
			t.Errorf("Subscribe(%q) accepted, want refused", tc.filter)
		}
	}
	if !e.Subscribe("opcap", "opcap/t", 2) {
		t.Fatal("Subscribe(opcap/t, QoS 2) refused")
	}
	waitSubscribed(t, s, "opcap")
	var info session.Info
	e.SessionInfo("opcap", &info)
	if len(info.Subscriptions) != 1 || info.Subscriptions[0].TopicFilter != "opcap/t" || info.Subscriptions[0].QoS != 1 {
		t.Fatalf("subscriptions %+v, want opcap/t alone, granted at QoS 1 (-max-qos)", info.Subscriptions)
	}
	if err := e.CheckPublish("opcap/t", true); !errors.Is(err, ErrRetainUnavailable) {
		t.Fatalf("CheckPublish(retained): %v, want ErrRetainUnavailable", err)
	}
	if err := e.CheckPublish("opcap/t", false); err != nil {
		t.Fatalf("CheckPublish(live): %v, want nil", err)
	}
	e.Publish("opcap/t", []byte("kept"), 1, true) // refused: not published
	e.Publish("opcap/t", []byte("live"), 2, false)
	p := r.readPublish5()
	if string(p.Payload) != "live" || p.QoS != 1 || p.Retain {
		t.Fatalf("got %q at QoS %d retain %v, want \"live\" at QoS 1 (-max-qos), not retained", p.Payload, p.QoS, p.Retain)
	}
	if n := e.stats.Retained.Load(); n != 0 {
		t.Fatalf("%d retained messages, want 0", n)
	}
}

// TestConnectTimeoutDetail: -connect-timeout closes a connection that
// sent no CONNECT, and one whose CONNECT's AUTH exchange stopped halfway;
// the client-error log says which, under CONNECT and AUTH.
func TestConnectTimeoutDetail(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	setPassword(t, file, "dave", daveSCRAM, "-hash", "scram-sha-256")
	checker, err := auth.Load(auth.Options{PasswordFile: file})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Listen, cfg.Loops, cfg.DataDir, cfg.SysInterval, cfg.Persistence = "127.0.0.1:0", 2, t.TempDir(), 0, "off"
	cfg.ConnectTimeout, cfg.LogInterval = 500*time.Millisecond, time.Hour // one record per packet type
	out := &procOutput{}
	e := NewEngine(cfg)
	e.log.logger = slog.New(slog.NewJSONHandler(out, nil))
	e.SetAuthorizer(checkerAuth{checker})
	e.SetEnhancedAuth(scramAuth{checker})
	s := NewServer(e)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(5 * time.Second) })

	mid := dialRaw(t, s)
	conv := scramClient(t, "dave", daveSCRAM)
	mid.sendConnectAuth("timeout-mid-auth", auth.SCRAMSHA256, step(t, conv, ""), "")
	mid.readAuth(codec.ReasonContinueAuthentication) // and then the client says nothing
	mid.expectClosed(20 * time.Second)
	silent := dialRaw(t, s)
	silent.expectClosed(20 * time.Second)

	want := map[string]struct{ remote, reason string }{
		"AUTH":    {mid.c.LocalAddr().String(), "authentication exchange did not finish within -connect-timeout"},
		"CONNECT": {silent.c.LocalAddr().String(), "no CONNECT within -connect-timeout"},
	}
	for deadline := time.Now().Add(20 * time.Second); len(logRecords(t, out)) < len(want) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	recs := logRecords(t, out)
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(recs), len(want), out)
	}
	for _, r := range recs {
		packet, _ := r["packet"].(string)
		reason, _ := r["reason"].(string)
		w, ok := want[packet]
		if !ok || r["remote"] != w.remote || !strings.Contains(reason, w.reason) {
			t.Errorf("record %v; want packet AUTH or CONNECT with its remote address and reason %q", r, w.reason)
		}
		delete(want, packet)
	}
}

// TestV5NoMatchingSubscribers: a 5.0 QoS 1 or 2 PUBLISH that no
// subscription takes is acknowledged with reason 0x10 [MQTT5-3.4.2.1],
// [MQTT5-3.5.2.1], and its QoS 2 flow goes on; once a subscription
// matches, the ack is plain; a 3.1.1 ack never carries a reason.
func TestV5NoMatchingSubscribers(t *testing.T) {
	s := startBroker(t, nil)
	r := dialRaw(t, s)
	r.connect5("nms", true, nil)
	r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 1, PacketID: 1, TopicName: []byte("nms/a"), Payload: []byte("x")}))
	r.expectPacket("40 03 0001 10")
	r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 2, PacketID: 2, TopicName: []byte("nms/a"), Payload: []byte("x")}))
	r.expectPacket("50 03 0002 10")
	r.send(codec.AppendAckV5(nil, codec.TypePubrel, 2, 0, nil))
	r.expectPacket("70 02 0002")
	// Its own No Local subscription does not count [MQTT5-3.8.3-3].
	r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("nms/#"), QoS: 1, NoLocal: true})
	r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 1, PacketID: 3, TopicName: []byte("nms/a"), Payload: []byte("x")}))
	r.expectPacket("40 03 0003 10")
	sub := dialRaw(t, s)
	sub.connect("nms-sub", true, false)
	sub.subscribe(1, "nms/#", 1)
	r.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 1, PacketID: 4, TopicName: []byte("nms/a"), Payload: []byte("x")}))
	r.expectPacket("40 02 0004")
	old := dialRaw(t, s)
	old.connect("nms-311", true, false)
	old.publish("nms-none/a", "x", 1, false, 5)
	old.expectPacket("40 02 0005")
	old.publish("nms-none/a", "x", 2, false, 6)
	old.expectPacket("50 02 0006")
}
