package broker

import (
	"strconv"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// BenchmarkRouteQoS0Protocol compares one QoS 0 PUBLISH routed to local
// subscribers and flushed when publisher and subscribers speak 3.1.1 and
// when they speak 5.0 (no properties, as glassmq-bench -protocol 5 sends):
// the broker's share of the difference that pairs and pairs-v5 show.
func BenchmarkRouteQoS0Protocol(b *testing.B) {
	for _, v5 := range []bool{false, true} {
		for _, n := range []int{1, 10} {
			name := "v311"
			if v5 {
				name = "v5"
			}
			b.Run(name+"-subs-"+strconv.Itoa(n)+"-16B", func(b *testing.B) {
				ls, _ := routeFixture(b, n)
				pub := attachedConn(b, ls.e, &LoopHandle{ls: ls}, &sinkTransport{}, "pub")
				if v5 {
					n := ls.e.router.root.children["bench"].children["topic"]
					for _, e := range n.subs {
						c := e.s.Owner()
						c.v5 = v5On
						c.meta.ProtocolVersion = codec.ProtocolLevel5
					}
				}
				topic, payload := []byte("bench/topic"), make([]byte, 16)
				b.ReportAllocs()
				for b.Loop() {
					if v5 {
						ls.props5, ls.expires, ls.from = ls.props5[:0], 0, pub.sess
					}
					ls.route(topic, payload, 0, nil)
					ls.from = nil
					ls.flush()
				}
			})
		}
	}
}
