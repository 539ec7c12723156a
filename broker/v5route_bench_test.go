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

// lastTransport is a sinkTransport that keeps the last write, for a
// benchmark that answers what the broker sent.
type lastTransport struct {
	sinkTransport
	last []byte
}

func (t *lastTransport) Write(b []byte) error {
	t.last = append(t.last[:0], b...)
	t.written += len(b)
	return nil
}

// BenchmarkPublishProtocol is one client PUBLISH of 16 B through
// handlePublish to one subscriber and the end of its round, publisher and
// subscriber both at 3.1.1 or both at 5.0 without properties (as
// glassmq-bench -protocol 5 sends), at QoS 0 and 1; at QoS 1 the
// subscriber's PUBACK is handled too. It is the pairs scenario's work per
// message without the sockets, so v5 against v311 is the broker's CPU
// ratio that pairs-v5 against pairs measures, with far less noise.
func BenchmarkPublishProtocol(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		for _, v5 := range []bool{false, true} {
			name, level := "v311", byte(4)
			if v5 {
				name, level = "v5", codec.ProtocolLevel5
			}
			b.Run(name+"-qos"+string('0'+rune(qos)), func(b *testing.B) {
				ls, _ := routeFixture(b, 0)
				e := ls.e
				h := &LoopHandle{ls}
				tr := &lastTransport{}
				sub := attachedConn(b, e, h, tr, "sub")
				pub := attachedConn(b, e, h, &sinkTransport{}, "pub")
				e.router.add("bench/topic", sub.sess, qos, nil)
				if v5 {
					for _, c := range []*Conn{sub, pub} {
						c.v5 = v5On
						c.meta.ProtocolVersion = codec.ProtocolLevel5
					}
				}
				frame := codec.AppendPublishParts(nil, false, qos, false, []byte("bench/topic"), 1, make([]byte, 16))
				if v5 {
					frame = codec.AppendPublishV5(nil, &codec.Publish{QoS: qos, TopicName: []byte("bench/topic"), PacketID: 1, Payload: make([]byte, 16)})
				}
				var got codec.Publish
				ack := make([]byte, 0, 4)
				b.ReportAllocs()
				for b.Loop() {
					pub.handlePublish(frame)
					ls.flush()
					if qos == 0 {
						continue
					}
					if _, err := got.DecodeFromServer(tr.last, level); err != nil || got.QoS != 1 {
						b.Fatalf("subscriber got % x: QoS %d, %v; want a QoS 1 PUBLISH", tr.last, got.QoS, err)
					}
					sub.handleAck(codec.AppendPuback(ack[:0], got.PacketID))
					ls.flush()
				}
			})
		}
	}
}
