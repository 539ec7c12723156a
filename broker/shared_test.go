package broker

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassmq/glassmq/auth"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

func TestSplitShare(t *testing.T) {
	for _, tc := range []struct {
		filter, group, inner string
		ok                   bool
	}{
		{"$share/g/t", "g", "t", true},
		{"$share/consumers/sensors/+/temp", "consumers", "sensors/+/temp", true},
		{"$share/g/#", "g", "#", true},
		{"$share/g//", "g", "/", true},
		{"$share//t", "", "", false},             // [MQTT5-4.8.2-1] group at least one character
		{"$share/g", "", "", false},              // [MQTT5-4.8.2-2] followed by '/' and a filter
		{"$share/g/", "", "", false},             // [MQTT5-4.8.2-2] an empty filter
		{"$share/+/t", "", "", false},            // [MQTT5-4.8.2-2] no '+' in the group
		{"$share/#/t", "", "", false},            // [MQTT5-4.8.2-2] no '#' in the group
		{"$share/g+x/t", "", "", false},          // [MQTT5-4.8.2-2]
		{"$share/g/a/#/b", "", "", false},        // the filter must be valid [MQTT-4.7.1-2]
		{"share/g/t", "", "", false},             // not shared
		{"$SHARE/g/t", "", "", false},            // case matters
		{"$shared/g/t", "", "", false},           // not the prefix
		{"t", "", "", false},                     // plain
		{"$share", "", "", false},                // a plain filter of one level
		{"$queue/t", "", "", false},              // not supported: plain
		{"$share/g/$SYS/x", "g", "$SYS/x", true}, // a $ filter inside is fine
	} {
		g, in, ok := splitShare(tc.filter)
		if g != tc.group || in != tc.inner || ok != tc.ok {
			t.Errorf("splitShare(%q) = %q, %q, %v; want %q, %q, %v", tc.filter, g, in, ok, tc.group, tc.inner, tc.ok)
		}
		if want := tc.filter; tc.ok {
			want = tc.inner
			if got := matchFilter(tc.filter); got != want {
				t.Errorf("matchFilter(%q) = %q, want %q", tc.filter, got, want)
			}
		}
	}
}

// TestRouterShared: a group at a filter gives each matching message to one
// member; members that are offline get QoS 1/2 messages only when nobody is
// connected (here nobody is: the registry's sessions have no connection),
// round robin goes through the members in the order they joined, a normal
// subscription next to the group still gets every message, and removing a
// membership leaves the group's other members and prunes the tree.
func TestRouterShared(t *testing.T) {
	var r router
	r.init(1)
	var reg session.Registry[Conn]
	a, _ := reg.Open("a", 0)
	b, _ := reg.Open("b", 0)
	c, _ := reg.Open("c", 0)
	d, _ := reg.Open("d", 0)
	r.add("$share/g/s/+", a, 1, nil)
	r.add("$share/g/s/+", b, 1, nil)
	r.add("$share/g/s/+", c, 0, nil) // offline at QoS 0: never picked while offline
	r.add("$share/h/s/+", d, 2, nil) // another group at the same filter
	r.add("s/#", d, 0, nil)          // a normal subscription beside
	var got []string
	for range 4 {
		got = append(got, strings.Join(names(r.match(0, []byte("s/x"), nil)), " "))
	}
	want := []string{"a:1 d:0 d:2", "b:1 d:0 d:2", "a:1 d:0 d:2", "a:1 d:0 d:2"} // c is skipped: the next after it is a
	if !slices.Equal(got, want) {
		t.Fatalf("round robin over a, b, c(QoS 0, offline):\ngot  %q\nwant %q", got, want)
	}
	if got := names(r.match(0, []byte("t/x"), nil)); len(got) != 0 {
		t.Fatalf("t/x matched %v, want nothing", got)
	}
	groups := r.groups()
	if len(groups) != 2 || groups[0] != (SharedGroup{"g", "s/+", 3, 4}) || groups[1] != (SharedGroup{"h", "s/+", 1, 4}) {
		t.Fatalf("SharedGroups = %+v, want g and h at s/+ with 3 and 1 members, 4 routed each", groups)
	}
	r.remove("$share/g/s/+", a) // only a's membership of g
	for range 2 {
		if got := names(r.match(0, []byte("s/y"), nil)); !slices.Equal(got, []string{"b:1", "d:0", "d:2"}) {
			t.Fatalf("after a left g: got %v, want b:1 d:0 d:2", got)
		}
	}
	r.remove("$share/h/s/+", d)
	r.remove("$share/g/s/+", b)
	r.remove("$share/g/s/+", c)
	r.remove("s/#", d)
	if !r.root.empty() {
		t.Fatalf("empty router keeps %d literal nodes (+ %v, # %v), want pruned", len(r.root.children), r.root.plus != nil, r.root.hash != nil)
	}
}

