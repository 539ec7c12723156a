package broker

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// BenchmarkDeliverRemote is the receiving node's engine side of cross-node
// QoS 0, per message: a batch of 512 16-byte messages of one topic from
// another node through DeliverRemote (one match, an encoding per message),
// then the subscriber's loop drains its hand-off queue and writes (into
// a buffer the benchmark empties).
func BenchmarkDeliverRemote(b *testing.B) {
	const run = 512
	e, ls, sinks := remoteFixture(b, 0, "bench/abcdefgh/3")
	topic, payload := []byte("bench/abcdefgh/3"), []byte("0123456789abcdef")
	each := func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64)) {
		for range run {
			deliver(topic, payload, nil, 0, false, 0)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(run * codec.PublishSize(0, len(topic), len(payload))))
	for b.Loop() {
		e.DeliverRemote(each)
		ls.drainHandoff()
		sinks[0].got = sinks[0].got[:0]
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*run), "ns/msg")
}
