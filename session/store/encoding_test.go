package store

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/glassmq/glassmq/session"
)

// TestEncodingVersion2 round-trips what version 2 added: the user name and
// MQTT 5.0 subscription options of a record, the expiry and properties of a
// message.
func TestEncodingVersion2(t *testing.T) {
	rec := &session.Record{ClientID: "c", CreateTime: 1, ConnectTime: 2, DisconnectTime: 3, Expiry: 4, Username: "alice",
		Subscriptions: []session.Subscription{
			{TopicFilter: "a/+", QoS: 1},
			{TopicFilter: "b/#", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: 268435455},
		}}
	got, err := decodeRecord("c", encodeRecord(nil, rec))
	if err != nil || !reflect.DeepEqual(&got, rec) {
		t.Fatalf("record: got %+v, %v; want %+v", got, err, rec)
	}
	m := session.NewMessageProps([]byte("t/1"), []byte("payload"), []byte{0x01, 0x01, 0x03, 0x00, 0x01, 'x'}, 1, true, 1234567)
	sm, err := decodeMessage(encodeMessage(nil, m, 1, true, true, 77))
	if err != nil || !reflect.DeepEqual(sm.Msg, m) || sm.QoS != 1 || !sm.Retain || !sm.Released || sm.PacketID != 77 {
		t.Fatalf("message: got %+v %+v, %v; want %+v", sm, sm.Msg, err, m)
	}
	for cut := range len(encodeMessage(nil, m, 1, false, false, 0)) - len("payload") {
		if _, err := decodeMessage(encodeMessage(nil, m, 1, false, false, 0)[:cut]); err == nil {
			t.Fatalf("message cut at %d decoded without error", cut)
		}
	}
}

// TestEncodingVersion1 reads records and messages as glassmq wrote them
// before version 2.
func TestEncodingVersion1(t *testing.T) {
	b := []byte{1}
	for _, v := range []int64{10, 20, 30, 7200} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, 3)
	b = append(b, "a/#"...)
	b = append(b, 1)
	got, err := decodeRecord("old", b)
	want := session.Record{ClientID: "old", CreateTime: 10, ConnectTime: 20, DisconnectTime: 30, Expiry: 7200,
		Subscriptions: []session.Subscription{{TopicFilter: "a/#", QoS: 1}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("version 1 record: got %+v, %v; want %+v", got, err, want)
	}
	mb := []byte{1, 2, flagRetain, 0, 9, 0, 1, 't', 'h', 'i'}
	sm, err := decodeMessage(mb)
	if err != nil || string(sm.Msg.Topic) != "t" || string(sm.Msg.Payload) != "hi" || sm.QoS != 2 || sm.PacketID != 9 ||
		!sm.Retain || sm.Msg.Props != nil || sm.Msg.Expires != 0 {
		t.Fatalf("version 1 message: got %+v %+v, %v", sm, sm.Msg, err)
	}
}