// TestRouterSharedStrategies: hash_clientid gives every message of one
// publisher to one member, and different publishers spread over the
// members; random gives each message to exactly one member and reaches
// each of them.
func TestRouterSharedStrategies(t *testing.T) {
	var reg session.Registry[Conn]
	var members []*clientSession
	for i := range 4 {
		s, _ := reg.Open(fmt.Sprint("m", i), 0)
		members = append(members, s)
	}
	build := func(st shareStrategy) *router {
		r := &router{}
		r.init(1)
		r.share = st
		for _, s := range members {
			r.add("$share/g/t", s, 1, nil)
		}
		return r
	}
	r := build(shareHashClientID)
	used := map[string]bool{}
	for p := range 40 {
		pub := fmt.Sprint("publisher-", p)
		first := names(r.matchFrom(0, []byte("t"), pub, nil))
		for range 5 {
			if got := names(r.matchFrom(0, []byte("t"), pub, nil)); !slices.Equal(got, first) || len(got) != 1 {
				t.Fatalf("hash_clientid: %s went to %v, then %v; want one member, always the same", pub, first, got)
			}
		}
		used[first[0]] = true
	}
	if len(used) < 2 {
		t.Fatalf("hash_clientid: 40 publishers all went to %v, want them spread", used)
	}
	r = build(shareRandom)
	count := map[string]int{}
	for range 400 {
		got := names(r.matchFrom(0, []byte("t"), "p", nil))
		if len(got) != 1 {
			t.Fatalf("random: one message went to %v, want one member", got)
		}
		count[got[0]]++
	}
	if len(count) != 4 {
		t.Fatalf("random: 400 messages reached %v, want all 4 members", count)
	}
}

// sharedConfig lets a test pick the strategy.
func sharedConfig(strategy string) func(*Config) {
	return func(c *Config) { c.SharedSubscriptionStrategy = strategy }
}

// loopOf returns the index of the event loop serving clientID's connection.
func loopOf(t *testing.T, s *Server, clientID string) int {
	t.Helper()
	ss := s.Engine().reg.Lookup(clientID)
	if ss == nil || ss.Owner() == nil {
		t.Fatalf("%s is not connected", clientID)
	}
	return ss.Owner().ls.idx
}

// drain reads PUBLISHes from members until total have arrived among them,
// and returns the payloads each got.
func drain(t *testing.T, members []*rawClient, v5 bool, total int) [][]string {
	t.Helper()
	got := make([][]string, len(members))
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	deadline := time.Now().Add(10 * time.Second)
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				mu.Lock()
				done := n >= total
				mu.Unlock()
				if done {
					return
				}
				b, err := m.next(200 * time.Millisecond)
				if err != nil {
					continue
				}
				var p codec.Publish
				if v5 {
					_, err = p.DecodeFromServer(b, 5)
				} else {
					_, err = p.Decode(b)
				}
				if err != nil {
					t.Errorf("member %d: got % x, want PUBLISH: %v", i, b, err)
					return
				}
				if p.QoS == 1 {
					m.send(codec.AppendPuback(nil, p.PacketID))
				}
				mu.Lock()
				got[i] = append(got[i], string(p.Payload))
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n < total {
		t.Fatalf("members got %d messages within 10s, want %d: %v", n, total, got)
	}
	return got
}

