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

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// Shared subscription deliveries over time: real clients (paho, Mosquitto)
// joining and leaving, a restart, and in-flight messages of members whose
// connection breaks. The rules and the router are in shared_test.go.

// TestSharedPaho: MQTT 3.1.1 clients (paho) share a subscription too. Three
// members and a normal subscriber get 60 QoS 1 messages: each message once
// in the group, all at the normal subscriber. Then a member disconnects
// between two halves of the stream, and the other two get every message of
// the second half.
func TestSharedPaho(t *testing.T) {
	s := startBroker(t, nil)
	type msg struct {
		member  int
		payload string
	}
	got := make(chan msg, 1000)
	var members []mqtt.Client
	for i := range 3 {
		c := pahoClient(t, s, fmt.Sprint("paho-m", i), true, nil)
		tok := c.Subscribe("$share/workers/jobs/#", 1, func(_ mqtt.Client, m mqtt.Message) { got <- msg{i, string(m.Payload())} })
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		for _, code := range tok.(*mqtt.SubscribeToken).Result() { // paho keys it by the filter without $share/workers/
			if code != 1 {
				t.Fatalf("SUBACK %#x, want 1", code)
			}
		}
		members = append(members, c)
	}
	normal := make(chan string, 1000)
	nc := pahoClient(t, s, "paho-normal", true, nil)
	if tok := nc.Subscribe("jobs/#", 1, func(_ mqtt.Client, m mqtt.Message) { normal <- string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := pahoClient(t, s, "paho-pub", true, nil)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			if tok := pub.Publish("jobs/a", 1, false, fmt.Sprint(i)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
	}
	collect := func(n int) [][]string {
		per := make([][]string, 3)
		for range n {
			select {
			case m := <-got:
				per[m.member] = append(per[m.member], m.payload)
			case <-time.After(10 * time.Second):
				t.Fatalf("group got %v, then nothing for 10s; want %d messages", per, n)
			}
		}
		return per
	}
	send(0, 60)
	per := collect(60)
	onceEach(t, per, 60)
	for i := range 3 {
		if len(per[i]) != 20 {
			t.Fatalf("member %d got %d of 60, want 20 (round robin): %v", i, len(per[i]), per)
		}
	}
	for i := range 60 {
		select {
		case p := <-normal:
			if p != fmt.Sprint(i) {
				t.Fatalf("normal subscriber got %s, want %d", p, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("normal subscriber got %d messages, then nothing for 10s; want 60", i)
		}
	}

	members[1].Disconnect(100)
	deadline := time.Now().Add(5 * time.Second)
	for s.Engine().reg.Lookup("paho-m1") != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	send(60, 120)
	per = collect(60)
	if len(per[1]) != 0 {
		t.Fatalf("the disconnected member got %v", per[1])
	}
	second := [][]string{per[0], per[2]}
	for _, g := range second {
		for i, p := range g {
			g[i] = fmt.Sprint(mustAtoi(t, p) - 60)
		}
	}
	onceEach(t, second, 60)
	select {
	case m := <-got:
		t.Fatalf("an extra delivery %+v after all 120", m)
	default:
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("payload %q: %v", s, err)
	}
	return n
}

// TestSharedPersistence: a persistent member's shared subscription is
// stored with the session and restored after a restart; a QoS 1 message
// for the group while no member is connected is queued to the offline
// member and delivered when it comes back.
func TestSharedPersistence(t *testing.T) {
	dir := t.TempDir()
	s, db := startPersistent(t, dir, "always", nil)
	m := dialAddr(t, brokerAddr(s))
	m.connect("per-m", false, false)
	m.subscribe(1, "$share/g/p/t", 1)
	m.send([]byte{0xe0, 0})
	m.expectClosed(5 * time.Second)
	stopPersistent(t, s, db)

	s, db = startPersistent(t, dir, "always", nil)
	defer stopPersistent(t, s, db)
	var info session.Info
	if !s.Engine().SessionInfo("per-m", &info) || len(info.Subscriptions) != 1 || info.Subscriptions[0].TopicFilter != "$share/g/p/t" {
		t.Fatalf("after restart per-m subscriptions %+v, want $share/g/p/t", info.Subscriptions)
	}
	m2 := dialAddr(t, brokerAddr(s)) // a second persistent member, offline from here on
	m2.connect("per-m2", false, false)
	m2.subscribe(1, "$share/g/p/t", 1)
	m2.send([]byte{0xe0, 0})
	m2.expectClosed(5 * time.Second)
	pub := dialAddr(t, brokerAddr(s))
	pub.connect("per-pub", true, false)
	pub.publish("p/t", "queued", 1, false, 7) // round robin starts at per-m, the first member
	pub.expectPacket("40 02 0007")
	pub.publish("p/t", "qos0", 0, false, 0) // nobody connected: dropped
	pub.sendHex("c0 00")
	pub.expectPacket("d0 00") // the QoS 0 PUBLISH before it was routed
	m = dialAddr(t, brokerAddr(s))
	m.connect("per-m", false, true)
	if p := m.readPublish(); string(p.Payload) != "queued" || p.QoS != 1 {
		t.Fatalf("got %q QoS %d, want the queued QoS 1 message", p.Payload, p.QoS)
	} else {
		m.send(codec.AppendPuback(nil, p.PacketID))
	}
	pub.publish("p/t", "live", 0, false, 0)
	if p := m.readPublish(); string(p.Payload) != "live" {
		t.Fatalf("got %q, want live (the QoS 0 message sent while offline is not queued)", p.Payload)
	}
	// With per-m connected, nothing is queued to the offline per-m2.
	for i := range 4 {
		pub.publish("p/t", fmt.Sprint("c", i), 1, false, uint16(10+i))
		if p := m.readPublish(); string(p.Payload) != fmt.Sprint("c", i) {
			t.Fatalf("got %q, want c%d", p.Payload, i)
		} else {
			m.send(codec.AppendPuback(nil, p.PacketID))
		}
	}
	m2 = dialAddr(t, brokerAddr(s))
	m2.connect("per-m2", false, true)
	m2.sendHex("c0 00")
	m2.expectPacket("d0 00") // queued messages would have come first
}

// TestSharedMosquitto: two mosquitto_sub -V mqttv5 on '$share/g/t' split
// the messages of mosquitto_pub between them, each once.
func TestSharedMosquitto(t *testing.T) {
	pubBin, err1 := exec.LookPath("mosquitto_pub")
	subBin, err2 := exec.LookPath("mosquitto_sub")
	if err1 != nil || err2 != nil {
		t.Skip("mosquitto_pub/mosquitto_sub not installed (apt-get install -y mosquitto-clients)")
	}
	s := startBroker(t, nil)
	host, port, _ := net.SplitHostPort(brokerAddr(s))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var outs [2]bytes.Buffer
	var subs [2]*exec.Cmd
	for i := range subs {
		subs[i] = exec.CommandContext(ctx, subBin, "-V", "mqttv5", "-h", host, "-p", port, "-t", "$share/g/mq/t", "-q", "1", "-C", "5")
		subs[i].Stdout, subs[i].Stderr = &outs[i], &outs[i]
		if err := subs[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Engine().Stats().Subscriptions.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 10 {
		pub := exec.CommandContext(ctx, pubBin, "-V", "mqttv5", "-h", host, "-p", port, "-t", "mq/t", "-q", "1", "-m", fmt.Sprint(i))
		if b, err := pub.CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, b)
		}
	}
	var got [][]string
	for i, sub := range subs {
		if err := sub.Wait(); err != nil {
			t.Fatalf("mosquitto_sub %d: %v: %s", i, err, outs[i].String())
		}
		got = append(got, strings.Fields(outs[i].String()))
	}
	onceEach(t, got, 10)
}

// TestSharedInflightStaysWithMember: a QoS 2 message given to a member
// whose connection breaks before it answers stays with that member's
// session: it is sent again to that member when it reconnects
// [MQTT5-4.8.2-4] and never to another member [MQTT5-4.8.2-5], which gets
// the next messages at its own granted QoS [MQTT5-4.8.2-3]. A member that
// refuses a delivery (PUBACK 0x80) has it discarded, not handed to another
// member [MQTT5-4.8.2-6].
func TestSharedInflightStaysWithMember(t *testing.T) {
	s := startBroker(t, nil)
	var pr codec.Properties
	pr.SessionExpiry = 3600
	pr.Set(codec.PropSessionExpiry)
	a := dialRaw(t, s)
	a.connect5("fl-a", false, &pr)
	a.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("$share/g/fl"), QoS: 2})
	b := dialRaw(t, s)
	b.connect5("fl-b", true, nil)
	b.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("$share/g/fl"), QoS: 1})
	pub := dialRaw(t, s)
	pub.connect5("fl-pub", true, nil)
	publish := func(payload string, id uint16) {
		pub.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 2, PacketID: id, TopicName: []byte("fl"), Payload: []byte(payload)}))
		if b := pub.read(); codec.PacketType(b) != codec.TypePubrec {
			t.Fatalf("publisher got % x, want PUBREC", b)
		}
		pub.send(codec.AppendPubrel(nil, id))
		if b := pub.read(); codec.PacketType(b) != codec.TypePubcomp {
			t.Fatalf("publisher got % x, want PUBCOMP", b)
		}
	}
	publish("m0", 1) // round robin: a
	if p := a.readPublish5(); string(p.Payload) != "m0" || p.QoS != 2 {
		t.Fatalf("a got %q QoS %d, want m0 QoS 2", p.Payload, p.QoS)
	}
	a.c.Close() // before PUBREC
	deadline := time.Now().Add(5 * time.Second)
	for s.Engine().reg.Lookup("fl-a").Owner() != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	publish("m1", 2) // b
	publish("m2", 3) // a's turn, but a is offline and b is connected: b
	for _, want := range []string{"m1", "m2"} {
		p := b.readPublish5()
		if string(p.Payload) != want || p.QoS != 1 {
			t.Fatalf("b got %q QoS %d, want %s QoS 1 (its granted QoS)", p.Payload, p.QoS, want)
		}
		b.send(codec.AppendPuback(nil, p.PacketID))
	}
	a = dialRaw(t, s)
	if ack := a.connect5("fl-a", false, &pr); !ack.SessionPresent {
		t.Fatal("a's session is gone, want it present")
	}
	if p := a.readPublish5(); string(p.Payload) != "m0" || !p.Dup || p.QoS != 2 {
		t.Fatalf("a got %q DUP %v QoS %d on reconnect, want m0 again with DUP 1, QoS 2", p.Payload, p.Dup, p.QoS)
	}
	publish("m3", 4) // round robin: b, which refuses it
	p := b.readPublish5()
	if string(p.Payload) != "m3" {
		t.Fatalf("b got %q, want m3", p.Payload)
	}
	b.send(codec.AppendAckV5(nil, codec.TypePuback, p.PacketID, codec.ReasonUnspecifiedError, nil))
	publish("m4", 5) // a
	// a's next PUBLISH is m4: m3 was discarded, not handed over.
	for {
		q := a.readPublish5()
		if q.QoS == 2 && string(q.Payload) == "m0" {
			continue // a has not answered m0 yet: it may come again
		}
		if string(q.Payload) != "m4" {
			t.Fatalf("a got %q, want m4 (m3, refused by b, goes to nobody)", q.Payload)
		}
		break
	}
	b.sendHex("c0 00")
	b.expectPacket("d0 00")
}
