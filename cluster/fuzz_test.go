package cluster

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/glassmq/glassmq/codec"
	"github.com/nats-io/nats-server/v2/server"
)

// FuzzMapping checks, for any topic and filter: the topic's subject is a
// valid literal subject that maps back to the topic, and the filter's
// subjects match it in NATS exactly when the filter matches the topic in
// MQTT.
func FuzzMapping(f *testing.F) {
	for _, tc := range matchTable {
		f.Add(tc.filter, tc.topic)
	}
	for _, tc := range filterCases {
		for _, s := range subjectCases {
			f.Add(tc.filter, s.topic)
		}
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if codec.ValidTopicName(topic) && utf8.ValidString(topic) {
			subject := TopicSubject(topic)
			if !server.IsValidLiteralSubject(subject) {
				t.Fatalf("TopicSubject(%q) = %q is not a literal subject", topic, subject)
			}
			if back, err := SubjectTopic(subject); err != nil || back != topic {
				t.Fatalf("SubjectTopic(TopicSubject(%q)) = %q, %v", topic, back, err)
			}
		}
		if !codec.ValidTopicFilter(filter) || !codec.ValidTopicName(topic) || strings.HasPrefix(filter, "$share/") {
			return
		}
		if m, n := codec.MatchTopic(filter, topic), natsMatches(filter, topic); m != n {
			t.Fatalf("filter %q, topic %q: MQTT match %v, NATS match %v (%q, %q)", filter, topic, m, n, FilterSubjects(filter), TopicSubject(topic))
		}
	})
}

// FuzzBatch feeds any bytes to the receiving side's decoder as a NATS
// message from another node: it must not panic, and what it accepts must
// survive encoding and decoding again.
func FuzzBatch(f *testing.F) {
	f.Add(testBatch(f))
	f.Add(appendBatchHeader(nil, "node-a@1", "a/b"))
	f.Add([]byte{batchVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		origin, topic, envs, ok := decodeBatch(b)
		if !ok {
			return
		}
		again := appendBatchHeader(nil, string(origin), topic)
		for i := range envs {
			var prev uint64
			same := false
			if i > 0 {
				prev, same = envs[i-1].seq, string(envs[i-1].from) == string(envs[i].from)
			}
			if again, ok = appendRecord(again, recordOf(&envs[i]), string(envs[i].from), prev, same, 1<<30); !ok {
				t.Fatalf("% x: envelope %d does not encode again", b, i)
			}
		}
		_, _, back, ok := decodeBatch(again)
		if !ok || len(back) != len(envs) {
			t.Fatalf("% x: %d envelopes, encoded again % x decodes to %d (ok %v)", b, len(envs), again, len(back), ok)
		}
		for i := range back {
			if !sameEnvelope(&envs[i], &back[i]) {
				t.Fatalf("envelope %d: %+v, after a round trip %+v", i, envs[i], back[i])
			}
		}
	})
}

// testBatch is a batch of three messages of one topic: two publishers,
// every field used.
func testBatch(t testing.TB) []byte {
	t.Helper()
	b := appendBatchHeader(nil, "node-a@1", "a/b c")
	var ok bool
	for i, e := range testEnvelopes {
		var prev uint64
		if i > 0 {
			prev = testEnvelopes[i-1].seq
		}
		if b, ok = appendRecord(b, recordOf(&e), string(e.from), prev, i == 2, 1<<20); !ok {
			t.Fatal("appendRecord refused a small message")
		}
	}
	return b
}

var testEnvelopes = []envelope{
	{origin: []byte("node-a@1"), seq: 1 << 40, qos: 2, retain: true, expires: 1767225600000, from: []byte("GID_test@@@device-1"),
		topic: []byte("a/b c"), props: []byte{0x03, 0, 4, 't', 'e', 'x', 't'}, payload: []byte("hello")},
	{origin: []byte("node-a@1"), seq: 1<<40 + 3, qos: 0, from: []byte("other"), topic: []byte("a/b c"), props: []byte{}, payload: []byte{}},
	{origin: []byte("node-a@1"), seq: 1<<40 + 300, qos: 1, from: []byte("other"), topic: []byte("a/b c"), props: []byte{}, payload: []byte("x")},
}

func recordOf(e *envelope) record {
	return record{seq: e.seq, qos: e.qos, retain: e.retain, expires: e.expires, props: e.props, payload: e.payload}
}

func sameEnvelope(x, y *envelope) bool {
	return string(x.origin) == string(y.origin) && x.seq == y.seq && x.qos == y.qos && x.retain == y.retain && x.expires == y.expires &&
		string(x.from) == string(y.from) && string(x.topic) == string(y.topic) && string(x.props) == string(y.props) && string(x.payload) == string(y.payload)
}

// decodeBatch decodes a whole batch, for tests.
func decodeBatch(b []byte) (origin, topic []byte, out []envelope, ok bool) {
	var br batchReader
	if br.init(b) != nil {
		return nil, nil, nil, false
	}
	for {
		var e envelope
		more, err := br.next(&e)
		if err != nil {
			return nil, nil, nil, false
		}
		if !more {
			return br.origin, br.topic, out, true
		}
		out = append(out, e)
	}
}
