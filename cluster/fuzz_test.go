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
	e := envelope{seq: 7, qos: 1, topic: []byte("a/b"), payload: []byte("x")}
	one := appendEnvelope(nil, &e, "node-a@1", "client")
	f.Add(append([]byte{batchVersion, byte(len(one))}, one...))
	f.Add([]byte{batchVersion})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		envs, ok := decodeBatch(b)
		if !ok {
			return
		}
		again := []byte{batchVersion}
		for i := range envs {
			enc := appendEnvelope(nil, &envs[i], string(envs[i].origin), string(envs[i].from))
			again = appendField(again, enc)
		}
		back, ok := decodeBatch(again)
		if !ok || len(back) != len(envs) {
			t.Fatalf("% x: %d envelopes, encoded again % x decodes to %d (ok %v)", b, len(envs), again, len(back), ok)
		}
		for i := range back {
			x, y := &envs[i], &back[i]
			if string(x.origin) != string(y.origin) || x.seq != y.seq || x.qos != y.qos || x.retain != y.retain || x.expires != y.expires ||
				string(x.from) != string(y.from) || string(x.topic) != string(y.topic) || string(x.props) != string(y.props) || string(x.payload) != string(y.payload) {
				t.Fatalf("envelope %d: %+v, after a round trip %+v", i, *x, *y)
			}
		}
	})
}

// decodeBatch decodes a whole batch, for tests.
func decodeBatch(b []byte) ([]envelope, bool) {
	if len(b) < 1 || b[0] != batchVersion {
		return nil, false
	}
	var out []envelope
	for b = b[1:]; len(b) > 0; {
		env, rest, ok := field(b)
		if !ok {
			return nil, false
		}
		var e envelope
		if e.decode(env) != nil {
			return nil, false
		}
		out = append(out, e)
		b = rest
	}
	return out, true
}
