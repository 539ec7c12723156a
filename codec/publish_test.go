package codec_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var publishCases = []decodeCase{
	{"valid QoS 0", "30 09 0005 612f622f63 6869", nil, ""},
	{"valid QoS 1", "32 0b 0005 612f622f63 0001 6869", nil, ""},
	{"valid QoS 2 DUP retain", "3d 09 0003 612f62 ffff 6869", nil, ""},
	{"valid QoS 0 retain, empty payload", "31 05 0003 612f62", nil, ""},
	{"valid QoS 1 empty payload", "32 07 0003 612f62 0007", nil, ""},
	{"valid $ topic is the broker's to judge", "30 0e 000b 24535953 2f62726f6b6572 00", nil, ""},
	{"valid topic /", "30 04 0001 2f 00", nil, ""},
	{"valid payload is binary, not UTF-8", "30 07 0001 61 00ff c0af", nil, ""},
	{"MQTT-1.5.3-3 byte order mark in topic kept", "30 06 0004 efbbbf61", nil, ""},
	{"valid 2-byte remaining length", "32 d001 0003 612f62 0001 " + strings.Repeat("ab", 201), nil, ""},
	{"valid non-minimal remaining length", "30 8500 0003 612f62", nil, ""},

	{"MQTT-3.3.1-4 QoS 3", "36 09 0003 612f62 0001 6869", malformed, "MQTT-3.3.1-4"},
	{"MQTT-3.3.1-4 QoS 3 with DUP and retain", "3f 09 0003 612f62 0001 6869", malformed, "MQTT-3.3.1-4"},
	{"MQTT-3.3.1-2 DUP with QoS 0", "38 07 0003 612f62 6869", malformed, "MQTT-3.3.1-2"},
	{"MQTT-3.3.2-1 topic name missing", "30 00", malformed, "MQTT-3.3.2-1"},
	{"MQTT-3.3.2-2 wildcard + in topic name (MQTT-4.7.1-1)", "30 12 000e 73656e736f72732f2b2f74656d70 6869", protocol, "MQTT-3.3.2-2"},
	{"MQTT-3.3.2-2 wildcard # in topic name", "32 09 0003 612f23 0001 6869", protocol, "MQTT-3.3.2-2"},
	{"MQTT-3.3.2-2 wildcard + inside a level", "30 05 0003 612b62", protocol, "MQTT-3.3.2-2"},
	{"MQTT-4.7.3-1 empty topic name", "30 04 0000 6869", protocol, "MQTT-4.7.3-1"},
	{"MQTT-4.7.3-2 topic name U+0000", "30 07 0003 610062 6869", malformed, "MQTT-4.7.3-2"},
	{"MQTT-1.5.3-1 topic name ill-formed UTF-8 (MQTT-3.3.2-1)", "30 06 0002 61ff 6869", malformed, "MQTT-1.5.3-1"},
	{"MQTT-1.5.3-1 topic name surrogate U+DFFF", "30 05 0003 edbfbf", malformed, "MQTT-1.5.3-1"},
	{"MQTT-2.3.1-1 packet identifier 0 with QoS 1", "32 09 0003 612f62 0000 6869", protocol, "MQTT-2.3.1-1"},
	{"MQTT-2.3.1-1 packet identifier 0 with QoS 2", "34 07 0003 612f62 0000", protocol, "MQTT-2.3.1-1"},
	{"MQTT-2.2.3 topic name runs past the end", "30 04 0005 6162", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 topic length cut", "30 01 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 packet identifier missing with QoS 1", "32 05 0003 612f62", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 packet identifier cut with QoS 2", "34 06 0003 612f62 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 remaining length of 5 bytes", "30 ffffffff7f 0003 612f62", malformed, "MQTT-2.2.3"},
}

func TestDecodePublish(t *testing.T) {
	runDecodeCases(t, publishCases, func(b []byte) (int, error) {
		var p codec.Publish
		return p.Decode(b)
	})
}

func TestPublishRoundTrip(t *testing.T) {
	for _, p := range []codec.Publish{
		{TopicName: []byte("a/b/c"), Payload: []byte("hi")},
		{QoS: 1, PacketID: 1, TopicName: []byte("a"), Payload: []byte{}},
		{Dup: true, QoS: 2, Retain: true, PacketID: 65535, TopicName: []byte("sensors/temp"), Payload: make([]byte, 300)},
		{QoS: 1, PacketID: 7, TopicName: []byte("t"), Payload: make([]byte, 20000)},
		{TopicName: []byte("t"), Payload: make([]byte, 3_000_000)},
	} {
		b := codec.AppendPublish(nil, &p)
		if got, want := len(b), codec.PublishSize(p.QoS, len(p.TopicName), len(p.Payload)); got != want {
			t.Fatalf("PublishSize: got %d, want %d", want, got)
		}
		var q codec.Publish
		n, err := q.Decode(b)
		if err != nil || n != len(b) {
			t.Fatalf("got %d, %v; want %d, nil", n, err, len(b))
		}
		if !q.Equal(&p) {
			t.Fatalf("got %+v, want %+v", q, p)
		}
	}
}

func TestPublishDecodeFields(t *testing.T) {
	b := unhex(t, "3d 09 0003 612f62 ffff 6869")
	var p codec.Publish
	if _, err := p.Decode(b); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	want := codec.Publish{Dup: true, QoS: 2, Retain: true, TopicName: []byte("a/b"), PacketID: 0xffff, Payload: []byte("hi")}
	if !p.Equal(&want) {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	// Views end with their value: appending cannot overwrite the packet.
	if cap(p.TopicName) != len(p.TopicName) {
		t.Fatalf("got topic cap %d, want %d", cap(p.TopicName), len(p.TopicName))
	}
	_ = append(p.TopicName, 'x')
	if b[7] != 0xff {
		t.Fatalf("got packet byte 7 %#x after append to topic, want 0xff", b[7])
	}
}

func TestPublishClone(t *testing.T) {
	b := unhex(t, "32 09 0003 612f62 0001 6869")
	var p codec.Publish
	if _, err := p.Decode(b); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	c := p.Clone()
	clear(b)
	if string(c.TopicName) != "a/b" || string(c.Payload) != "hi" || c.PacketID != 1 || c.QoS != 1 {
		t.Fatalf("got %+v after clearing the buffer, want topic \"a/b\", payload \"hi\", id 1, QoS 1", c)
	}
}

func TestPublishSize(t *testing.T) {
	for _, tc := range []struct {
		qos                  byte
		topic, payload, want int
	}{
		{0, 3, 2, 2 + 2 + 3 + 2},
		{1, 3, 2, 2 + 2 + 3 + 2 + 2},
		{0, 1, 124, 2 + 127},
		{0, 1, 125, 3 + 128},
		{1, 10, 16369, 3 + 16383},
		{1, 10, 16370, 4 + 16384},
		{2, 10, 16371, 4 + 16385},
		{0, 0, codec.MaxRemainingLength - 2, codec.MaxPacketSize},
	} {
		if got := codec.PublishSize(tc.qos, tc.topic, tc.payload); got != tc.want {
			t.Errorf("PublishSize(%d, %d, %d): got %d, want %d", tc.qos, tc.topic, tc.payload, got, tc.want)
		}
	}
}

func TestAppendPublishKeepsDst(t *testing.T) {
	dst := []byte{0xaa}
	got := codec.AppendPublish(dst, &codec.Publish{TopicName: []byte("a"), Payload: []byte("b")})
	want := unhex(t, "aa 30 04 0001 61 62")
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}
