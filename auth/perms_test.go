package auth

import (
	"fmt"
	"strings"
	"testing"
)

func compileACL(t testing.TB, text, user, clientID string) *Perms {
	t.Helper()
	a, err := parseACL("acl.conf", text)
	if err != nil {
		t.Fatal(err)
	}
	return a.compile(1, user, clientID)
}

type check struct {
	sub      bool   // a SUBSCRIBE filter, else a PUBLISH topic name
	topic    string // topic name or filter
	want     bool
	filtered bool // wanted second result of CanSubscribe
}

func pub(topic string, want bool) check  { return check{false, topic, want, false} }
func sub(filter string, want bool) check { return check{true, filter, want, false} }

// subFiltered is a SUBSCRIBE filter granted with filtered true: a deny rule
// narrower than the filter withholds its topics at delivery.
func subFiltered(filter string) check { return check{true, filter, true, true} }

func (c check) run(t *testing.T, p *Perms, who string) {
	t.Helper()
	if c.sub {
		if got, filtered := p.CanSubscribe(c.topic); got != c.want || filtered != c.filtered {
			t.Errorf("%s: CanSubscribe(%q) = %v, %v; want %v, %v", who, c.topic, got, filtered, c.want, c.filtered)
		}
		return
	}
	if got := p.CanPublish([]byte(c.topic)); got != c.want {
		t.Errorf("%s: CanPublish(%q) = %v, want %v", who, c.topic, got, c.want)
	}
}

// The example of doc.go, client by client.
const docACL = `
# Operators see everything, broker statistics included.
allow subscribe user ops         #
allow subscribe user ops         $SYS/#
# Nobody writes into the command trees except the controller.
allow publish   user controller  devices/+/cmd/#
deny  publish   all              devices/+/cmd/#
# Each device owns its tree, named by its client ID.
allow pubsub    client dev-*     devices/%c/#
# Each user has a private inbox, and everyone reads the news.
allow pubsub    all              users/%u/inbox/#
deny  subscribe all              news/internal/#
allow subscribe all              news/#
# Anonymous clients may also read the public feed.
allow subscribe anonymous        public/#
`

func TestPermsDocExample(t *testing.T) {
	cases := []struct {
		user, clientID string
		checks         []check
	}{
		{"", "dev-7", []check{
			pub("devices/dev-7/temp", true),
			pub("devices/dev-7/cmd/reboot", false), // the deny comes first
			pub("devices/dev-8/temp", false),       // no rule applies
			sub("devices/dev-7/cmd/#", true),
			sub("devices/dev-7/#", true),
			sub("devices/#", false),
			sub("devices/+/temp", false),
			sub("news/sports/#", true),
			subFiltered("news/#"), // news/internal/# withheld at delivery
			sub("#", false),       // no allow rule covers it
			sub("news/internal/x", false),
			sub("public/a", true), // anonymous
			pub("users//inbox/a", false),
		}},
		{"alice", "laptop", []check{
			pub("devices/laptop/temp", false), // not a dev-* client
			pub("users/alice/inbox/hi", true),
			sub("users/alice/inbox/#", true),
			pub("users/bob/inbox/hi", false),
			sub("users/+/inbox/#", false),
			sub("public/a", false), // not anonymous
			sub("news/sports", true),
		}},
		{"controller", "ctl", []check{
			pub("devices/dev-7/cmd/reboot", true),
			pub("devices/dev-7/temp", false),
		}},
		{"ops", "console", []check{
			sub("#", true),
			sub("$SYS/#", true),
			sub("$SYS/broker/clients/connected", true),
			sub("news/internal/#", true),
			pub("news/x", false),
		}},
	}
	for _, tc := range cases {
		p := compileACL(t, docACL, tc.user, tc.clientID)
		for _, c := range tc.checks {
			c.run(t, p, fmt.Sprintf("user %q client %q", tc.user, tc.clientID))
		}
	}
}

func TestFirstMatchWins(t *testing.T) {
	// The same two rules in both orders.
	denyFirst := compileACL(t, "deny pubsub all a/secret/#\nallow pubsub all a/#\n", "u", "c")
	allowFirst := compileACL(t, "allow pubsub all a/#\ndeny pubsub all a/secret/#\n", "u", "c")
	for _, c := range []check{
		pub("a/secret/x", false), pub("a/secret", false), pub("a/public", true),
		sub("a/secret/+", false), subFiltered("a/#"), subFiltered("a/+"), sub("+/secret", false),
		sub("a/public/#", true), subFiltered("a/+/x"),
	} {
		c.run(t, denyFirst, "deny first")
	}
	for _, c := range []check{
		pub("a/secret/x", true), sub("a/#", true), sub("a/secret/#", true),
	} {
		c.run(t, allowFirst, "allow first")
	}
}

