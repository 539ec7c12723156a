package broker

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/session"
)

func TestRouterMatch(t *testing.T) {
	var r router
	r.init(1)
	var reg session.Registry[Conn]
	a, _ := reg.Open("a", 0)
	b, _ := reg.Open("b", 0)
	r.add("sport/+/player1", a, 1, nil)
	r.add("sport/#", b, 2, nil)
	r.add("#", a, 0, nil)
	r.add("$SYS/#", b, 0, nil)
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
		got := names(r.match(0, []byte(tc.topic), nil))
		if !slices.Equal(got, tc.want) {
			t.Errorf("match %q: got %v, want %v", tc.topic, got, tc.want)
		}
	}
	r.remove("sport/#", b)
	r.remove("#", a)
	if got := names(r.match(0, []byte("sport"), nil)); len(got) != 0 {
		t.Fatalf("after remove got %v, want none", got)
	}
	r.remove("sport/+/player1", a)
	r.remove("$SYS/#", b)
	if !r.root.empty() {
		t.Fatalf("empty router keeps nodes (%d literal, + %v, # %v), want pruned", len(r.root.children), r.root.plus != nil, r.root.hash != nil)
	}
}

// TestRouterBigFanout crosses the size at which a node indexes its
// subscriptions, both ways, removing from the middle: every match must
// return exactly the sessions still subscribed, each once, with its QoS.
func TestRouterBigFanout(t *testing.T) {
	var r router
	r.init(1)
	var reg session.Registry[Conn]
	var ss []*clientSession
	for i := range 3 * indexAt {
		s, _ := reg.Open(fmt.Sprintf("s%02d", i), 0)
		ss = append(ss, s)
		r.add("fan/out", s, byte(i%3), nil)
	}
	r.add("fan/out", ss[5], 2, nil) // replace, not add
	want := func() []string {
		var w []string
		for i, s := range ss {
			if s != nil {
				q := byte(i % 3)
				if i == 5 {
					q = 2
				}
				w = append(w, fmt.Sprintf("%s:%c", s.ClientID, '0'+q))
			}
		}
		slices.Sort(w)
		return w
	}
	check := func(when string) {
		t.Helper()
		if got := names(r.match(0, []byte("fan/out"), nil)); !slices.Equal(got, want()) {
			t.Fatalf("%s: match = %v, want %v", when, got, want())
		}
	}
	check("all subscribed")
	for i := 0; i < len(ss); i += 2 { // every other, down through the index threshold
		r.remove("fan/out", ss[i])
		ss[i] = nil
		check(fmt.Sprintf("after removing s%02d", i))
	}
	for i := 1; i < len(ss); i += 2 {
		r.remove("fan/out", ss[i])
		ss[i] = nil
	}
	check("none left")
	if !r.root.empty() {
		t.Fatal("router keeps nodes after every subscription went")
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

// denyPrefix is a Permissions withholding topics that start with prefix.
type denyPrefix string

func (d denyPrefix) CanSubscribe(string) (bool, bool) { return true, true }
func (d denyPrefix) CanPublish([]byte) bool           { return true }
func (d denyPrefix) CanReceive(topic []byte) bool {
	return !strings.HasPrefix(string(topic), string(d))
}

// A filtered subscription carries its permissions to route, with the plain
// QoS; replacing it with an unfiltered one, or removing it, drops them.
func TestRouterFiltered(t *testing.T) {
	var r router
	r.init(1)
	var reg session.Registry[Conn]
	a, _ := reg.Open("a", 0)
	b, _ := reg.Open("b", 0)
	only := denyPrefix("secret/")
	r.add("#", a, 1, only)
	r.add("#", b, 2, nil)
	ts := r.match(0, []byte("secret/x"), nil)
	if len(ts) != 2 {
		t.Fatalf("match: %d targets, want 2", len(ts))
	}
	for _, tg := range ts {
		switch tg.s {
		case a:
			if tg.qos != 1 || tg.only != only {
				t.Errorf("filtered target: qos %d, only %v; want 1, %v", tg.qos, tg.only, only)
			}
		case b:
			if tg.qos != 2 || tg.only != nil {
				t.Errorf("plain target: qos %d, only %v; want 2, nil", tg.qos, tg.only)
			}
		}
	}
	r.add("#", a, 0, nil) // [MQTT-3.8.4-3] replaces the subscription, filter flag included
	if ts := r.match(0, []byte("x"), nil); len(ts) != 2 || ts[0].only != nil || ts[1].only != nil || ts[0].qos > 2 || ts[1].qos > 2 {
		t.Errorf("after an unfiltered re-subscribe: %+v, want no permissions", ts)
	}
	r.add("#", a, 1, only)
	r.remove("#", a)
	if n := r.root.hash; n == nil || len(n.filtered) != 0 {
		t.Errorf("after remove the node keeps %d filtered entries, want 0", len(n.filtered))
	}
}
