package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

func BenchmarkSubscribeDecode(b *testing.B) {
	frame := codec.AppendSubscribe(nil, 10, []codec.Subscription{
		{TopicFilter: []byte("a"), QoS: 0}, {TopicFilter: []byte("sensors/+/temp"), QoS: 1},
		{TopicFilter: []byte("#"), QoS: 2}, {TopicFilter: []byte("$SYS/broker/#"), QoS: 0},
	})
	b.Run("4-filters", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		var p codec.Subscribe
		for b.Loop() {
			if _, err := p.Decode(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSubackEncode(b *testing.B) {
	codes := []byte{0, 1, 2, codec.SubackFailure}
	dst := make([]byte, 0, 16)
	b.Run("4-codes", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(2 + 2 + len(codes)))
		for b.Loop() {
			dst = codec.AppendSuback(dst[:0], 10, codes)
		}
	})
}
