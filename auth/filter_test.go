package auth

import (
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

var coverCases = []struct {
	rule, filter     string
	covers, overlaps bool
}{
	{"sensors/#", "sensors/+/temp", true, true},
	{"sensors/#", "sensors", true, true}, // "#" matches the parent level
	{"sensors/#", "sensors/#", true, true},
	{"sensors/#", "#", false, true},
	{"sensors/#", "+/temp", false, true},
	{"sensors/#", "sensor/#", false, false},
	{"sensors/+", "sensors/#", false, true}, // "sensors/#" matches "sensors" and "sensors/a/b"
	{"sensors/+", "sensors/+", true, true},
	{"sensors/+", "sensors/a", true, true},
	{"sensors/+", "sensors", false, false},
	{"sensors/+", "sensors/a/b", false, false},
	{"sensors/+/#", "sensors/a", true, true},
	{"sensors/+/#", "sensors/#", false, true},
	{"sensors/a", "sensors/+", false, true},
	{"sensors/a", "sensors/a", true, true},
	{"sensors/a", "sensors/b", false, false},
	{"+/+", "a/#", false, true},
	{"+/+", "+/+", true, true},
	{"+/+", "+", false, false},
	{"+/#", "#", true, true}, // a topic name has at least one level: the same sets
	{"#", "+/#", true, true},
	{"+/+/#", "#", false, true},
	{"+", "#", false, true},
	{"#", "a//b", true, true},
	{"a/+/b", "a//b", true, true}, // '+' matches an empty level
	{"a//b", "a/+/b", false, true},
	// [MQTT-4.7.2-1]: a leading wildcard never reaches a '$' topic.
	{"#", "$SYS/#", false, false},
	{"#", "$SYS", false, false},
	{"+/#", "$SYS/a", false, false},
	{"+/broker", "$SYS/broker", false, false},
	{"$SYS/#", "#", false, false},
	{"$SYS/#", "$SYS/broker/+", true, true},
	{"$SYS/+", "$SYS/#", false, true},
	{"a/$x", "a/+", false, true}, // only the first character of a topic counts
	{"a/+", "a/$x", true, true},
}

func TestCovers(t *testing.T) {
	for _, tc := range coverCases {
		if got := covers(tc.rule, tc.filter); got != tc.covers {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.rule, tc.filter, got, tc.covers)
		}
		if got := overlaps(tc.rule, tc.filter); got != tc.overlaps {
			t.Errorf("overlaps(%q, %q) = %v, want %v", tc.rule, tc.filter, got, tc.overlaps)
		}
		if got := overlaps(tc.filter, tc.rule); got != tc.overlaps {
			t.Errorf("overlaps(%q, %q) = %v, want %v (symmetry)", tc.filter, tc.rule, got, tc.overlaps)
		}
	}
}

// TestCoversEnumerated checks covers and overlaps against their definitions
// through codec.MatchTopic, for every valid filter of up to 3 levels over
// {a, $a, "", +, #} and every topic name of up to 4 levels over {a, $a, "", z}:
// a counterexample, if one existed, would show up among these (z stands for
// any level no filter names; one level more than the filters reaches past a
// trailing '#').
func TestCoversEnumerated(t *testing.T) {
	filters := enumerate([]string{"a", "$a", "", "+", "#"}, 3, codec.ValidTopicFilter[string])
	topics := enumerate([]string{"a", "$a", "", "z"}, 4, codec.ValidTopicName[string])
	match := make(map[string][]bool, len(filters))
	for _, f := range filters {
		m := make([]bool, len(topics))
		for i, tn := range topics {
			m[i] = codec.MatchTopic(f, tn)
		}
		match[f] = m
	}
	t.Logf("%d filters, %d topic names", len(filters), len(topics))
	for _, r := range filters {
		for _, f := range filters {
			wantCover, wantOverlap := true, false
			var witness string
			for i, tn := range topics {
				if match[f][i] && !match[r][i] && wantCover {
					wantCover, witness = false, tn
				}
				if match[f][i] && match[r][i] {
					wantOverlap = true
				}
			}
			if got := covers(r, f); got != wantCover {
				t.Errorf("covers(%q, %q) = %v, want %v (topic %q)", r, f, got, wantCover, witness)
			}
			if got := overlaps(r, f); got != wantOverlap {
				t.Errorf("overlaps(%q, %q) = %v, want %v", r, f, got, wantOverlap)
			}
		}
	}
}

// enumerate returns every string of 1 to depth levels from alphabet joined
// by '/' that valid accepts.
func enumerate(alphabet []string, depth int, valid func(string) bool) []string {
	var out []string
	level := []string{""}
	for d := 1; d <= depth; d++ {
		var next []string
		for _, prefix := range level {
			for _, l := range alphabet {
				s := l
				if d > 1 {
					s = prefix + "/" + l
				}
				next = append(next, s)
				if valid(s) {
					out = append(out, s)
				}
			}
		}
		level = next
	}
	return out
}

func TestCoversFuzzyDepth(t *testing.T) {
	// Deeper filters built from the table keep the relations.
	for _, tc := range coverCases {
		if strings.HasPrefix(tc.rule, "$") || strings.HasPrefix(tc.filter, "$") {
			continue
		}
		r, f := "x/"+tc.rule, "x/"+tc.filter
		if tc.filter == "#" { // under a prefix "#" also matches the parent
			continue
		}
		if got := covers(r, f); got != tc.covers {
			t.Errorf("covers(%q, %q) = %v, want %v", r, f, got, tc.covers)
		}
	}
}
