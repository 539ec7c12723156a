//go:build !race

package broker

import (
	"strconv"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// TestRouteQoS0MixedV5Allocs routes QoS 0 messages with 5.0 properties and
// an expiry to 5 subscribers at 3.1.1 and 5 at 5.0 on one loop: one
// encoding of each form per message and zero allocations; the 5.0
// subscribers get the larger packets (TestV5PublishSubscribe decodes them).
func TestRouteQoS0MixedV5Allocs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Loops = 1
	e := NewEngine(cfg)
	h := e.BindLoop(sameLoop{})
	var sinks []*sinkTransport
	for i := 0; i < 10; i++ {
		tr := &sinkTransport{}
		c := attachedConn(t, e, h, tr, "mixed-"+strconv.Itoa(i))
		if i%2 == 1 {
			c.v5 = v5On
		}
		e.router.add("bench/topic", c.sess, 0, nil)
		sinks = append(sinks, tr)
	}
	ls := h.ls
	var pr codec.Properties
	pr.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
	props := codec.AppendProperties(nil, &pr)
	topic, payload := []byte("bench/topic"), []byte("hello")
	route := func() {
		ls.props5 = append(ls.props5[:0], props[1:]...) // the records, without their length
		ls.expires = e.nowMillis() + 60_000
		ls.route(topic, payload, 0, nil)
		ls.props5, ls.expires = ls.props5[:0], 0
		ls.flush()
	}
	route()
	if n := testing.AllocsPerRun(1000, route); n != 0 {
		t.Fatalf("route+flush QoS 0 to 5 + 5 subscribers of 3.1.1 and 5.0: %v allocs/op, want 0", n)
	}
	v4 := codec.PublishSize(0, len(topic), len(payload))
	if sinks[0].written == 0 || sinks[1].written == 0 || sinks[1].written <= sinks[0].written {
		t.Fatalf("3.1.1 sink wrote %d, 5.0 sink %d bytes; want both, the 5.0 larger (3.1.1 packet %d B)",
			sinks[0].written, sinks[1].written, v4)
	}
}

// TestPublishProtocolAllocs takes client PUBLISHes without properties
// through handlePublish to one subscriber at 3.1.1 and at 5.0: at QoS 0
// neither allocates; at QoS 1 (the stored message, the subscriber's PUBACK)
// 5.0 allocates no more than 3.1.1.
func TestPublishProtocolAllocs(t *testing.T) {
	for _, qos := range []byte{0, 1} {
		var n [2]float64
		for i, v5 := range []bool{false, true} {
			step := protocolPair(t, v5, qos)
			var err error
			n[i] = testing.AllocsPerRun(1000, func() {
				if e := step(); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatalf("QoS %d, 5.0 %v: %v", qos, v5, err)
			}
		}
		if qos == 0 && (n[0] != 0 || n[1] != 0) || n[1] > n[0] {
			t.Errorf("QoS %d: %v allocs/op at 3.1.1, %v at 5.0; want 5.0 at most 3.1.1 (0 at QoS 0)", qos, n[0], n[1])
		}
	}
}
