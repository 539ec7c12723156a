package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

func BenchmarkPublishDecode(b *testing.B) {
	for _, bp := range benchPublishes {
		frame := codec.AppendPublish(nil, &bp.p)
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			var p codec.Publish
			for b.Loop() {
				if _, err := p.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPublishEncode(b *testing.B) {
	for _, bp := range benchPublishes {
		dst := make([]byte, 0, codec.PublishSize(bp.p.QoS, len(bp.p.TopicName), len(bp.p.Payload)))
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(cap(dst)))
			for b.Loop() {
				dst = codec.AppendPublish(dst[:0], &bp.p)
			}
		})
	}
}
