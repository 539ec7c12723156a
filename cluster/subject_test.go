package cluster

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/nats-io/nats-server/v2/server"
)

var tokenCases = []struct{ in, want string }{
	{"", "="},
	{"a", "a"},
	{"device-1", "device-1"},
	{"GID_test@@@device-1", "GID_5Ftest_40_40_40device-1"},
	{"clean up", "clean_20up"},
	{"a.b", "a_2Eb"},
	{"*", "_2A"},
	{">", "_3E"},
	{"$SYS", "_24SYS"},
	{"=", "_3D"},
	{"_", "_5F"},
	{"é", "_C3_A9"},
	{"温度", "_E6_B8_A9_E5_BA_A6"},
	{"tab\there", "tab_09here"},
}

func TestEncodeToken(t *testing.T) {
	for _, tc := range tokenCases {
		got := EncodeToken(tc.in)
		if got != tc.want {
			t.Errorf("EncodeToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := DecodeToken(got)
		if err != nil || back != tc.in {
			t.Errorf("DecodeToken(%q) = %q, %v; want %q, nil", got, back, err, tc.in)
		}
		if !validToken(got) {
			t.Errorf("EncodeToken(%q) = %q is not a valid subject token and key", tc.in, got)
		}
	}
}

// validToken reports whether t is a literal NATS subject token and a valid
// JetStream key-value key.
func validToken(t string) bool {
	if t == "" || !server.IsValidLiteralSubject("x."+t) {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(plain(c) || c == '_' || c == '=') {
			return false
		}
	}
	return true
}

func TestDecodeTokenRejects(t *testing.T) {
	for _, bad := range []string{"", "a.b", "a b", "_", "_4", "_4g", "_41" /* 'A' needs no escape */, "a=", "==", "_2a", "*", ">"} {
		if got, err := DecodeToken(bad); !errors.Is(err, ErrToken) {
			t.Errorf("DecodeToken(%q) = %q, %v; want ErrToken", bad, got, err)
		}
	}
}

var subjectCases = []struct{ topic, subject string }{
	{"a", "mq.m.a"},
	{"a/b/c", "mq.m.a.b.c"},
	{"/", "mq.m.=.="},
	{"a//b", "mq.m.a.=.b"},
	{"a/", "mq.m.a.="},
	{"clean up/room 1", "mq.m.clean_20up.room_201"},
	{"v1.2/x", "mq.m.v1_2E2.x"},
	{"a/*/>", "mq.m.a._2A._3E"},
	{"dev/$state", "mq.m.dev._24state"},
	{"$SYS/broker/uptime", "mq.s._24SYS.broker.uptime"},
	{"capteur/température", "mq.m.capteur.temp_C3_A9rature"},
}

func TestTopicSubject(t *testing.T) {
	for _, tc := range subjectCases {
		got := TopicSubject(tc.topic)
		if got != tc.subject {
			t.Errorf("TopicSubject(%q) = %q, want %q", tc.topic, got, tc.subject)
		}
		if !server.IsValidLiteralSubject(got) {
			t.Errorf("TopicSubject(%q) = %q is not a literal NATS subject", tc.topic, got)
		}
		back, err := SubjectTopic(got)
		if err != nil || back != tc.topic {
			t.Errorf("SubjectTopic(%q) = %q, %v; want %q, nil", got, back, err, tc.topic)
		}
	}
	for _, bad := range []string{"x.a", "mq.m", "mq.m.a b", "mq.s.a", "mq.m._24SYS", "mq.m.a..b"} {
		if got, err := SubjectTopic(bad); !errors.Is(err, ErrSubject) {
			t.Errorf("SubjectTopic(%q) = %q, %v; want ErrSubject", bad, got, err)
		}
	}
}

var filterCases = []struct {
	filter   string
	subjects []string
}{
	{"a/b", []string{"mq.m.a.b"}},
	{"+", []string{"mq.m.*"}},
	{"#", []string{"mq.m.>"}},
	{"a/#", []string{"mq.m.a", "mq.m.a.>"}}, // MQTT-4.7.1-2: the parent level too
	{"+/#", []string{"mq.m.*", "mq.m.*.>"}},
	{"a/+/c", []string{"mq.m.a.*.c"}},
	{"+/+", []string{"mq.m.*.*"}},
	{"/+", []string{"mq.m.=.*"}},
	{"a b/+/c.d", []string{"mq.m.a_20b.*.c_2Ed"}},
	{"$SYS/#", []string{"mq.s._24SYS", "mq.s._24SYS.>"}},
	{"$SYS/+/x", []string{"mq.s._24SYS.*.x"}},
}

func TestFilterSubjects(t *testing.T) {
	for _, tc := range filterCases {
		got := FilterSubjects(tc.filter)
		if !slices.Equal(got, tc.subjects) {
			t.Errorf("FilterSubjects(%q) = %q, want %q", tc.filter, got, tc.subjects)
		}
		for _, s := range got {
			if !server.IsValidSubject(s) {
				t.Errorf("FilterSubjects(%q) gives %q, not a valid NATS subject", tc.filter, s)
			}
		}
	}
}

// matchTable: whether MQTT matching and NATS matching of the mapped names
// agree, on the cases where brokers most often go wrong.
var matchTable = []struct {
	filter, topic string
	want          bool
}{
	{"a/#", "a", true},       // MQTT-4.7.1-2
	{"a/#", "a/b/c", true},   // MQTT-4.7.1-2
	{"a/+", "a", false},      // MQTT-4.7.1-3
	{"a/+", "a/", true},      // an empty level is a level
	{"+", "/", false},        // two levels
	{"+/+", "/", true},       // MQTT-4.7.1-3
	{"#", "$SYS/x", false},   // MQTT-4.7.2-1
	{"+/x", "$SYS/x", false}, // MQTT-4.7.2-1
	{"$SYS/#", "$SYS/x", true},
	{"a.b", "a/b", false},
	{"a/*", "a/b", false},
	{"a/*", "a/*", true},
	{"a/>", "a/b/c", false},
	{"a/b c", "a/b c", true},
}

func TestMappedMatching(t *testing.T) {
	for _, tc := range matchTable {
		if got := codec.MatchTopic(tc.filter, tc.topic); got != tc.want {
			t.Fatalf("table is wrong: codec.MatchTopic(%q, %q) = %v", tc.filter, tc.topic, got)
		}
		if got := natsMatches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("NATS matching of %q against %q = %v, want %v (subjects %q, %q)", tc.filter, tc.topic, got, tc.want, FilterSubjects(tc.filter), TopicSubject(tc.topic))
		}
	}
}

// natsMatches reports whether a subscription to the subjects of filter
// receives a message published to the subject of topic, by nats-server's
// own matching.
func natsMatches(filter, topic string) bool {
	subject := TopicSubject(topic)
	for _, f := range FilterSubjects(filter) {
		if server.SubjectMatchesFilter(subject, f) {
			return true
		}
	}
	return false
}

// TestBatch: a batch decodes to the messages encoded, and every
// truncation of it is refused or, cut between two messages, reads the
// messages before the cut and nothing else.
func TestBatch(t *testing.T) {
	b := testBatch(t)
	origin, topic, out, ok := decodeBatch(b)
	if !ok || string(origin) != "node-a@1" || string(topic) != "a/b c" || len(out) != len(testEnvelopes) {
		t.Fatalf("decodeBatch: %q %q, %d messages, ok %v; want node-a@1, a/b c, %d", origin, topic, len(out), ok, len(testEnvelopes))
	}
	for i := range out {
		if !sameEnvelope(&out[i], &testEnvelopes[i]) {
			t.Fatalf("message %d: %+v, want %+v", i, out[i], testEnvelopes[i])
		}
	}
	for n := range len(b) {
		_, _, got, ok := decodeBatch(b[:n])
		if !ok {
			continue
		}
		for i := range got {
			if !sameEnvelope(&got[i], &testEnvelopes[i]) {
				t.Fatalf("the first %d bytes read message %d as %+v", n, i, got[i])
			}
		}
	}
	one := appendBatchHeader(nil, "o", "t")
	rec := len(one)
	one, _ = appendRecord(one, record{seq: 1, qos: 1}, "c", 0, false, 1<<10)
	for _, tc := range []struct {
		name string
		at   int
		b    byte
	}{
		{"version 1", 0, 1},
		{"QoS 3", rec + 1, 3},
		{"unknown flag", rec + 1, 0x10},
		{"same publisher on the first message", rec + 1, flagSameFrom | 1},
	} {
		bad := append([]byte(nil), one...)
		bad[tc.at] = tc.b
		if _, _, _, ok := decodeBatch(bad); ok {
			t.Errorf("%s: accepted % x", tc.name, bad)
		}
	}
	if _, ok := appendRecord(nil, record{seq: 1, payload: make([]byte, 100)}, "c", 0, false, 100); ok {
		t.Error("appendRecord took a message larger than its limit")
	}
}

// TestUvarint: the batch reader's own uvarint reads what binary.Uvarint
// reads and refuses what it refuses: cut short, longer than ten bytes, or
// past 64 bits.
func TestUvarint(t *testing.T) {
	cases := [][]byte{{}, {0}, {0x7f, 9}, {0x80}, {0x80, 1}, {0xff, 0x7f}, {0x80, 0x80, 0x80}}
	for _, v := range []uint64{127, 128, 300, 1 << 21, 1 << 40, 1<<63 + 5, ^uint64(0)} {
		cases = append(cases, binary.AppendUvarint(nil, v), append(binary.AppendUvarint(nil, v), 0xaa))
	}
	cases = append(cases, // 64 bits overflowed in the tenth byte, and eleven bytes
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
		[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00})
	for _, b := range cases {
		want, n := binary.Uvarint(b)
		got, rest, ok := uvarint(b)
		if ok != (n > 0) || ok && (got != want || len(rest) != len(b)-n) {
			t.Errorf("% x: %d, %d left, ok %v; binary.Uvarint: %d, %d read", b, got, len(rest), ok, want, n)
		}
	}
}
