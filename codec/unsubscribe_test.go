package codec_test

import (
	"bytes"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var unsubscribeCases = []decodeCase{
	{"valid one filter", "a2 07 0001 0003 612f62", nil, ""},
	{"valid three filters", "a2 11 0002 0001 23 0003 2b2f2b 0005 612f232f62", nil, ""},
	{"MQTT-3.10.1-1 flags 0000", "a0 07 0001 0003 612f62", malformed, "MQTT-3.10.1-1"},
	{"MQTT-3.10.1-1 flags 0110 (MQTT-2.2.2-2)", "a6 07 0001 0003 612f62", malformed, "MQTT-3.10.1-1"},
	{"MQTT-2.3.1-1 packet identifier 0", "a2 07 0000 0003 612f62", protocol, "MQTT-2.3.1-1"},
	{"MQTT-3.10.3-2 no topic filter", "a2 02 0001", protocol, "MQTT-3.10.3-2"},
	{"MQTT-4.7.3-1 empty topic filter", "a2 07 0001 0001 61 0000", protocol, "MQTT-4.7.3-1"},
	{"MQTT-4.7.3-2 topic filter U+0000", "a2 05 0001 0001 00", malformed, "MQTT-4.7.3-2"},
	{"MQTT-1.5.3-1 topic filter ill-formed UTF-8 (MQTT-3.10.3-1)", "a2 07 0001 0003 eda0bf", malformed, "MQTT-1.5.3-1"},
	{"MQTT-2.2.3 topic filter runs past the end", "a2 07 0001 0004 612f62", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 topic filter length cut", "a2 08 0001 0003 612f62 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 packet identifier cut", "a2 01 01", malformed, "MQTT-2.2.3"},
}

func TestDecodeUnsubscribe(t *testing.T) {
	runDecodeCases(t, unsubscribeCases, func(b []byte) (int, error) {
		var p codec.Unsubscribe
		return p.Decode(b)
	})
}

func TestUnsubscribeRoundTrip(t *testing.T) {
	b := unhex(t, "a2 11 0002 0001 23 0003 2b2f2b 0005 612f232f62")
	p := codec.Unsubscribe{TopicFilters: [][]byte{[]byte("stale")}}
	if _, err := p.Decode(b); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if p.PacketID != 2 || len(p.TopicFilters) != 3 || string(p.TopicFilters[0]) != "#" ||
		string(p.TopicFilters[1]) != "+/+" || string(p.TopicFilters[2]) != "a/#/b" {
		t.Fatalf("got id %d filters %q, want 2 [\"#\" \"+/+\" \"a/#/b\"]", p.PacketID, p.TopicFilters)
	}
	if got := codec.AppendUnsubscribe(nil, p.PacketID, p.TopicFilters); !bytes.Equal(got, b) {
		t.Fatalf("AppendUnsubscribe: got % x, want % x", got, b)
	}
}
