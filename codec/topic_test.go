package codec_test

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var topicFilterCases = []struct {
	name, filter string // name starts with the rule
	valid        bool
}{
	{"MQTT-4.7.1-2 # alone", "#", true},
	{"MQTT-4.7.1-2 # after a separator", "sport/tennis/player1/#", true},
	{"MQTT-4.7.1-2 # after an empty level", "/#", true},
	{"MQTT-4.7.1-2 # not after a separator", "sport/tennis#", false},
	{"MQTT-4.7.1-2 # not last", "sport/tennis/#/ranking", false},
	{"MQTT-4.7.1-2 ## ", "##", false},
	{"MQTT-4.7.1-2 # then separator", "#/", false},
	{"MQTT-4.7.1-3 + alone", "+", true},
	{"MQTT-4.7.1-3 + first and with #", "+/tennis/#", true},
	{"MQTT-4.7.1-3 + in the middle", "sport/+/player1", true},
	{"MQTT-4.7.1-3 + last", "sport/+", true},
	{"MQTT-4.7.1-3 +/+ and empty levels", "+/+//+", true},
	{"MQTT-4.7.1-3 + inside a level", "sport+", false},
	{"MQTT-4.7.1-3 + before text", "+a/b", false},
	{"MQTT-4.7.1-3 ++", "a/++", false},
	{"MQTT-4.7.3-1 empty", "", false},
	{"MQTT-4.7.3-2 U+0000", "a/\x00", false},
	{"valid plain", "sport/tennis", true},
	{"valid separator only", "/", true},
	{"valid $SYS", "$SYS/#", true},
	{"valid spaces", "a b/c d", true},
}

func TestValidTopicFilter(t *testing.T) {
	for _, tc := range topicFilterCases {
		if got := codec.ValidTopicFilter(tc.filter); got != tc.valid {
			t.Errorf("%s: ValidTopicFilter(%q): got %v, want %v", tc.name, tc.filter, got, tc.valid)
		}
		if got := codec.ValidTopicFilter([]byte(tc.filter)); got != tc.valid {
			t.Errorf("%s: ValidTopicFilter([]byte(%q)): got %v, want %v", tc.name, tc.filter, got, tc.valid)
		}
	}
}

var topicNameCases = []struct {
	name, topic string // name starts with the rule
	valid       bool
}{
	{"valid", "sport/tennis/player1", true},
	{"valid $SYS is the broker's to refuse", "$SYS/broker", true},
	{"valid separators only", "//", true},
	{"MQTT-4.7.1-1 +", "sport/+", false},
	{"MQTT-4.7.1-1 #", "sport/#", false},
	{"MQTT-4.7.1-1 + inside a level", "a+b", false},
	{"MQTT-4.7.3-1 empty", "", false},
	{"MQTT-4.7.3-2 U+0000", "a\x00", false},
}

func TestValidTopicName(t *testing.T) {
	for _, tc := range topicNameCases {
		if got := codec.ValidTopicName(tc.topic); got != tc.valid {
			t.Errorf("%s: ValidTopicName(%q): got %v, want %v", tc.name, tc.topic, got, tc.valid)
		}
		if got := codec.ValidTopicName([]byte(tc.topic)); got != tc.valid {
			t.Errorf("%s: ValidTopicName([]byte(%q)): got %v, want %v", tc.name, tc.topic, got, tc.valid)
		}
	}
}

