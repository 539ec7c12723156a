package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCapabilityFlags: the server capability flags take bad values with
// exit status 2 and a sentence naming flag, value and what is valid, from
// the command line and from the configuration file, and are read from the
// file as from the command line.
func TestCapabilityFlags(t *testing.T) {
	path := writeConfig(t, "max-qos = 1\nretain-available = false\nwildcard-subscriptions = false\nsubscription-identifiers = false\n")
	_, st, _, _, err := loadSettings([]string{"-config", path})
	if err != nil {
		t.Fatal(err)
	}
	if c := st.bcfg; c.MaxQoS != 1 || c.RetainAvailable || c.WildcardSubscriptions || c.SubscriptionIdentifiers {
		t.Errorf("from the file: max-qos %d, retain %v, wildcards %v, identifiers %v; want 1 false false false",
			c.MaxQoS, c.RetainAvailable, c.WildcardSubscriptions, c.SubscriptionIdentifiers)
	}
	_, st, _, _, err = loadSettings(nil)
	if c := st.bcfg; err != nil || c.MaxQoS != 2 || !c.RetainAvailable || !c.WildcardSubscriptions || !c.SubscriptionIdentifiers {
		t.Errorf("defaults: max-qos %d, retain %v, wildcards %v, identifiers %v (err %v); want 2 true true true",
			c.MaxQoS, c.RetainAvailable, c.WildcardSubscriptions, c.SubscriptionIdentifiers, err)
	}

	for _, tc := range []struct {
		args []string
		want []string // substrings of stderr
	}{
		{[]string{"-max-qos", "3"}, []string{"-max-qos 3: must be 0, 1 or 2"}},
		{[]string{"-max-qos", "-1"}, []string{"-max-qos -1: must be 0, 1 or 2"}},
		{[]string{"-retain-available=maybe"}, []string{`-retain-available "maybe"`, "true or false"}},
		{[]string{"-wildcard-subscriptions=no"}, []string{`-wildcard-subscriptions "no"`, "true or false"}},
		{[]string{"-config", writeConfig(t, "max-qos = 7\n")}, []string{"-max-qos 7: must be 0, 1 or 2"}},
		{[]string{"-config", writeConfig(t, "\nsubscription-identifiers = \"perhaps\"\n")}, []string{":2:", "subscription-identifiers", "true or false"}},
	} {
		var stderr bytes.Buffer
		if code := run(tc.args, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, stderr.String())
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr %q lacks %q", tc.args, stderr.String(), w)
			}
		}
	}

	var out bytes.Buffer
	if code := run([]string{"-help"}, &out); code != 0 {
		t.Fatalf("-help: exit %d", code)
	}
	help := out.String()
	i := strings.Index(help, "Server capabilities:")
	if i < 0 {
		t.Fatalf("-help lacks the Server capabilities group")
	}
	for _, f := range []string{"-max-qos", "-retain-available", "-wildcard-subscriptions", "-subscription-identifiers"} {
		if j := strings.Index(help, f); j < i {
			t.Errorf("-help lists %s outside its group (at %d, group at %d)", f, j, i)
		}
	}
}