func TestDefaultDeny(t *testing.T) {
	p := compileACL(t, "# no rules\n", "alice", "c")
	for _, c := range []check{pub("a", false), sub("a", false), sub("#", false)} {
		c.run(t, p, "empty ACL")
	}
	p = compileACL(t, "allow publish user bob #\n", "alice", "c")
	for _, c := range []check{pub("a", false), sub("a", false)} {
		c.run(t, p, "other user's rules")
	}
	p = compileACL(t, "allow publish all #\n", "alice", "c")
	for _, c := range []check{pub("a/b", true), pub("$SYS/x", false), sub("a", false)} {
		c.run(t, p, "publish only")
	}
}

func TestSubjects(t *testing.T) {
	acl := `allow publish anonymous anon/#
allow publish user alice alice/#
allow publish user "Jo Smith" jo/#
allow publish client GID_test@@@* gid/#
allow publish all everyone/#
`
	cases := []struct {
		user, clientID string
		allowed        []string
	}{
		{"", "c1", []string{"anon/x", "everyone/x"}},
		{"alice", "c1", []string{"alice/x", "everyone/x"}},
		{"Jo Smith", "c1", []string{"jo/x", "everyone/x"}},
		{"alice", "GID_test@@@device-1", []string{"alice/x", "gid/x", "everyone/x"}},
		{"", "GID_test@@@", []string{"anon/x", "gid/x", "everyone/x"}},
		{"Alice", "c1", []string{"everyone/x"}}, // user names are exact
	}
	all := []string{"anon/x", "alice/x", "jo/x", "gid/x", "everyone/x"}
	for _, tc := range cases {
		p := compileACL(t, acl, tc.user, tc.clientID)
		for _, topic := range all {
			want := strings.Contains(strings.Join(tc.allowed, " "), topic)
			pub(topic, want).run(t, p, fmt.Sprintf("user %q client %q", tc.user, tc.clientID))
		}
	}
}

func TestSubstitution(t *testing.T) {
	acl := "allow pubsub all users/%u/#\nallow pubsub all clients/%c/+/%c\nallow publish all %c\n"
	p := compileACL(t, acl, "alice", "dev-1")
	for _, c := range []check{
		pub("users/alice/x", true), pub("users/alice", true), pub("users/bob/x", false),
		pub("clients/dev-1/a/dev-1", true), pub("clients/dev-1/a/dev-2", false),
		sub("clients/dev-1/+/dev-1", true), sub("clients/+/+/dev-1", false),
		pub("dev-1", true), pub("dev-2", false),
	} {
		c.run(t, p, "alice dev-1")
	}
}

// A client ID or user name holding '/', '+' or '#', or empty, or starting
// with '$', never gains rights through "%c" or "%u".
func TestSubstitutionCannotWiden(t *testing.T) {
	acl := "deny publish all devices/%c/config\n" +
		"allow pubsub all devices/%c/#\n" +
		"allow pubsub all users/%u/#\n" +
		"allow subscribe all %c/#\n"
	// What a client with an ordinary ID and user name may do.
	base := compileACL(t, acl, "u", "c")
	for _, c := range []check{
		pub("devices/c/temp", true), pub("devices/c/config", false), pub("devices/x/temp", false),
		sub("devices/c/#", true), pub("users/u/x", true), sub("c/#", true),
	} {
		c.run(t, base, "ordinary")
	}
	probes := []check{
		pub("devices/x/temp", false), pub("devices/a/b/temp", false), pub("users/x/y", false),
		sub("devices/#", false), sub("devices/+/#", false), sub("#", false), sub("users/#", false),
		sub("$SYS/#", false), sub("$SYS/broker/load", false), sub("+/#", false),
		pub("devices/+/temp", false), pub("devices/#", false),
	}
	for _, id := range []string{"+", "#", "a/b", "a/+", "+/#", "/", "", "x#", "$SYS", "$SYS/#"} {
		p := compileACL(t, acl, id, id)
		for _, c := range probes {
			c.run(t, p, fmt.Sprintf("user and client %q", id))
		}
		// Only literal topics can be reached through a literal ID.
		if id == "$SYS" {
			pub("devices/$SYS/temp", true).run(t, p, "client $SYS")
			sub("$SYS/#", false).run(t, p, "client $SYS") // not through "%c/#"
		}
	}
	// A deny rule with an unusable value denies that level for every value.
	p := compileACL(t, acl+"allow publish all devices/#\n", "u", "a/b")
	for _, c := range []check{pub("devices/x/config", false), pub("devices/x/temp", true), pub("devices/a/b/config", true)} {
		c.run(t, p, `client "a/b" with a catch-all`)
	}
	// %u of an anonymous client is empty: allow rules with it do not apply.
	anon := compileACL(t, "allow pubsub all users/%u/#\n", "", "c")
	for _, c := range []check{pub("users//x", false), sub("users/+/#", false), pub("users/x", false)} {
		c.run(t, anon, "anonymous")
	}
}

