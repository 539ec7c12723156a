package codec_test

import (
	"bytes"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var subscribeCases = []decodeCase{
	{"valid one filter", "82 08 0001 0003 612f62 01", nil, ""},
	{"valid four filters", "82 19 000a 0001 61 00 0003 612f2b 01 0001 23 02 0006 245359532f23 00", nil, ""},
	{"MQTT-3.8.3-2 wildcard filters are supported", "82 0a 0001 0005 2b2f612f23 02", nil, ""},
	{"MQTT-4.7.1-2 a/#/b is the broker's to refuse with SUBACK 0x80", "82 0a 0001 0005 612f232f62 00", nil, ""},
	{"MQTT-4.7.1-3 sport+ is the broker's to refuse with SUBACK 0x80", "82 0b 0001 0006 73706f72742b 00", nil, ""},

	{"MQTT-3.8.1-1 flags 0000", "80 08 0001 0003 612f62 01", malformed, "MQTT-3.8.1-1"},
	{"MQTT-3.8.1-1 flags 0011 (MQTT-2.2.2-2)", "83 08 0001 0003 612f62 01", malformed, "MQTT-3.8.1-1"},
	{"MQTT-3.8.1-1 flags 1010", "8a 08 0001 0003 612f62 01", malformed, "MQTT-3.8.1-1"},
	{"MQTT-2.3.1-1 packet identifier 0", "82 08 0000 0003 612f62 01", protocol, "MQTT-2.3.1-1"},
	{"MQTT-3.8.3-3 no topic filter", "82 02 0001", protocol, "MQTT-3.8.3-3"},
	{"MQTT-3.8.3-4 requested QoS 3", "82 08 0001 0003 612f62 03", malformed, "MQTT-3.8.3-4"},
	{"MQTT-3.8.3-4 reserved bits in requested QoS", "82 08 0001 0003 612f62 41", malformed, "MQTT-3.8.3-4"},
	{"MQTT-3.8.3-4 second filter's QoS 0x80", "82 0a 0001 0001 61 00 0001 62 80", malformed, "MQTT-3.8.3-4"},
	{"MQTT-4.7.3-1 empty topic filter", "82 05 0001 0000 00", protocol, "MQTT-4.7.3-1"},
	{"MQTT-4.7.3-2 topic filter U+0000", "82 08 0001 0003 610023 00", malformed, "MQTT-4.7.3-2"},
	{"MQTT-1.5.3-1 topic filter ill-formed UTF-8 (MQTT-3.8.3-1)", "82 07 0001 0002 2bfe 00", malformed, "MQTT-1.5.3-1"},
	{"MQTT-2.2.3 requested QoS missing", "82 07 0001 0003 612f62", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 topic filter runs past the end", "82 08 0001 0009 612f62 01", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 topic filter length cut", "82 09 0001 0003 612f62 01 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 packet identifier cut", "82 01 00", malformed, "MQTT-2.2.3"},
	{"MQTT-2.2.3 empty SUBSCRIBE", "82 00", malformed, "MQTT-2.2.3"},
}

func TestDecodeSubscribe(t *testing.T) {
	runDecodeCases(t, subscribeCases, func(b []byte) (int, error) {
		var p codec.Subscribe
		return p.Decode(b)
	})
}

func TestSubscribeRoundTrip(t *testing.T) {
	b := unhex(t, "82 19 000a 0001 61 00 0003 612f2b 01 0001 23 02 0006 245359532f23 00")
	p := codec.Subscribe{Filters: []codec.Subscription{{TopicFilter: []byte("stale"), QoS: 2}}}
	if _, err := p.Decode(b); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	want := []codec.Subscription{{TopicFilter: []byte("a")}, {TopicFilter: []byte("a/+"), QoS: 1}, {TopicFilter: []byte("#"), QoS: 2}, {TopicFilter: []byte("$SYS/#")}}
	if p.PacketID != 10 || len(p.Filters) != len(want) {
		t.Fatalf("got id %d and %d filters, want 10 and %d", p.PacketID, len(p.Filters), len(want))
	}
	for i := range want {
		if !bytes.Equal(p.Filters[i].TopicFilter, want[i].TopicFilter) || p.Filters[i].QoS != want[i].QoS {
			t.Fatalf("filter %d: got %q QoS %d, want %q QoS %d", i, p.Filters[i].TopicFilter, p.Filters[i].QoS, want[i].TopicFilter, want[i].QoS)
		}
	}
	if got := codec.AppendSubscribe(nil, p.PacketID, p.Filters); !bytes.Equal(got, b) {
		t.Fatalf("AppendSubscribe: got % x, want % x", got, b)
	}
}
