package broker

import (
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// TestWildcards covers '+', '#' and the '$' rule [MQTT-4.7.1-2],
// [MQTT-4.7.1-3], [MQTT-4.7.2-1] through the real router.
func TestWildcards(t *testing.T) {
	s := startBroker(t, nil)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	cases := []struct {
		filter string
		match  []string
		miss   []string
	}{
		{"sport/tennis/+", []string{"sport/tennis/player1"}, []string{"sport/tennis/player1/ranking", "sport/tennis"}},
		{"sport/#", []string{"sport", "sport/tennis", "sport/tennis/player1"}, []string{"sports"}},
		{"+/+", []string{"/finance", "a/b"}, []string{"finance", "a/b/c"}},
		{"+/tennis/#", []string{"sport/tennis", "sport/tennis/x/y"}, []string{"sport/golf"}},
		{"#", []string{"a", "a/b"}, []string{"$SYS/x", "$other"}},
		{"+/monitor/Clients", []string{"x/monitor/Clients"}, []string{"$SYS/monitor/Clients"}},
		{"$SYS/#", []string{"$SYS/monitor/Clients"}, []string{"SYS/x"}},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			sub := dialRaw(t, s)
			sub.connect("sub", true, false)
			sub.subscribe(1, tc.filter, 0)
			for _, topic := range append(tc.miss, tc.match...) {
				if topic[0] == '$' {
					// clients may not publish to $-topics; the broker may
					s.Engine().withForeignLoop(func(ls *loopState) { ls.route([]byte(topic), []byte(topic), 0, nil) })
				} else {
					pub.publish(topic, topic, 0, false, 0)
				}
			}
			for _, want := range tc.match {
				if m := sub.readPublish(); string(m.TopicName) != want {
					t.Fatalf("got %q, want %q (the misses %q must not arrive)", m.TopicName, want, tc.miss)
				}
			}
			sub.expectSilence(100 * time.Millisecond)
		})
	}
}

// TestInvalidFilters: an invalid filter gets SUBACK 0x80 for itself alone
// [MQTT-4.7.3-*]; the others in the same SUBSCRIBE are granted.
func TestInvalidFilters(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s)
	c.connect("c", true, false)
	c.send(codec.AppendSubscribe(nil, 5, []codec.Subscription{
		{TopicFilter: []byte("ok/+"), QoS: 1},
		{TopicFilter: []byte("bad/#/x"), QoS: 1},
		{TopicFilter: []byte("sport+"), QoS: 0},
		{TopicFilter: []byte("ok/#"), QoS: 2},
	}))
	c.expectPacket("90 06 0005 01 80 80 02")
}

// TestOverlappingSubscriptions: a message matching several filters of one
// session is delivered once, at the highest QoS of the matches.
func TestOverlappingSubscriptions(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialRaw(t, s)
	sub.connect("sub", true, false)
	sub.subscribe(1, "a/+", 0)
	sub.subscribe(2, "a/#", 2)
	sub.subscribe(3, "a/b", 1)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("a/b", "x", 2, false, 1)
	pub.expectPacket("50 02 0001")
	if m := sub.readPublish(); m.QoS != 2 || string(m.Payload) != "x" {
		t.Fatalf("got qos %d %q, want one delivery at qos 2", m.QoS, m.Payload)
	}
	sub.expectSilence(200 * time.Millisecond)
}

// TestNoClientPublishToDollarTopics: a client's PUBLISH to a $-topic is
// acknowledged and not delivered.
func TestNoClientPublishToDollarTopics(t *testing.T) {
	s := startBroker(t, nil)
	sub := dialRaw(t, s)
	sub.connect("sub", true, false)
	sub.subscribe(1, "$SYS/#", 0)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("$SYS/broker/uptime", "forged", 1, false, 3)
	pub.expectPacket("40 02 0003")
	sub.expectSilence(200 * time.Millisecond)
}

// TestSysTopics: $SYS/broker/... counters are published periodically as
// retained messages.
func TestSysTopics(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.SysInterval = 100 * time.Millisecond })
	sub := dialRaw(t, s)
	sub.connect("sys", true, false)
	sub.subscribe(1, "$SYS/broker/clients/connected", 0)
	m := sub.readPublish()
	if string(m.TopicName) != "$SYS/broker/clients/connected" || len(m.Payload) == 0 {
		t.Fatalf("got %q %q", m.TopicName, m.Payload)
	}
	sub.subscribe(2, "$SYS/broker/version", 0)
	if m := sub.readPublish(); !m.Retain && string(m.TopicName) != "$SYS/broker/version" {
		t.Fatalf("got %q retain %v, want the retained version", m.TopicName, m.Retain)
	}
}
