package broker

import (
	"strconv"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// BenchmarkRouteQoS0Alias is one QoS 0 PUBLISH routed to 10 local 5.0
// subscribers, with outbound topic aliases (set on the first message) or
// without: the cost of putting the alias into the shared encoding.
func BenchmarkRouteQoS0Alias(b *testing.B) {
	for _, aliased := range []bool{false, true} {
		b.Run("aliases-"+strconv.FormatBool(aliased)+"/subs-10-64B", func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Loops = 1
			e := NewEngine(cfg)
			h := e.BindLoop(sameLoop{})
			for i := 0; i < 10; i++ {
				c := attachedConn(b, e, h, &sinkTransport{}, "bench-alias-"+strconv.Itoa(i))
				c.v5 = v5On
				if aliased {
					var pr codec.Properties
					pr.TopicAliasMaximum = 10
					pr.Set(codec.PropTopicAliasMaximum)
					c.connectAliases(&pr)
				}
				e.router.add("bench/#", c.sess, 0, nil)
			}
			ls := h.ls
			topic, payload := []byte("bench/topic/with/a/longer/name"), make([]byte, 64)
			b.ReportAllocs()
			b.SetBytes(int64(codec.PublishSizeV5(0, len(topic), 0, len(payload))))
			for b.Loop() {
				ls.route(topic, payload, 0, nil)
				ls.flush()
			}
		})
	}
}
