package broker

import (
	"slices"
	"testing"

	"github.com/glassmq/glassmq/session"
)

func TestRouterMatch(t *testing.T) {
	var r router
	var reg session.Registry[Conn]
	a, _ := reg.Open("a", 0)
	b, _ := reg.Open("b", 0)
	r.add("sport/+/player1", a, 1)
	r.add("sport/#", b, 2)
	r.add("#", a, 0)
	r.add("$SYS/#", b, 0)
	for _, tc := range []struct {
		topic string
		want  []string // "id:qos", sorted
	}{
		{"sport/tennis/player1", []string{"a:0", "a:1", "b:2"}},
		{"sport", []string{"a:0", "b:2"}},
		{"other", []string{"a:0"}},
		{"$SYS/uptime", []string{"b:0"}},
		{"/", []string{"a:0"}},
	} {
		got := names(r.match([]byte(tc.topic), nil))
		if !slices.Equal(got, tc.want) {
			t.Errorf("match %q: got %v, want %v", tc.topic, got, tc.want)
		}
	}
	r.remove("sport/#", b)
	r.remove("#", a)
	if got := names(r.match([]byte("sport"), nil)); len(got) != 0 {
		t.Fatalf("after remove got %v, want none", got)
	}
	r.remove("sport/+/player1", a)
	r.remove("$SYS/#", b)
	if len(r.root.children) != 0 {
		t.Fatalf("empty router keeps %d nodes, want pruned", len(r.root.children))
	}
}

func names(ts []target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.s.ClientID+":"+string('0'+t.qos))
	}
	slices.Sort(out)
	return out
}
