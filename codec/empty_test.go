package codec_test

import (
	"bytes"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var emptyCases = []decodeCase{
	{"valid PINGREQ", "c0 00", nil, ""},
	{"valid PINGRESP", "d0 00", nil, ""},
	{"valid DISCONNECT", "e0 00", nil, ""},
	{"MQTT-2.2.2-2 PINGREQ flags 0001 [MQTT-3.12]", "c1 00", malformed, "MQTT-2.2.2-2"},
	{"MQTT-2.2.2-2 PINGRESP flags 0010 [MQTT-3.13]", "d2 00", malformed, "MQTT-2.2.2-2"},
	{"MQTT-2.2.2-2 DISCONNECT flags 1000 [MQTT-3.14]", "e8 00", malformed, "MQTT-2.2.2-2"},
	{"MQTT-2.2.3 PINGREQ remaining length 1", "c0 01 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 DISCONNECT remaining length 2 (MQTT 5 reason)", "e0 02 00 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 PINGREQ remaining length of 5 bytes", "c0 8080808000", malformed, "MQTT-2.2.3"},
}

func TestDecodeEmpty(t *testing.T) {
	runDecodeCases(t, emptyCases, func(b []byte) (int, error) {
		if len(b) == 0 {
			return codec.DecodeEmpty(b, codec.TypePingreq)
		}
		return codec.DecodeEmpty(b, codec.PacketType(b))
	})
}

func TestDecodeEmptyWrongType(t *testing.T) {
	for _, tc := range []struct {
		frame string
		typ   codec.Type
	}{
		{"c0 00", codec.TypeDisconnect},
		{"40 02 0001", codec.TypePuback},
		{"d0 00", codec.TypePingreq},
	} {
		n, err := codec.DecodeEmpty(unhex(t, tc.frame), tc.typ)
		if n != 0 {
			t.Fatalf("%s as %v: got n %d, want 0", tc.frame, tc.typ, n)
		}
		checkErr(t, err, malformed, "")
	}
}

func TestAppendEmpty(t *testing.T) {
	for _, tc := range []struct {
		got  []byte
		want string
	}{
		{codec.AppendPingreq(nil), "c0 00"},
		{codec.AppendPingresp(nil), "d0 00"},
		{codec.AppendDisconnect(nil), "e0 00"},
	} {
		if !bytes.Equal(tc.got, unhex(t, tc.want)) {
			t.Errorf("got % x, want %s", tc.got, tc.want)
		}
	}
}
