package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

func BenchmarkFrame(b *testing.B) {
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"pingreq", codec.AppendPingreq(nil)},
		{"puback", codec.AppendPuback(nil, 1)},
		{"publish-64B", codec.AppendPublish(nil, &codec.Publish{QoS: 1, PacketID: 1, TopicName: []byte("a/b"), Payload: make([]byte, 64)})},
		{"publish-16KiB", codec.AppendPublish(nil, &codec.Publish{QoS: 1, PacketID: 1, TopicName: []byte("a/b"), Payload: make([]byte, 16384)})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.frame)))
			for b.Loop() {
				if n, err := codec.Frame(tc.frame, 1<<20); n != len(tc.frame) || err != nil {
					b.Fatal(n, err)
				}
			}
		})
	}
}
