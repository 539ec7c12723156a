package codec_test

import (
	"bytes"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var connackCases = []decodeCase{
	{"valid accepted", "20 02 00 00", nil, ""},
	{"valid accepted session present", "20 02 01 00", nil, ""},
	{"valid refused not authorized", "20 02 00 05", nil, ""},
	{"MQTT-2.2.2-2 flags 0001", "21 02 00 00", malformed, "MQTT-2.2.2-2"},
	{"MQTT-2.2.3 remaining length 3", "20 03 00 00 00", malformed, "MQTT-2.2.3"},
	{"MQTT-3.2.2.1 reserved acknowledge flag bits", "20 02 02 00", malformed, "MQTT-3.2.2.1"},
	{"MQTT-3.2.2.3 reserved return code 6", "20 02 00 06", protocol, "MQTT-3.2.2.3"},
	{"MQTT-3.2.2-4 session present with a refusal", "20 02 01 01", protocol, "MQTT-3.2.2-4"},
}

func TestDecodeConnack(t *testing.T) {
	runDecodeCases(t, connackCases, func(b []byte) (int, error) {
		var p codec.Connack
		return p.Decode(b)
	})
}

func TestAppendConnack(t *testing.T) {
	for _, tc := range []struct {
		present bool
		code    byte
		want    string
	}{
		{false, codec.Accepted, "20 02 00 00"},
		{true, codec.Accepted, "20 02 01 00"},
		{false, codec.RefusedProtocolVersion, "20 02 00 01"},
		{true, codec.RefusedIdentifierRejected, "20 02 00 02"}, // [MQTT-3.2.2-4] session present cleared
	} {
		if got := codec.AppendConnack(nil, tc.present, tc.code); !bytes.Equal(got, unhex(t, tc.want)) {
			t.Errorf("AppendConnack(%v, %d): got % x, want %s", tc.present, tc.code, got, tc.want)
		}
	}
}
