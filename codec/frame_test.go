package codec_test

import (
	"errors"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var frameCases = []struct {
	name, frame string // name starts with the rule; frame is hex, one group per field
	maxSize     int
	n           int    // wanted size of the first packet; 0: need more bytes
	err         error  // wanted with errors.Is
	rule        string // wanted (*codec.Error).Rule
}{
	{"empty buffer", "", 0, 0, nil, ""},
	{"first byte only", "c0", 0, 0, nil, ""},
	{"PINGREQ", "c0 00", 0, 2, nil, ""},
	{"PINGREQ then more", "c0 00 d0 00", 0, 2, nil, ""},
	{"PUBLISH incomplete", "30 07 0003 612f62", 0, 0, nil, ""},
	{"PUBLISH whole", "30 07 0003 612f62 6869", 0, 9, nil, ""},
	{"remaining length cut after 1 byte", "30 80", 0, 0, nil, ""},
	{"remaining length cut after 3 bytes", "30 ffffff", 0, 0, nil, ""},
	{"remaining length 127", "30 7f", 0, 0, nil, ""},
	{"remaining length 128, 2 bytes", "30 8001", 0, 0, nil, ""},
	{"remaining length protocol maximum waits for the rest", "30 ffffff7f", 0, 0, nil, ""},
	{"non-minimal remaining length 0", "c0 8000", 0, 3, nil, ""},
	{"maxSize fits exactly", "30 07 0003 612f62 6869", 9, 9, nil, ""},
	{"maxSize exceeded by one", "30 07 0003 612f62 6869", 8, 0, codec.ErrTooLarge, ""},
	{"maxSize exceeded, known from the fixed header alone", "30 ffffff7f", 1 << 20, 0, codec.ErrTooLarge, ""},
	{"maxSize negative means protocol maximum", "c0 00", -1, 2, nil, ""},

	{"MQTT-2.2.3 remaining length of 5 bytes", "30 ffffffff 7f", 0, 0, malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 remaining length of 5 bytes, known from its fourth", "30 80808080", 0, 0, malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.1 reserved type 0", "00 00", 0, 0, malformed, "MQTT-2.2.1"},
	{"MQTT-2.2.1 reserved type 0, known from its first byte", "0f", 0, 0, malformed, "MQTT-2.2.1"},
	{"MQTT-2.2.1 reserved type 15", "f0 00", 0, 0, malformed, "MQTT-2.2.1"},
}

func TestFrame(t *testing.T) {
	for _, tc := range frameCases {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.frame)
			n, err := codec.Frame(b, tc.maxSize)
			if n != tc.n {
				t.Fatalf("got n %d, want %d (err %v)", n, tc.n, err)
			}
			checkErr(t, err, tc.err, tc.rule)
		})
	}
}

func TestFrameTooLargeIsProtocol(t *testing.T) {
	_, err := codec.Frame(unhex(t, "30 ffffff7f"), 1024)
	if !errors.Is(err, codec.ErrProtocol) || errors.Is(err, codec.ErrMalformed) {
		t.Fatalf("got %v, want errors.Is ErrProtocol and not ErrMalformed", err)
	}
	const want = "codec: PUBLISH remaining length at byte 1: packet is 268435460 bytes, want at most 1024"
	if err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
}

func TestPacketType(t *testing.T) {
	for b := range 256 {
		if got, want := codec.PacketType([]byte{byte(b)}), codec.Type(b>>4); got != want {
			t.Fatalf("PacketType(%#x): got %v, want %v", b, got, want)
		}
	}
	if got := codec.TypePubrel.String(); got != "PUBREL" {
		t.Fatalf("got %q, want PUBREL", got)
	}
}
