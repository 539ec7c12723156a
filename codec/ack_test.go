package codec_test

import (
	"bytes"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var ackCases = []decodeCase{
	{"valid PUBACK", "40 02 0001", nil, ""},
	{"valid PUBREC", "50 02 0102", nil, ""},
	{"valid PUBREL", "62 02 ffff", nil, ""},
	{"valid PUBCOMP", "70 02 0001", nil, ""},
	{"valid UNSUBACK", "b0 02 0001", nil, ""},
	{"valid PUBACK packet identifier 0 is the broker's to ignore", "40 02 0000", nil, ""},

	{"MQTT-2.2.2-2 PUBACK flags 0010 (MQTT-2.2.2-1)", "42 02 0001", malformed, "MQTT-2.2.2-2"},
	{"MQTT-2.2.2-2 PUBREC flags 0001", "51 02 0001", malformed, "MQTT-2.2.2-2"},
	{"MQTT-2.2.2-2 PUBCOMP flags 1000", "78 02 0001", malformed, "MQTT-2.2.2-2"},
	{"MQTT-2.2.2-2 UNSUBACK flags 0010", "b2 02 0001", malformed, "MQTT-2.2.2-2"},
	{"MQTT-3.6.1-1 PUBREL flags 0000", "60 02 0001", malformed, "MQTT-3.6.1-1"},
	{"MQTT-3.6.1-1 PUBREL flags 0011", "63 02 0001", malformed, "MQTT-3.6.1-1"},
	{"MQTT-3.6.1-1 PUBREL flags 1010", "6a 02 0001", malformed, "MQTT-3.6.1-1"},
	{"MQTT-2.2.3 PUBACK remaining length 0", "40 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 PUBACK remaining length 1", "40 01 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 PUBREC remaining length 3", "50 03 0001 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 PUBREL remaining length 4 (MQTT 5 reason code)", "62 04 0001 00 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 remaining length of 5 bytes", "40 8280808000", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.1 reserved type 0", "00 02 0001", malformed, "MQTT-2.2.1"},
	{"not an acknowledgement: PUBLISH", "30 05 0003 612f62", malformed, ""},
}

func TestDecodeAck(t *testing.T) {
	runDecodeCases(t, ackCases, func(b []byte) (int, error) {
		var p codec.Ack
		return p.Decode(b)
	})
}

func TestAppendAcks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		append func([]byte, uint16) []byte
		typ    codec.Type
		want   string
	}{
		{"PUBACK", codec.AppendPuback, codec.TypePuback, "40 02 1234"},
		{"PUBREC", codec.AppendPubrec, codec.TypePubrec, "50 02 1234"},
		{"MQTT-3.6.1-1 PUBREL", codec.AppendPubrel, codec.TypePubrel, "62 02 1234"},
		{"PUBCOMP", codec.AppendPubcomp, codec.TypePubcomp, "70 02 1234"},
		{"UNSUBACK", codec.AppendUnsuback, codec.TypeUnsuback, "b0 02 1234"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.append([]byte{0xaa}, 0x1234)
			want := unhex(t, "aa "+tc.want)
			if !bytes.Equal(got, want) {
				t.Fatalf("got % x, want % x", got, want)
			}
			var p codec.Ack
			if n, err := p.Decode(got[1:]); n != 4 || err != nil || p.Type != tc.typ || p.PacketID != 0x1234 {
				t.Fatalf("decode: got %d, %v, %v %#x; want 4, nil, %v 0x1234", n, err, p.Type, p.PacketID, tc.typ)
			}
			if again := p.Append(nil); !bytes.Equal(again, want[1:]) {
				t.Fatalf("Ack.Append: got % x, want % x", again, want[1:])
			}
		})
	}
}
