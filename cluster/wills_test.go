package cluster_test

import (
	"bytes"
	"testing"

	"github.com/glassmq/glassmq/cluster"
	"github.com/glassmq/glassmq/session"
)

// TestWillRecord: a will survives the bucket's record byte for byte (topic,
// payload, 5.0 properties, QoS, retain); its delay is the Will Delay
// Interval capped by the session expiry, since the session's end publishes
// the will [MQTT5-3.1.2-8]; its Message Expiry Interval counts from
// publication [MQTT5-3.1.3.2.4]; and no truncation or bit flip of a record
// panics.
func TestWillRecord(t *testing.T) {
	props := []byte{0x03, 0x00, 0x04, 't', 'e', 'x', 't'} // content type "text"
	w := session.NewMessageProps([]byte("dev/1/status"), []byte{0, 1, 0xff}, props, 1, true, 0)
	for _, tc := range []struct {
		name      string
		m         *session.ConnMeta
		wantDelay uint32
		wantExp   int64
	}{
		{"3.1.1 will", nil, 0, 0},
		{"MQTT5-3.1.3-9 delay within the session", &session.ConnMeta{WillDelay: 30, SessionExpiry: 300}, 30, 0},
		{"MQTT5-3.1.2-8 delay cut by the session's end", &session.ConnMeta{WillDelay: 30, SessionExpiry: 10}, 10, 0},
		{"MQTT5-3.1.2-8 session ends with the connection", &session.ConnMeta{WillDelay: 30, SessionExpiry: 0}, 0, 0},
		{"MQTT5-3.1.3.2.4 expiry from publication", &session.ConnMeta{WillExpires: true, WillExpiry: 60}, 0, 1_000 + 60_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, delay, got, err := cluster.WillRecordRoundTrip("node a", w, tc.m, 1_000)
			if err != nil {
				t.Fatal(err)
			}
			if node != "node a" || delay != tc.wantDelay || got.Expires != tc.wantExp {
				t.Fatalf("node %q, delay %d, expires %d; want %q, %d, %d", node, delay, got.Expires, "node a", tc.wantDelay, tc.wantExp)
			}
			if !bytes.Equal(got.Topic, w.Topic) || !bytes.Equal(got.Payload, w.Payload) || !bytes.Equal(got.Props, w.Props) ||
				got.QoS != w.QoS || got.Retain != w.Retain {
				t.Fatalf("will %+v, want %+v", got, w)
			}
		})
	}
	rec := cluster.EncodeWillRecord("n", w, &session.ConnMeta{WillDelay: 5, SessionExpiry: 60})
	for i := range rec {
		if cluster.DecodeWillRecord(rec[:i]) == nil {
			t.Errorf("a record cut to %d of %d bytes decoded", i, len(rec))
		}
		flipped := bytes.Clone(rec)
		flipped[i] ^= 0xff
		_ = cluster.DecodeWillRecord(flipped) // may decode; must not panic
	}
	if err := cluster.DecodeWillRecord(append(bytes.Clone(rec), 0)); err == nil {
		t.Error("a record with a trailing byte decoded")
	}
}
