package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		name, frame string
		decode      func([]byte) (int, error)
		want        string
	}{
		{"reserved connect flag", "10 0d 0004 4d515454 04 03 003c 0001 61", decodeConnect,
			"codec: CONNECT connect flags at byte 9: reserved bit is 1, want 0 [MQTT-3.1.2-3]"},
		{"wildcard in topic", "30 10 000e 73656e736f72732f2b2f74656d70", decodePublish,
			`codec: PUBLISH topic name at byte 2: wildcard '+' in "sensors/+/temp" [MQTT-3.3.2-2]`},
		{"PUBREL flags", "60 02 0001", decodeAck,
			"codec: PUBREL fixed header flags at byte 0: flags are 0000, want 0010 [MQTT-3.6.1-1]"},
		{"trailing bytes", "c0 01 00", func(b []byte) (int, error) { return codec.DecodeEmpty(b, codec.TypePingreq) },
			"codec: PINGREQ remaining length at byte 1: 1, want 0 [MQTT-2.2.3]"},
		{"bad UTF-8 offset", "82 0d 0001 0003 612f62 01 0002 61ff 00", decodeSubscribe,
			`codec: SUBSCRIBE topic filter at byte 10: ill-formed UTF-8 at string byte 1 in "a\xff" [MQTT-1.5.3-1]`},
		{"5-byte remaining length", "30 8080808001", decodePublish,
			"codec: PUBLISH remaining length at byte 1: continuation bit set in byte 4, want at most 4 bytes [MQTT-2.2.3]"},
		{"reserved type", "f0 00", decodeAck,
			"codec: AUTH packet type at byte 0: reserved type 15, want 1 to 14 [MQTT-2.2.1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.decode(unhex(t, tc.frame))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

// TestErrorQuoteCut checks that client text is quoted and cut to 64 bytes.
func TestErrorQuoteCut(t *testing.T) {
	topic := strings.Repeat("a", 100) + "/+"
	frame := codec.AppendPublish(nil, &codec.Publish{TopicName: []byte(topic)})
	var p codec.Publish
	_, err := p.Decode(frame)
	want := `wildcard '+' in "` + strings.Repeat("a", 64) + `"...`
	var e *codec.Error
	if !errors.As(err, &e) || e.Detail != want {
		t.Fatalf("got %v, want detail %s", err, want)
	}
}

func TestErrorUnwrap(t *testing.T) {
	e := &codec.Error{Type: codec.TypeConnect, Err: codec.ErrMalformed}
	if !errors.Is(e, codec.ErrMalformed) || errors.Is(e, codec.ErrProtocol) {
		t.Fatalf("got Is(ErrMalformed) %v, Is(ErrProtocol) %v; want true, false",
			errors.Is(e, codec.ErrMalformed), errors.Is(e, codec.ErrProtocol))
	}
	if !errors.Is(codec.ErrTooLarge, codec.ErrProtocol) {
		t.Fatalf("got ErrTooLarge not ErrProtocol, want it to wrap ErrProtocol")
	}
}

func decodeConnect(b []byte) (int, error)   { var p codec.Connect; return p.Decode(b) }
func decodePublish(b []byte) (int, error)   { var p codec.Publish; return p.Decode(b) }
func decodeAck(b []byte) (int, error)       { var p codec.Ack; return p.Decode(b) }
func decodeSubscribe(b []byte) (int, error) { var p codec.Subscribe; return p.Decode(b) }