// matchCases are the examples of the standard's section 4.7 and the cases
// brokers most often get wrong.
var matchCases = []struct {
	name, filter, topic string // name starts with the rule
	match               bool
}{
	{"MQTT-4.7.1-2 # matches the parent level", "sport/tennis/player1/#", "sport/tennis/player1", true},
	{"MQTT-4.7.1-2 # matches one level", "sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"MQTT-4.7.1-2 # matches two levels", "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"MQTT-4.7.1-2 sport/# matches sport", "sport/#", "sport", true},
	{"MQTT-4.7.1-2 # matches everything", "#", "sport/tennis", true},
	{"MQTT-4.7.1-2 # matches an empty last level", "a/#", "a/", true},
	{"MQTT-4.7.1-2 # does not match another parent", "sport/#", "sports", false},
	{"MQTT-4.7.1-3 + matches one level", "sport/tennis/+", "sport/tennis/player1", true},
	{"MQTT-4.7.1-3 + does not match two levels", "sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"MQTT-4.7.1-3 sport/+ does not match sport", "sport/+", "sport", false},
	{"MQTT-4.7.1-3 sport/+ matches sport/", "sport/+", "sport/", true},
	{"MQTT-4.7.1-3 +/+ matches /finance", "+/+", "/finance", true},
	{"MQTT-4.7.1-3 /+ matches /finance", "/+", "/finance", true},
	{"MQTT-4.7.1-3 + does not match /finance", "+", "/finance", false},
	{"MQTT-4.7.1-3 + in the middle", "sport/+/player1", "sport/tennis/player1", true},
	{"MQTT-4.7.1-3 + and #", "+/tennis/#", "sport/tennis", true},
	{"MQTT-4.7.1-3 + and # deeper", "+/+/#", "a/b/c/d", true},
	{"MQTT-4.7.1-3 + and # too short", "+/+/+/#", "a/b", false},
	{"MQTT-4.7.2-1 # does not match $SYS", "#", "$SYS/broker/clients", false},
	{"MQTT-4.7.2-1 +/monitor/Clients does not match $SYS", "+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"MQTT-4.7.2-1 $SYS/# matches $SYS", "$SYS/#", "$SYS/monitor/Clients", true},
	{"MQTT-4.7.2-1 $SYS/monitor/+ matches", "$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"MQTT-4.7.2-1 + matches a $ inside", "a/+", "a/$b", true},
	{"MQTT-4.7.3-4 case sensitive", "ACCOUNTS", "Accounts", false},
	{"MQTT-4.7.3-4 no normalisation of a trailing separator", "a/b", "a/b/", false},
	{"MQTT-4.7.3-4 no normalisation of empty levels", "a//b", "a/b", false},
	{"exact", "sport/tennis", "sport/tennis", true},
	{"longer topic", "sport", "sport/tennis", false},
	{"longer filter", "sport/tennis", "sport", false},
	{"same length, different text", "sport/tennis", "sport/tennix", false},
	{"prefix of a level", "sport/ten", "sport/tennis", false},
	{"filter trailing separator", "a/", "a", false},
	{"slash", "/", "/", true},
}

func TestMatchTopic(t *testing.T) {
	for _, tc := range matchCases {
		if got := codec.MatchTopic(tc.filter, tc.topic); got != tc.match {
			t.Errorf("%s: MatchTopic(%q, %q): got %v, want %v", tc.name, tc.filter, tc.topic, got, tc.match)
		}
		if got := codec.MatchTopic([]byte(tc.filter), tc.topic); got != tc.match {
			t.Errorf("%s: MatchTopic([]byte(%q), %q): got %v, want %v", tc.name, tc.filter, tc.topic, got, tc.match)
		}
		if got := codec.MatchTopic(tc.filter, []byte(tc.topic)); got != tc.match {
			t.Errorf("%s: MatchTopic(%q, []byte(%q)): got %v, want %v", tc.name, tc.filter, tc.topic, got, tc.match)
		}
		if got := matchReference(tc.filter, tc.topic); got != tc.match {
			t.Errorf("%s: matchReference(%q, %q): got %v, want %v", tc.name, tc.filter, tc.topic, got, tc.match)
		}
	}
}

// TestTopicLengthLimit: a topic name or filter encodes to at most 65535 bytes
// [MQTT-4.7.3-3]; the two-byte length prefix cannot say more, so the encoders
// refuse a longer one as a broken invariant of the caller.
func TestTopicLengthLimit(t *testing.T) {
	long := make([]byte, 65536)
	for i := range long {
		long[i] = 'a'
	}
	for name, f := range map[string]func(){
		"MQTT-4.7.3-3 AppendPublish":     func() { codec.AppendPublish(nil, &codec.Publish{TopicName: long}) },
		"MQTT-4.7.3-3 AppendSubscribe":   func() { codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: long}}) },
		"MQTT-4.7.3-3 AppendUnsubscribe": func() { codec.AppendUnsubscribe(nil, 1, [][]byte{long}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: got no panic for a 65536-byte topic, want one", name)
				}
			}()
			f()
		}()
	}
	b := codec.AppendPublish(nil, &codec.Publish{TopicName: long[:65535]})
	var p codec.Publish
	if n, err := p.Decode(b); n != len(b) || err != nil || len(p.TopicName) != 65535 {
		t.Fatalf("65535-byte topic: got %d, %v, %d bytes; want %d, nil, 65535", n, err, len(p.TopicName), len(b))
	}
}