// onceEach checks that the payloads 0..n-1 each arrived exactly once over
// got.
func onceEach(t *testing.T, got [][]string, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, g := range got {
		for _, p := range g {
			seen[p]++
		}
	}
	for i := range n {
		if c := seen[fmt.Sprint(i)]; c != 1 {
			t.Fatalf("message %d reached the group %d times, want once: %v", i, c, got)
		}
	}
	if len(seen) != n {
		t.Fatalf("the group got %d distinct messages, want %d", len(seen), n)
	}
}

// TestSharedRoundRobinV5: three MQTT 5.0 members of one group, spread over
// both event loops, and one normal subscriber. Every message reaches the
// normal subscriber and exactly one member; round robin gives each member
// exactly a third, at QoS 0 and at QoS 1. The CONNACK announces Shared
// Subscription Available, no retained message is sent for the shared
// subscription, and each member's subscription identifier comes with its
// deliveries.
func TestSharedRoundRobinV5(t *testing.T) {
	s := startBroker(t, nil)
	pub := dialRaw(t, s)
	pub.connect5("rr-pub", true, nil)
	pub.send(codec.AppendPublishV5(nil, &codec.Publish{Retain: true, TopicName: []byte("rr/t"), Payload: []byte("retained")}))

	var members []*rawClient
	loops := map[int]bool{}
	for i := range 3 {
		m := dialRaw(t, s)
		id := fmt.Sprint("rr-m", i)
		ack := m.connect5(id, true, nil)
		if !ack.Props.Has(codec.PropSharedSubAvailable) || ack.Props.SharedSubAvailable != 1 {
			t.Fatalf("CONNACK Shared Subscription Available %v %d, want present, 1 [MQTT5-3.2.2.3.15]",
				ack.Props.Has(codec.PropSharedSubAvailable), ack.Props.SharedSubAvailable)
		}
		if codes := m.subscribe5(1, uint32(10+i), codec.Subscription{TopicFilter: []byte("$share/g/rr/+"), QoS: 1}); codes[0] != 1 {
			t.Fatalf("%s: SUBACK %#x, want 1", id, codes[0])
		}
		members = append(members, m)
		loops[loopOf(t, s, id)] = true
	}
	if len(loops) != 2 {
		t.Fatalf("members on loops %v, want both of the broker's 2 loops", loops)
	}
	normal := dialRaw(t, s)
	normal.connect5("rr-normal", true, nil)
	normal.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("rr/+"), QoS: 1})
	if p := normal.readPublish5(); string(p.Payload) != "retained" || !p.Retain {
		t.Fatalf("normal subscriber: got %q retain %v, want the retained message", p.Payload, p.Retain)
	}

	const n = 30
	for qos := byte(0); qos <= 1; qos++ {
		for i := range n {
			pub.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: qos, PacketID: uint16(i + 1), TopicName: []byte("rr/t"),
				Payload: []byte(fmt.Sprint(i))}))
		}
		// The first message the group gets is live, not the retained one
		// [MQTT5-4.8.2]; drain checks every payload is one of 0..n-1.
		got := drain(t, members, true, n)
		onceEach(t, got, n)
		for i, g := range got {
			if len(g) != n/3 {
				t.Fatalf("QoS %d: member %d got %d of %d messages, want exactly %d (round robin)", qos, i, len(g), n, n/3)
			}
		}
		for i := range n {
			p := normal.readPublish5()
			if string(p.Payload) != fmt.Sprint(i) {
				t.Fatalf("QoS %d: normal subscriber got %q, want %d", qos, p.Payload, i)
			}
			if p.QoS == 1 {
				normal.send(codec.AppendPuback(nil, p.PacketID))
			}
		}
	}
	// Subscription identifiers: each member's own [MQTT5-3.3.4-3].
	for range 3 {
		pub.send(codec.AppendPublishV5(nil, &codec.Publish{TopicName: []byte("rr/id"), Payload: []byte("id")}))
	}
	for i, m := range members {
		p := m.readPublish5()
		if len(p.Props.SubscriptionIDs) != 1 || p.Props.SubscriptionIDs[0] != uint32(10+i) {
			t.Fatalf("member %d: subscription identifiers %v, want [%d]", i, p.Props.SubscriptionIDs, 10+i)
		}
	}
	groups := s.Engine().SharedGroups()
	if len(groups) != 1 || groups[0].Group != "g" || groups[0].TopicFilter != "rr/+" || groups[0].Members != 3 || groups[0].Routed != 2*n+3 {
		t.Fatalf("SharedGroups = %+v, want g at rr/+ with 3 members and %d routed", groups, 2*n+3)
	}
	var info session.Info
	if !s.Engine().SessionInfo("rr-m0", &info) || len(info.Subscriptions) != 1 || info.Subscriptions[0].TopicFilter != "$share/g/rr/+" {
		t.Fatalf("rr-m0 subscriptions %+v, want the whole $share/g/rr/+", info.Subscriptions)
	}
}

