package auth

import (
	"errors"
	"testing"
)

func TestParseRule(t *testing.T) {
	cases := []struct {
		line string
		want aclRule
	}{
		{"allow publish all sensors/#", aclRule{allow: true, publish: true, subject: everyone, filter: "sensors/#"}},
		{"deny subscribe anonymous #", aclRule{subsc: true, subject: anonymous, filter: "#"}},
		{"allow pubsub user alice users/alice/#", aclRule{allow: true, publish: true, subsc: true, subject: byUser, name: "alice", filter: "users/alice/#"}},
		{"  allow\tpublish\tclient  dev-*   devices/%c/#  ", aclRule{allow: true, publish: true, subject: byClient, name: "dev-*", filter: "devices/%c/#", subst: true}},
		{`allow publish user "Jo Smith" rooms/living room/+`, aclRule{allow: true, publish: true, subject: byUser, name: "Jo Smith", filter: "rooms/living room/+"}},
		{`allow publish client "a b*" " padded "`, aclRule{allow: true, publish: true, subject: byClient, name: "a b*", filter: " padded "}},
		{"allow subscribe all $SYS/#", aclRule{allow: true, subsc: true, subject: everyone, filter: "$SYS/#"}},
		{"deny pubsub all users/%u/#", aclRule{publish: true, subsc: true, subject: everyone, filter: "users/%u/#", subst: true}},
		{"allow publish all 100%/done", aclRule{allow: true, publish: true, subject: everyone, filter: "100%/done"}},
	}
	for _, tc := range cases {
		r, err := parseRule(tc.line)
		if err != nil || r == nil || *r != tc.want {
			t.Errorf("parseRule(%q) = %+v, %v; want %+v", tc.line, r, err, tc.want)
		}
	}
	for _, blank := range []string{"", "   ", "# comment", "  # allow publish all #", "\t"} {
		if r, err := parseRule(blank); r != nil || err != nil {
			t.Errorf("parseRule(%q) = %+v, %v; want nil, nil", blank, r, err)
		}
	}
}

func TestParseACLErrors(t *testing.T) {
	cases := []struct{ line, want string }{
		{"permit publish all #", `rule starts with "permit", want allow or deny`},
		{"allow", `missing action after allow, want publish, subscribe or pubsub`},
		{"allow write all #", `unknown action "write", want publish, subscribe or pubsub`},
		{"deny publish", `missing subject after publish, want all, anonymous, user NAME or client PATTERN`},
		{"deny publish everyone #", `unknown subject "everyone", want all, anonymous, user NAME or client PATTERN`},
		{"allow publish user", `missing user name after "user"`},
		{`allow publish user ""  a/b`, `missing user name after "user"`},
		{"allow publish client", `missing client ID pattern after "client"`},
		{`allow publish user "alice a/b`, `user name after "user": bad quoted string "\"alice a/b"`},
		{`allow publish user "alice"a/b`, `user name after "user": want a space after "\"alice\""`},
		{"allow publish all", `missing topic filter`},
		{"allow publish user alice", `missing topic filter`},
		{"allow publish all   ", `missing topic filter`},
		{`allow publish all "a/b`, `topic filter: bad quoted string "\"a/b"`},
		{`allow publish all ""`, `invalid topic filter "": empty [MQTT-4.7.3-1]`},
		{"allow publish all a/#/b", `invalid topic filter "a/#/b": '#' must be the whole last level [MQTT-4.7.1-2]`},
		{"allow publish all a#", `invalid topic filter "a#": '#' must be the whole last level [MQTT-4.7.1-2]`},
		{"allow publish all a/b+", `invalid topic filter "a/b+": '+' must be a whole level [MQTT-4.7.1-3]`},
		{`allow publish all "a/\x00"`, `invalid topic filter "a/\x00": U+0000 [MQTT-4.7.3-2]`},
		{"allow publish all devices/dev-%c/#", `invalid topic filter "devices/dev-%c/#": "%u" and "%c" must be whole levels, as in "devices/%c/#"`},
		{"allow publish all %u%c", `invalid topic filter "%u%c": "%u" and "%c" must be whole levels, as in "devices/%c/#"`},
		{"allow publish all a/\xff", `not valid UTF-8`},
	}
	for _, tc := range cases {
		text := "# acl\nallow publish all ok/#\n" + tc.line + "\n"
		_, err := parseACL("acl.conf", text)
		want := "auth: acl.conf:3: " + tc.want
		if err == nil || err.Error() != want {
			t.Errorf("line %q:\ngot  %v\nwant %s", tc.line, err, want)
			continue
		}
		var fe *FileError
		if !errors.As(err, &fe) || fe.Line != 3 {
			t.Errorf("line %q: errors.As gave %#v", tc.line, fe)
		}
	}
}

func TestParseACLReportsEveryLine(t *testing.T) {
	_, err := parseACL("acl.conf", "allow publish all a\nallow\n\nallow publish all a/#/b\n")
	want := "auth: acl.conf:2: missing action after allow, want publish, subscribe or pubsub\n" +
		`auth: acl.conf:4: invalid topic filter "a/#/b": '#' must be the whole last level [MQTT-4.7.1-2]`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"dev-*", "dev-1", true},
		{"dev-*", "dev-", true},
		{"dev-*", "de", false},
		{"dev-*", "xdev-1", false},
		{"*-ro", "sensor-ro", true},
		{"*-ro", "sensor-rw", false},
		{"GID_test@@@*", "GID_test@@@device-1", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXcYb", false},
		{"*", "", true},
		{"**", "anything/+/#", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"", "", true},
		{"", "a", false},
		{"a/*", "a/b/c", true}, // '*' also crosses '/'
	}
	for _, tc := range cases {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
