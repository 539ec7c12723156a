package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestSharedSubscriptionFlags: a bad shared subscription flag exits 2 with
// a sentence naming the flag, the value and what is valid.
func TestSharedSubscriptionFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-shared-subscription-strategy", "sticky"}, `-shared-subscription-strategy "sticky": must be round_robin, random or hash_clientid`},
		{[]string{"-shared-subscriptions=maybe"}, `-shared-subscriptions "maybe": want true or false`},
	} {
		var out bytes.Buffer
		if code := run(append(tc.args, "-data-dir", t.TempDir()), &out); code != 2 {
			t.Errorf("%v: exit %d, want 2; output %s", tc.args, code, out.String())
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: output %q, want it to contain %q", tc.args, out.String(), tc.want)
		}
	}
}