// TestSharedSubscribeRefusals: a malformed shared subscription filter is
// refused alone with SUBACK 0x8F at 5.0 and 0x80 at 3.1.1 [MQTT5-4.8.2-1],
// [MQTT5-4.8.2-2]; No Local on a shared subscription closes a 5.0 client
// with DISCONNECT 0x82 [MQTT5-3.8.3-4]; with -shared-subscriptions=false
// the CONNACK says Shared Subscription Available 0 and SUBSCRIBE gets 0x9E
// (0x80 at 3.1.1) while normal filters still work.
func TestSharedSubscribeRefusals(t *testing.T) {
	s := startBroker(t, nil)
	bad := []string{"$share//t", "$share/g", "$share/g/", "$share/+/t", "$share/#/t", "$share/a+/t"}
	t.Run("MQTT5-4.8.2-1/2 0x8F at 5.0", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("bad5", true, nil)
		var fs []codec.Subscription
		for _, f := range bad {
			fs = append(fs, codec.Subscription{TopicFilter: []byte(f), QoS: 1})
		}
		fs = append(fs, codec.Subscription{TopicFilter: []byte("$share/g/ok"), QoS: 1})
		codes := r.subscribe5(1, 0, fs...)
		want := append(bytes.Repeat([]byte{byte(codec.ReasonTopicFilterInvalid)}, len(bad)), 1)
		if !bytes.Equal(codes, want) {
			t.Fatalf("SUBACK codes % x, want % x", codes, want)
		}
	})
	t.Run("MQTT5-4.8.2-1/2 0x80 at 3.1.1", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect("bad4", true, false)
		var fs []codec.Subscription
		for _, f := range bad {
			fs = append(fs, codec.Subscription{TopicFilter: []byte(f), QoS: 1})
		}
		fs = append(fs, codec.Subscription{TopicFilter: []byte("$share/g/ok"), QoS: 1})
		r.send(codec.AppendSubscribe(nil, 1, fs))
		var ack codec.Suback
		b := r.read()
		if _, err := ack.Decode(b); err != nil {
			t.Fatalf("SUBACK % x: %v", b, err)
		}
		want := append(bytes.Repeat([]byte{subackFailure}, len(bad)), 1)
		if !bytes.Equal(ack.ReturnCodes, want) {
			t.Fatalf("SUBACK codes % x, want % x", ack.ReturnCodes, want)
		}
	})
	t.Run("MQTT5-3.8.3-4 no local on a shared subscription", func(t *testing.T) {
		r := dialRaw(t, s)
		r.connect5("nolocal", true, nil)
		r.send(codec.AppendSubscribeV5(nil, 1, &codec.Properties{}, []codec.Subscription{{TopicFilter: []byte("$share/g/t"), NoLocal: true}}))
		var d codec.Disconnect
		b := r.read()
		if _, err := d.DecodeV(b, 5); err != nil || d.ReasonCode != codec.ReasonProtocolError {
			t.Fatalf("got % x (%v), want DISCONNECT 0x82", b, err)
		}
		r.expectClosed(5 * time.Second)
	})
	off := startBroker(t, func(c *Config) { c.SharedSubscriptions = false })
	t.Run("disabled 0x9E at 5.0", func(t *testing.T) {
		r := dialRaw(t, off)
		ack := r.connect5("off5", true, nil)
		if !ack.Props.Has(codec.PropSharedSubAvailable) || ack.Props.SharedSubAvailable != 0 {
			t.Fatalf("CONNACK Shared Subscription Available %d, want 0", ack.Props.SharedSubAvailable)
		}
		codes := r.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("$share/g/t"), QoS: 1},
			codec.Subscription{TopicFilter: []byte("t"), QoS: 1})
		if !bytes.Equal(codes, []byte{byte(codec.ReasonSharedSubscriptionsNotSupported), 1}) {
			t.Fatalf("SUBACK codes % x, want 9e 01", codes)
		}
	})
	t.Run("disabled 0x80 at 3.1.1", func(t *testing.T) {
		r := dialRaw(t, off)
		r.connect("off4", true, false)
		r.send(codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte("$share/g/t"), QoS: 1}}))
		r.expectPacket("90 03 0001 80")
	})
}