func TestCanSubscribeInvalidFilter(t *testing.T) {
	p := compileACL(t, "allow subscribe all #\n", "u", "c")
	for _, f := range []string{"", "a/#/b", "a+", "a/\x00"} {
		sub(f, false).run(t, p, "invalid filter")
	}
	ch, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"", "a/#/b"} {
		sub(f, false).run(t, ch.For("", "c"), "no ACL, invalid filter")
	}
}

func TestNilPermsDeniesAll(t *testing.T) {
	var p *Perms
	if ok, _ := p.CanSubscribe("a"); ok || p.CanPublish([]byte("a")) || p.CanReceive([]byte("a")) || p.Generation() != 0 {
		t.Fatal("a nil *Perms allowed something")
	}
}

func TestRuleLines(t *testing.T) {
	p := compileACL(t, "# c\ndeny publish all a/x\n\nallow pubsub all a/#\n", "u", "c")
	if allow, line := p.PublishRule([]byte("a/x")); allow || line != 2 {
		t.Errorf("PublishRule(a/x) = %v, %d; want false, 2", allow, line)
	}
	if allow, line := p.PublishRule([]byte("a/y")); !allow || line != 4 {
		t.Errorf("PublishRule(a/y) = %v, %d; want true, 4", allow, line)
	}
	if allow, line := p.PublishRule([]byte("b")); allow || line != 0 {
		t.Errorf("PublishRule(b) = %v, %d; want false, 0", allow, line)
	}
	if allow, filtered, line := p.SubscribeRule("a/+"); !allow || filtered || line != 4 {
		t.Errorf("SubscribeRule(a/+) = %v, %v, %d; want true, false, 4 (line 2 is about publish only)", allow, filtered, line)
	}
	if allow, _, line := p.SubscribeRule("a/x"); !allow || line != 4 {
		t.Errorf("SubscribeRule(a/x) = %v, %d; want true, 4", allow, line)
	}
	p = compileACL(t, "deny subscribe all a/x\nallow subscribe all a/#\n", "u", "c")
	if allow, filtered, line := p.SubscribeRule("a/+"); !allow || !filtered || line != 2 {
		t.Errorf("SubscribeRule(a/+) = %v, %v, %d; want true, true, 2", allow, filtered, line)
	}
	if allow, filtered, line := p.SubscribeRule("a/x"); allow || filtered || line != 1 {
		t.Errorf("SubscribeRule(a/x) = %v, %v, %d; want false, false, 1", allow, filtered, line)
	}
}

// For keeps file order when user rules and general rules interleave.
func TestForMergesInFileOrder(t *testing.T) {
	acl := "deny publish user alice a/1\nallow publish all a/#\ndeny publish user alice a/2\nallow publish client c a/3\ndeny publish user alice a/3\n"
	p := compileACL(t, acl, "alice", "c")
	for _, c := range []check{pub("a/1", false), pub("a/2", true), pub("a/3", true)} {
		c.run(t, p, "interleaved")
	}
	if len(p.pub) != 5 {
		t.Errorf("compiled %d publish rules, want 5", len(p.pub))
	}
	for i := 1; i < len(p.pub); i++ {
		if p.pub[i-1].line >= p.pub[i].line {
			t.Errorf("rules out of order: lines %d, %d", p.pub[i-1].line, p.pub[i].line)
		}
	}
}

