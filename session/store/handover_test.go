package store

import (
	"errors"
	"reflect"
	"testing"

	"github.com/glassmq/glassmq/session"
)

// TestSessionHandoverRoundTrip: a session with subscriptions carrying 5.0
// options, a queued message, an in-flight and a released one, and inbound
// QoS 2 IDs decodes to what was encoded; every cut of the frame is an
// error wrapping ErrHandover, never a panic.
func TestSessionHandoverRoundTrip(t *testing.T) {
	in := session.Restored{
		Record: session.Record{ClientID: "GID_test@@@device 1", CreateTime: 1, ConnectTime: 2, DisconnectTime: 3,
			Expiry: 3600, Username: "u", Subscriptions: []session.Subscription{
				{TopicFilter: "a/+", QoS: 1}, {TopicFilter: "b/#", QoS: 2, NoLocal: true, RetainHandling: 2, ID: 7}}},
		Messages: []session.StoredMessage{
			{Seq: 4, Msg: session.NewMessage([]byte("a/x"), []byte("in flight"), 1, false), QoS: 1, PacketID: 9},
			{Seq: 5, Msg: session.NewMessage([]byte("b/y"), []byte("released"), 2, false), QoS: 2, PacketID: 10, Released: true},
			{Seq: 6, Msg: session.NewMessageProps([]byte("a/z"), []byte("queued"), []byte{0x01, 0x01}, 1, true, 99), QoS: 1, Retain: true},
		},
		Rel: []uint16{3, 300},
	}
	b := EncodeSession(nil, &in)
	out, err := DecodeSession(b)
	if err != nil {
		t.Fatalf("DecodeSession: %v", err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip:\ngot  %+v\nwant %+v", out, in)
	}
	for cut := 0; cut < len(b); cut++ {
		if _, err := DecodeSession(b[:cut]); !errors.Is(err, ErrHandover) {
			t.Fatalf("cut at %d of %d: got %v, want ErrHandover", cut, len(b), err)
		}
	}
	if _, err := DecodeSession(append(b, 0)); !errors.Is(err, ErrHandover) {
		t.Fatalf("trailing byte: got %v, want ErrHandover", err)
	}
}