// TestSharedHashClientID: with hash_clientid every message of one publisher
// goes to the same member.
func TestSharedHashClientID(t *testing.T) {
	s := startBroker(t, sharedConfig("hash_clientid"))
	var members []*rawClient
	for i := range 3 {
		m := dialRaw(t, s)
		m.connect(fmt.Sprint("hash-m", i), true, false)
		m.subscribe(1, "$share/g/h/t", 0)
		members = append(members, m)
	}
	for p := range 4 {
		pub := dialRaw(t, s)
		pub.connect(fmt.Sprint("hash-pub-", p), true, false)
		const n = 12
		for i := range n {
			pub.publish("h/t", fmt.Sprint(i), 0, false, 0)
		}
		got := drain(t, members, false, n)
		onceEach(t, got, n)
		with := 0
		for _, g := range got {
			if len(g) > 0 {
				with++
			}
		}
		if with != 1 {
			t.Fatalf("publisher %d's messages went to %d members (%v), want one", p, with, got)
		}
	}
}

// TestSharedUnsubscribe: UNSUBSCRIBE $share/g/f ends only that membership:
// the client still gets messages through its other group at the same
// filter, and g's other member gets all of g's.
func TestSharedUnsubscribe(t *testing.T) {
	s := startBroker(t, nil)
	a := dialRaw(t, s)
	a.connect5("un-a", true, nil)
	a.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("$share/g/u"), QoS: 0}, codec.Subscription{TopicFilter: []byte("$share/h/u"), QoS: 0})
	b := dialRaw(t, s)
	b.connect5("un-b", true, nil)
	b.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("$share/g/u"), QoS: 0})
	a.send(codec.AppendUnsubscribeV5(nil, 2, nil, [][]byte{[]byte("$share/g/u")}))
	if b := a.read(); !bytes.Equal(b, unhex(t, "b0 04 0002 00 00")) {
		t.Fatalf("UNSUBACK % x, want b0 04 0002 00 00", b)
	}
	pub := dialRaw(t, s)
	pub.connect5("un-pub", true, nil)
	const n = 6
	for i := range n {
		pub.send(codec.AppendPublishV5(nil, &codec.Publish{TopicName: []byte("u"), Payload: []byte(fmt.Sprint(i))}))
	}
	for _, r := range []*rawClient{a, b} { // a through h, b through g: all of them each
		for i := range n {
			if p := r.readPublish5(); string(p.Payload) != fmt.Sprint(i) {
				t.Fatalf("got %q, want %d", p.Payload, i)
			}
		}
	}
	var info session.Info
	s.Engine().SessionInfo("un-a", &info)
	if len(info.Subscriptions) != 1 || info.Subscriptions[0].TopicFilter != "$share/h/u" {
		t.Fatalf("un-a subscriptions %+v, want only $share/h/u", info.Subscriptions)
	}
}

