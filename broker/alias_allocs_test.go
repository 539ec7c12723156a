//go:build !race

package broker

import (
	"strconv"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// TestRouteQoS0AliasAllocs routes QoS 0 messages to 5 subscribers at 5.0
// with outbound topic aliases and 5 without, on one loop: once the aliases
// are set, the deliveries allocate nothing, and the aliased packets are
// the smaller (the topic name is left out).
func TestRouteQoS0AliasAllocs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Loops = 1
	e := NewEngine(cfg)
	h := e.BindLoop(sameLoop{})
	var sinks []*sinkTransport
	for i := 0; i < 10; i++ {
		tr := &sinkTransport{}
		c := attachedConn(t, e, h, tr, "alias-"+strconv.Itoa(i))
		c.v5 = v5On
		if i%2 == 1 {
			var pr codec.Properties
			pr.TopicAliasMaximum = 10
			pr.Set(codec.PropTopicAliasMaximum)
			c.connectAliases(&pr)
		}
		e.router.add("bench/#", c.sess, 0, nil)
		sinks = append(sinks, tr)
	}
	ls := h.ls
	topic, payload := []byte("bench/topic/with/a/longer/name"), []byte("hello")
	route := func() {
		ls.route(topic, payload, 0, nil)
		ls.flush()
	}
	route() // sets the aliases
	plain0, alias0 := sinks[0].written, sinks[1].written
	if n := testing.AllocsPerRun(1000, route); n != 0 {
		t.Fatalf("route+flush QoS 0 to 5 + 5 subscribers with and without aliases: %v allocs/op, want 0", n)
	}
	plain, aliased := sinks[0].written-plain0, sinks[1].written-alias0
	if plain == 0 || aliased == 0 || aliased >= plain {
		t.Fatalf("after the first message: %d bytes without aliases, %d with; want both, the aliased fewer", plain, aliased)
	}
}

// TestPublishV5AliasAllocs writes QoS 1 deliveries through a known
// outbound alias without allocating.
func TestPublishV5AliasAllocs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Loops = 1
	e := NewEngine(cfg)
	h := e.BindLoop(sameLoop{})
	tr := &sinkTransport{}
	c := attachedConn(t, e, h, tr, "alias-q1")
	c.v5 = v5On
	var pr codec.Properties
	pr.TopicAliasMaximum = 10
	pr.Set(codec.PropTopicAliasMaximum)
	c.connectAliases(&pr)
	m := session.NewMessage([]byte("bench/topic/with/a/longer/name"), []byte("hello"), 1, false)
	write := func() {
		c.writePublish(m, 1, false, false, 1, 0)
		c.flushOut()
	}
	write()
	if a, known := c.outAlias(m.Topic); a != 1 || !known {
		t.Fatalf("after the first delivery outAlias = %d, %v; want 1, true", a, known)
	}
	if n := testing.AllocsPerRun(1000, write); n != 0 {
		t.Fatalf("QoS 1 PUBLISH through a known alias: %v allocs/op, want 0", n)
	}
}
