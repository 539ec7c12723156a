//go:build !race

package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// The hot paths allocate nothing per packet. The race
// detector allocates, hence the build tag.

func checkAllocs(t *testing.T, name string, f func() error) {
	t.Helper()
	var err error
	n := testing.AllocsPerRun(1000, func() { err = f() })
	if err != nil || n != 0 {
		t.Errorf("%s: got %v allocs/op, err %v; want 0, nil", name, n, err)
	}
}

func TestDecodeAllocs(t *testing.T) {
	publish := unhex(t, "32 0b 0005 612f622f63 0001 6869") // QoS 1, "a/b/c", id 1, "hi"
	puback := unhex(t, "40 02 0001")
	pubrel := unhex(t, "62 02 0001")
	connect := unhex(t, "10 22 0004 4d515454 04 ee 003c 0001 61 0003 612f62 0002 6869 0004 75736572 0004 00ff0102")
	subscribe := unhex(t, "82 19 000a 0001 61 00 0003 612f2b 01 0001 23 02 0006 245359532f23 00")
	unsubscribe := unhex(t, "a2 11 0002 0001 23 0003 2b2f2b 0005 612f232f62")
	suback := unhex(t, "90 06 0001 00 01 02 80")
	pingreq := unhex(t, "c0 00")
	connack := unhex(t, "20 02 01 00")
	var (
		p   codec.Publish
		a   codec.Ack
		c   codec.Connect
		s   codec.Subscribe
		u   codec.Unsubscribe
		sa  codec.Suback
		ca  codec.Connack
		one = func(_ int, err error) error { return err }
	)
	// Grow the reused slices once, as a connection's first SUBSCRIBE does.
	_, _ = s.Decode(subscribe)
	_, _ = u.Decode(unsubscribe)
	checkAllocs(t, "Frame", func() error { return one(codec.Frame(publish, 1024)) })
	checkAllocs(t, "Publish.Decode", func() error { return one(p.Decode(publish)) })
	checkAllocs(t, "Ack.Decode PUBACK", func() error { return one(a.Decode(puback)) })
	checkAllocs(t, "Ack.Decode PUBREL", func() error { return one(a.Decode(pubrel)) })
	checkAllocs(t, "DecodeEmpty PINGREQ", func() error { return one(codec.DecodeEmpty(pingreq, codec.TypePingreq)) })
	checkAllocs(t, "Connect.Decode", func() error { return one(c.Decode(connect)) })
	checkAllocs(t, "Subscribe.Decode reused", func() error { return one(s.Decode(subscribe)) })
	checkAllocs(t, "Unsubscribe.Decode reused", func() error { return one(u.Decode(unsubscribe)) })
	checkAllocs(t, "Suback.Decode", func() error { return one(sa.Decode(suback)) })
	checkAllocs(t, "Connack.Decode", func() error { return one(ca.Decode(connack)) })
}

func TestAppendAllocs(t *testing.T) {
	dst := make([]byte, 0, 512)
	p := codec.Publish{QoS: 1, PacketID: 1, TopicName: []byte("a/b/c"), Payload: make([]byte, 256)}
	codes := []byte{0, 1, 2, codec.SubackFailure}
	for _, tc := range []struct {
		name string
		f    func() []byte
	}{
		{"AppendPublish", func() []byte { return codec.AppendPublish(dst[:0], &p) }},
		{"AppendPuback", func() []byte { return codec.AppendPuback(dst[:0], 1) }},
		{"AppendPubrec", func() []byte { return codec.AppendPubrec(dst[:0], 1) }},
		{"AppendPubrel", func() []byte { return codec.AppendPubrel(dst[:0], 1) }},
		{"AppendPubcomp", func() []byte { return codec.AppendPubcomp(dst[:0], 1) }},
		{"AppendUnsuback", func() []byte { return codec.AppendUnsuback(dst[:0], 1) }},
		{"AppendPingresp", func() []byte { return codec.AppendPingresp(dst[:0]) }},
		{"AppendPingreq", func() []byte { return codec.AppendPingreq(dst[:0]) }},
		{"AppendDisconnect", func() []byte { return codec.AppendDisconnect(dst[:0]) }},
		{"AppendConnack", func() []byte { return codec.AppendConnack(dst[:0], true, codec.Accepted) }},
		{"AppendSuback", func() []byte { return codec.AppendSuback(dst[:0], 1, codes) }},
	} {
		var out []byte
		n := testing.AllocsPerRun(1000, func() { out = tc.f() })
		if n != 0 || len(out) == 0 {
			t.Errorf("%s: got %v allocs/op, %d bytes; want 0 allocs/op", tc.name, n, len(out))
		}
	}
}

func TestTopicAllocs(t *testing.T) {
	filter, topic := []byte("sport/+/player1/#"), []byte("sport/tennis/player1/score/wimbledon")
	var ok bool
	n := testing.AllocsPerRun(1000, func() {
		ok = codec.MatchTopic(filter, topic) && codec.ValidTopicFilter(filter) &&
			codec.ValidTopicName(topic) && codec.MatchTopic("sport/#", "sport")
	})
	if n != 0 || !ok {
		t.Fatalf("topic functions: got %v allocs/op, result %v; want 0, true", n, ok)
	}
}
