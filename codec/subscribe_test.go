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
	want := []codec.Subscription{{[]byte("a"), 0}, {[]byte("a/+"), 1}, {[]byte("#"), 2}, {[]byte("$SYS/#"), 0}}
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
