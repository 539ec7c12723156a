package broker

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// BenchmarkPublishNoCluster is one client PUBLISH through handlePublish
// (decode, route to one local QoS 0 subscriber, ack) and the end of its
// round, on an engine with no cluster: what a single node pays for the
// cluster seam is the nil checks on this path (forward, flush) and, for
// QoS 1/2, one more word read and cleared in writeAck.
func BenchmarkPublishNoCluster(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		b.Run("qos"+string('0'+rune(qos)), func(b *testing.B) {
			ls, _ := routeFixture(b, 1)
			e := ls.e
			if e.cluster != nil {
				b.Fatal("a cluster is set")
			}
			pub := attachedConn(b, e, &LoopHandle{ls}, &sinkTransport{}, "pub")
			frame := codec.AppendPublishParts(nil, false, qos, false, []byte("bench/topic"), 1, make([]byte, 16))
			b.ReportAllocs()
			for b.Loop() {
				pub.handlePublish(frame)
				ls.flush()
			}
		})
	}
}
