//go:build !race

package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// MQTT 5.0 hot paths allocate nothing per packet either, once the reused
// slices (user properties, subscription identifiers, filters) have grown.

func TestDecodeV5Allocs(t *testing.T) {
	publish := unhex(t, "30 0a 0005 612f622f63 00 6869")
	publishProps := unhex(t, "32 2d 0003 612f62 0001 23 0101 0200000e10 03000474657874 080003722f31 09 0002abcd 26 0001 6b 0001 76 23 0005 6869")
	fromServer := unhex(t, pkt("30", "0001 61", block("0b01", "0b02", "26 0001 6b 0001 76"), "6869"))
	puback := unhex(t, "50 0a 0001 80 06 1f0003626164")
	subscribe := unhex(t, "82 0d 000a 00 0001 61 00 0003 612f2b 2d")
	connect := unhex(t, "10 51 0004 4d515454 05 ee 003c 26 110000003c 210010 2700001000 22000a 1901 1700 26000161000176 150003616263 1600020102 0001 61 07 180000000a 0101 0003 612f62 0002 6869 0004 75736572 0004 00ff0102")
	disconnect := unhex(t, "e0 08 9c 06 1c0003682f32")
	bareAck := unhex(t, "40 02 0001")
	var (
		p, q codec.Publish
		a    codec.Ack
		s    codec.Subscribe
		c    codec.Connect
		d    codec.Disconnect
		one  = func(_ int, err error) error { return err }
	)
	_, _ = p.DecodeV(publishProps, 5)
	_, _ = q.DecodeFromServer(fromServer, 5)
	_, _ = s.DecodeV(subscribe, 5)
	_, _ = c.DecodeV(connect, 5)
	checkAllocs(t, "FrameV", func() error { return one(codec.FrameV(publishProps, 1024, 5)) })
	checkAllocs(t, "Publish.DecodeV no properties", func() error { return one(p.DecodeV(publish, 5)) })
	checkAllocs(t, "Publish.DecodeV properties", func() error { return one(p.DecodeV(publishProps, 5)) })
	checkAllocs(t, "Publish.DecodeFromServer subscription identifiers", func() error { return one(q.DecodeFromServer(fromServer, 5)) })
	checkAllocs(t, "Ack.DecodeV reason string", func() error { return one(a.DecodeV(puback, 5)) })
	checkAllocs(t, "Ack.DecodeV bare", func() error { return one(a.DecodeV(bareAck, 5)) })
	checkAllocs(t, "Subscribe.DecodeV reused", func() error { return one(s.DecodeV(subscribe, 5)) })
	checkAllocs(t, "Connect.DecodeV reused", func() error { return one(c.DecodeV(connect, 5)) })
	checkAllocs(t, "Disconnect.DecodeV", func() error { return one(d.DecodeV(disconnect, 5)) })
}

func TestAppendV5Allocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	p := codec.Publish{QoS: 1, PacketID: 1, TopicName: []byte("a/b/c"), Payload: make([]byte, 256)}
	pp := p
	pp.Props = allProps(codec.TypePublish, false)
	keep := unhex(t, "26 0001 61 0001 31 01 01")
	f := codec.Forward{TopicAlias: 2, HasExpiry: true, MessageExpiry: 60, SubscriptionIDs: []uint32{1, 2}}
	connack := allProps(codec.TypeConnack, false)
	codes := []byte{0, 1, 2, 0x80}
	ack := codec.Ack{Type: codec.TypePubrec, PacketID: 3, ReasonCode: 0x80, Props: allProps(codec.TypePubrec, false)}
	for _, tc := range []struct {
		name string
		f    func() []byte
	}{
		{"AppendPublishV5 no properties", func() []byte { return codec.AppendPublishV5(dst[:0], &p) }},
		{"AppendPublishV5 properties", func() []byte { return codec.AppendPublishV5(dst[:0], &pp) }},
		{"AppendPublishForward", func() []byte { return codec.AppendPublishForward(dst[:0], &p, &f, keep) }},
		{"AppendPublishForwardParts no forward", func() []byte {
			return codec.AppendPublishForwardParts(dst[:0], false, 0, false, p.TopicName, 0, nil, keep, p.Payload)
		}},
		{"AppendPropsWithout", func() []byte {
			return codec.AppendPropsWithout(dst[:0], keep, codec.SetOf(codec.PropTopicAlias, codec.PropMessageExpiry))
		}},
		{"AppendAckV5 short", func() []byte { return codec.AppendAckV5(dst[:0], codec.TypePuback, 1, 0, nil) }},
		{"AppendAckV5 reason string", func() []byte { return codec.AppendAckV5(dst[:0], codec.TypePuback, 1, 0x87, []byte("no")) }},
		{"Ack.AppendV5", func() []byte { return ack.AppendV5(dst[:0]) }},
		{"AppendConnackV5", func() []byte { return codec.AppendConnackV5(dst[:0], true, 0, &connack) }},
		{"AppendSubackV5", func() []byte { return codec.AppendSubackV5(dst[:0], 1, codes, nil) }},
		{"AppendUnsubackV5", func() []byte { return codec.AppendUnsubackV5(dst[:0], 1, codes[:1], nil) }},
		{"AppendDisconnectV5", func() []byte { return codec.AppendDisconnectV5(dst[:0], codec.ReasonSessionTakenOver, nil) }},
		{"AppendAuth", func() []byte { return codec.AppendAuth(dst[:0], codec.ReasonContinueAuthentication, &connack) }},
	} {
		var out []byte
		n := testing.AllocsPerRun(1000, func() { out = tc.f() })
		if n != 0 || len(out) == 0 {
			t.Errorf("%s: got %v allocs/op, %d bytes; want 0 allocs/op", tc.name, n, len(out))
		}
	}
}
