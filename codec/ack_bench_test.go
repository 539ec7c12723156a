package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var benchAcks = []struct {
	name   string
	append func([]byte, uint16) []byte
}{
	{"puback", codec.AppendPuback},
	{"pubrec", codec.AppendPubrec},
	{"pubrel", codec.AppendPubrel},
	{"pubcomp", codec.AppendPubcomp},
	{"unsuback", codec.AppendUnsuback},
}

func BenchmarkAckDecode(b *testing.B) {
	for _, ba := range benchAcks {
		frame := ba.append(nil, 42)
		b.Run(ba.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			var p codec.Ack
			for b.Loop() {
				if _, err := p.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAckEncode(b *testing.B) {
	for _, ba := range benchAcks {
		dst := make([]byte, 0, 4)
		b.Run(ba.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(4)
			for b.Loop() {
				dst = ba.append(dst[:0], 42)
			}
		})
	}
}

func BenchmarkPingDecode(b *testing.B) {
	frame := codec.AppendPingreq(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := codec.DecodeEmpty(frame, codec.TypePingreq); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPingrespEncode(b *testing.B) {
	dst := make([]byte, 0, 2)
	b.ReportAllocs()
	b.SetBytes(2)
	for b.Loop() {
		dst = codec.AppendPingresp(dst[:0])
	}
}

func BenchmarkConnackEncode(b *testing.B) {
	dst := make([]byte, 0, 4)
	b.ReportAllocs()
	b.SetBytes(4)
	for b.Loop() {
		dst = codec.AppendConnack(dst[:0], true, codec.Accepted)
	}
}
