package codec_test

import (
	"bytes"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var subackCases = []decodeCase{
	{"valid one code", "90 03 0001 00", nil, ""},
	{"valid every code", "90 06 0001 00 01 02 80", nil, ""},
	{"MQTT-2.2.2-2 flags 0010", "92 03 0001 00", malformed, "MQTT-2.2.2-2"},
	{"MQTT-3.9.3 no return code", "90 02 0001", protocol, "MQTT-3.9.3"},
	{"MQTT-3.9.3-2 reserved return code 0x03", "90 04 0001 00 03", protocol, "MQTT-3.9.3-2"},
	{"MQTT-3.9.3-2 reserved return code 0x81", "90 03 0001 81", protocol, "MQTT-3.9.3-2"},
	{"MQTT-2.2.3 packet identifier cut", "90 01 00", malformed, "MQTT-2.2.3"},
}

func TestDecodeSuback(t *testing.T) {
	runDecodeCases(t, subackCases, func(b []byte) (int, error) {
		var p codec.Suback
		return p.Decode(b)
	})
}

func TestAppendSuback(t *testing.T) {
	codes := []byte{0, 1, 2, codec.SubackFailure}
	got := codec.AppendSuback(nil, 0x0102, codes)
	want := unhex(t, "90 06 0102 00 01 02 80")
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
	var p codec.Suback
	if n, err := p.Decode(got); n != len(got) || err != nil || p.PacketID != 0x0102 || !bytes.Equal(p.ReturnCodes, codes) {
		t.Fatalf("decode: got %d, %v, %+v; want %d, nil, id 0x0102 codes % x", n, err, p, len(got), codes)
	}
}