// ACL rules decide per topic name, not per filter text: a deny rule narrower
// than a requested subscription does not refuse it; the subscription is
// granted filtered and CanReceive withholds the denied topics at delivery.
// A deny rule covering the whole filter refuses it.
func TestSubscribeDecidesPerTopic(t *testing.T) {
	const acl = "deny subscribe all secret/#\nallow pubsub all #\nallow subscribe all $SYS/broker/#\n"
	p := compileACL(t, acl, "u", "c")
	cases := []struct {
		name     string
		filter   string
		granted  bool
		filtered bool
	}{
		{"narrower deny: wildcard granted filtered", "#", true, true},
		{"narrower deny: two levels granted filtered", "+/+", true, true},
		{"narrower deny: +/x overlaps secret/x", "+/x", true, true},
		{"no deny overlaps: granted whole", "public/#", true, false},
		{"no deny overlaps: exact topic", "public/x", true, false},
		{"deny covers the filter: refused", "secret/x", false, false},
		{"deny covers the filter: secret/# refused", "secret/#", false, false},
		{"deny covers the parent too: secret refused", "secret", false, false},
		{"MQTT-4.7.2-1 # does not cover $SYS/#", "$SYS/#", false, false},
		{"MQTT-4.7.2-1 exact $SYS topic needs its own rule", "$SYS/broker/load", true, false},
	}
	for _, tc := range cases {
		granted, filtered := p.CanSubscribe(tc.filter)
		if granted != tc.granted || filtered != tc.filtered {
			t.Errorf("%s: CanSubscribe(%q) = %v, %v; want %v, %v", tc.name, tc.filter, granted, filtered, tc.granted, tc.filtered)
		}
	}
	receive := []struct {
		name  string
		topic string
		want  bool
	}{
		{"denied topic withheld", "secret/x", false},
		{"denied parent withheld", "secret", false},
		{"deep denied topic withheld", "secret/a/b/c", false},
		{"other topics delivered", "public/x", true},
		{"a level named secret elsewhere delivered", "a/secret", true},
		{"MQTT-4.7.2-1 # does not reach $SYS", "$SYS/x", false},
		{"$SYS topic under its own rule", "$SYS/broker/load", true},
	}
	for _, tc := range receive {
		if got := p.CanReceive([]byte(tc.topic)); got != tc.want {
			t.Errorf("%s: CanReceive(%q) = %v, want %v", tc.name, tc.topic, got, tc.want)
		}
	}
}

// Order still decides: an allow rule before a narrower deny rule makes the
// deny rule moot, and an allow rule narrower than the filter does not grant
// it (no rule covers the rest: default deny).
func TestSubscribeDecidesPerTopicOrder(t *testing.T) {
	p := compileACL(t, "allow subscribe all x/#\ndeny subscribe all x/secret\nallow subscribe all #\n", "u", "c")
	for _, c := range []check{sub("#", true), sub("x/+", true), sub("x/secret", true)} {
		c.run(t, p, "allow before the deny")
	}
	if !p.CanReceive([]byte("x/secret")) {
		t.Error("CanReceive(x/secret) = false, want true: allow x/# comes first")
	}
	p = compileACL(t, "allow subscribe all sensors/#\n", "u", "c")
	for _, c := range []check{sub("#", false), sub("+/temp", false), sub("sensors/+", true)} {
		c.run(t, p, "narrower allow")
	}
	p = compileACL(t, "deny subscribe all a/b\ndeny subscribe all a/c\nallow subscribe all a/#\n", "u", "c")
	for _, c := range []check{subFiltered("a/+"), sub("a/b", false), sub("a/d", true)} {
		c.run(t, p, "two narrower denies")
	}
	// Indexed rules (six or more) give the same answers as a scan.
	var b strings.Builder
	for i := range 8 {
		fmt.Fprintf(&b, "deny subscribe all s/%d/#\n", i)
	}
	b.WriteString("allow subscribe all #\n")
	p = compileACL(t, b.String(), "u", "c")
	if p.subIdx == nil {
		t.Fatal("9 subscribe rules not indexed")
	}
	subFiltered("s/#").run(t, p, "indexed")
	for _, tc := range []struct {
		topic string
		want  bool
	}{{"s/3/x", false}, {"s/7", false}, {"s/8/x", true}, {"t", true}, {"$SYS/x", false}} {
		if got := p.CanReceive([]byte(tc.topic)); got != tc.want {
			t.Errorf("indexed CanReceive(%q) = %v, want %v", tc.topic, got, tc.want)
		}
	}
}