// TestSharedACL: the ACL decides the filter inside $share. With "deny
// subscribe all secret/#" then "allow pubsub all #", $share/g/secret/x is
// refused (0x80), $share/g/# is granted and nothing under secret/ reaches
// the group.
func TestSharedACL(t *testing.T) {
	acl := writeTemp(t, "acl.conf", "deny subscribe all secret/#\nallow pubsub all #\n")
	s := startAuthBroker(t, auth.Options{ACLFile: acl, AllowAnonymous: true}, nil)
	m := dialRaw(t, s)
	m.connect("acl-m", true, false)
	m.send(codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte("$share/g/secret/x")}, {TopicFilter: []byte("$share/g/#")}}))
	m.expectPacket("90 04 0001 80 00")
	pub := dialRaw(t, s)
	pub.connect("acl-pub", true, false)
	pub.publish("secret/x", "no", 0, false, 0)
	pub.publish("public/x", "yes", 0, false, 0)
	if p := m.readPublish(); string(p.TopicName) != "public/x" {
		t.Fatalf("member got %q, want public/x (secret/x withheld)", p.TopicName)
	}
}

// TestSharedOperatorSubscribe: an operator's subscription (the admin API's
// AddClientSubscription) to $share/g/f joins the group like a SUBSCRIBE,
// sends no retained message, and a malformed shared filter is refused, as
// is any shared one with -shared-subscriptions=false.
func TestSharedOperatorSubscribe(t *testing.T) {
	s := startBroker(t, nil)
	e := s.Engine()
	pub := dialRaw(t, s)
	pub.connect("op-pub", true, false)
	pub.publish("op/t", "retained", 0, true, 0)
	m := dialRaw(t, s)
	m.connect("op-m", true, false)
	m.subscribe(1, "$share/g/op/t", 0)
	if e.Subscribe("op-m", "$share/+/op/t", 0) {
		t.Fatal(`Subscribe("$share/+/op/t") accepted, want refused [MQTT5-4.8.2-2]`)
	}
	if !e.Subscribe("op-m", "$share/h/op/t", 0) {
		t.Fatal(`Subscribe("$share/h/op/t") refused, want accepted`)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.SharedGroups()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	pub.publish("op/t", "live", 0, false, 0)
	// One copy: g and h both pick op-m, which gets the message once; the
	// retained message is not sent for either.
	if p := m.readPublish(); string(p.Payload) != "live" || p.Retain {
		t.Fatalf("got %q retain %v, want live", p.Payload, p.Retain)
	}
	pub.publish("op/t", "end", 0, false, 0)
	if p := m.readPublish(); string(p.Payload) != "end" {
		t.Fatalf("got %q, want end (one copy of live)", p.Payload)
	}
	var info session.Info
	e.SessionInfo("op-m", &info)
	if len(info.Subscriptions) != 2 || info.Subscriptions[1].TopicFilter != "$share/h/op/t" {
		t.Fatalf("subscriptions %+v, want $share/g/op/t and $share/h/op/t", info.Subscriptions)
	}
	off := startBroker(t, func(c *Config) { c.SharedSubscriptions = false })
	r := dialRaw(t, off)
	r.connect("op-off", true, false)
	if off.Engine().Subscribe("op-off", "$share/g/t", 0) {
		t.Fatal("Subscribe($share/g/t) accepted with -shared-subscriptions=false, want refused")
	}
}
