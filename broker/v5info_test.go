package broker

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// TestClientDisconnectCode: the reason code of a client's 5.0 DISCONNECT
// is the byte after the remaining length, 0x00 when there is none
// [MQTT5-3.14.2.1]; no input makes it panic or read past its end.
func TestClientDisconnectCode(t *testing.T) {
	cases := []struct {
		name, frame string
		want        codec.ReasonCode
	}{
		{"MQTT5-3.14.2.1 no reason code means 0x00", "e0 00", 0x00},
		{"reason code alone", "e0 01 04", 0x04},
		{"reason code and empty properties", "e0 02 8e 00", 0x8e},
		{"reason code and a reason string", "e0 07 80 05 1f 0002 6869", 0x80},
		{"two-byte remaining length", "e0 8001 04" + hexRepeat("00", 127), 0x04},
		{"cut inside the remaining length", "e0 80", 0x00},
		{"type byte only", "e0", 0x00},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := clientDisconnectCode(unhex(t, tc.frame))
			if want := (session.DisconnectCode{By: session.SentByClient, Code: tc.want}); got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func hexRepeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}
