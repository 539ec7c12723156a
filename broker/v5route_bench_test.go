package broker

import (
	"fmt"
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

// protocolPair returns a function that takes one client PUBLISH of 16 B at
// qos through handlePublish to one subscriber and ends its round, publisher
// and subscriber both at 3.1.1 or both at 5.0 without properties (as
// glassmq-bench -protocol 5 sends); at QoS 1 it also answers with the
// subscriber's PUBACK. The function reports what went wrong, nil when the
// subscriber got the message.
func protocolPair(tb testing.TB, v5 bool, qos byte) func() error {
	ls, _ := routeFixture(tb, 0)
	e := ls.e
	h := &LoopHandle{ls}
	tr := &lastTransport{}
	sub := attachedConn(tb, e, h, tr, "sub")
	pub := attachedConn(tb, e, h, &sinkTransport{}, "pub")
	e.router.add("bench/topic", sub.sess, qos, nil)
	level := byte(4)
	frame := codec.AppendPublishParts(nil, false, qos, false, []byte("bench/topic"), 1, make([]byte, 16))
	if v5 {
		level = codec.ProtocolLevel5
		for _, c := range []*Conn{sub, pub} {
			c.v5 = v5On
			c.meta.ProtocolVersion = codec.ProtocolLevel5
		}
		frame = codec.AppendPublishV5(nil, &codec.Publish{QoS: qos, TopicName: []byte("bench/topic"), PacketID: 1, Payload: make([]byte, 16)})
	}
	var got codec.Publish
	ack := make([]byte, 0, 4)
	return func() error {
		tr.last = tr.last[:0]
		pub.handlePublish(frame)
		ls.flush()
		if _, err := got.DecodeFromServer(tr.last, level); err != nil || got.QoS != qos || len(got.Payload) != 16 {
			return fmt.Errorf("subscriber got % x: QoS %d, %v; want a QoS %d PUBLISH of 16 B", tr.last, got.QoS, err, qos)
		}
		if qos > 0 {
			sub.handleAck(codec.AppendPuback(ack[:0], got.PacketID))
			ls.flush()
		}
		return nil
	}
}

// BenchmarkPublishProtocol is protocolPair at 3.1.1 and at 5.0, QoS 0 and
// 1: the pairs scenario's work per message without the sockets, so v5
// against v311 is the broker's CPU ratio that pairs-v5 against pairs
// measures, with far less noise (and, under valgrind --tool=callgrind,
// none: instructions per message).
func BenchmarkPublishProtocol(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		for _, v5 := range []bool{false, true} {
			name := "v311"
			if v5 {
				name = "v5"
			}
			b.Run(name+"-qos"+string('0'+rune(qos)), func(b *testing.B) {
				step := protocolPair(b, v5, qos)
				b.ReportAllocs()
				for b.Loop() {
					if err := step(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
