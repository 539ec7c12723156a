package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// benchProps are the properties of a typical MQTT 5.0 message: content
// type, message expiry and two user properties.
func benchProps() codec.Properties {
	var p codec.Properties
	p.Set(codec.PropContentType)
	p.ContentType = []byte("application/json")
	p.Set(codec.PropMessageExpiry)
	p.MessageExpiry = 3600
	p.User = []codec.UserProperty{{Key: []byte("trace"), Value: []byte("abc123")}, {Key: []byte("site"), Value: []byte("7")}}
	return p
}

func BenchmarkPublishDecodeV5(b *testing.B) {
	for _, withProps := range []bool{false, true} {
		for _, bp := range benchPublishes[:3] { // QoS 0, the three payload sizes
			p := bp.p
			name := "noprops-" + bp.name
			if withProps {
				p.Props = benchProps()
				name = "props-" + bp.name
			}
			frame := codec.AppendPublishV5(nil, &p)
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(frame)))
				var q codec.Publish
				for b.Loop() {
					if _, err := q.DecodeV(frame, 5); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkPublishEncodeV5(b *testing.B) {
	p := benchPublishes[1].p // QoS 0, 1 KiB
	p.Props = benchProps()
	dst := make([]byte, 0, codec.PublishSizeV5(p.QoS, len(p.TopicName), p.Props.Size(), len(p.Payload)))
	b.Run("props-"+benchPublishes[1].name, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(cap(dst)))
		for b.Loop() {
			dst = codec.AppendPublishV5(dst[:0], &p)
		}
	})
}

// BenchmarkPublishForward is a delivery on the server: pre-encoded
// properties plus a topic alias, an adjusted expiry and a subscription
// identifier.
func BenchmarkPublishForward(b *testing.B) {
	p := benchPublishes[1].p
	props := benchProps()
	keep := codec.AppendProperties(nil, &props)[1:]
	f := codec.Forward{TopicAlias: 3, HasExpiry: true, MessageExpiry: 3590, SubscriptionIDs: []uint32{12}}
	dst := make([]byte, 0, codec.PublishForwardSize(p.QoS, len(p.TopicName), &f, len(keep), len(p.Payload)))
	b.Run(benchPublishes[1].name, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(cap(dst)))
		for b.Loop() {
			dst = codec.AppendPublishForward(dst[:0], &p, &f, keep)
		}
	})
}
