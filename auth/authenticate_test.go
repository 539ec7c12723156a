package auth

import (
	"testing"
)

// loadTest loads a password file with alice (bcrypt), bob (bcrypt) and
// carol (argon2id), and the given ACL text unless it is empty.
func loadTest(t testing.TB, allowAnonymous bool, aclText string) *Checker {
	t.Helper()
	dir := t.TempDir()
	o := Options{
		PasswordFile: writeFile(t, dir, "passwd",
			"alice:"+aliceHash+"\nbob:"+bobHash+"\ncarol:"+carolHash+"\n"),
		AllowAnonymous: allowAnonymous,
	}
	if aclText != "" {
		o.ACLFile = writeFile(t, dir, "acl.conf", aclText)
	}
	c, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAuthenticate(t *testing.T) {
	type creds struct {
		username, password   string
		hasUsername, hasPass bool
		tlsCN                string
	}
	cases := []struct {
		name       string
		anonymous  bool
		noPassFile bool
		in         creds
		code       byte
		user       string
		authn      bool
		verifies   int // hash verifications: 1 for every user name checked, known or not
	}{
		{"bcrypt user, right password", false, false, creds{"alice", "alice-secret", true, true, ""}, Accepted, "alice", true, 1},
		{"argon2id user, right password", false, false, creds{"carol", "carol-secret", true, true, ""}, Accepted, "carol", true, 1},
		{"wrong password", false, false, creds{"alice", "bob-secret", true, true, ""}, BadCredentials, "", false, 1},
		{"empty password", false, false, creds{"alice", "", true, true, ""}, BadCredentials, "", false, 1},
		{"no password", false, false, creds{"alice", "", true, false, ""}, BadCredentials, "", false, 1},
		{"unknown user", false, false, creds{"mallory", "alice-secret", true, true, ""}, BadCredentials, "", false, 1},
		{"unknown user, no password", false, false, creds{"mallory", "", true, false, ""}, BadCredentials, "", false, 1},
		{"empty user name", false, false, creds{"", "x", true, true, ""}, BadCredentials, "", false, 1},
		{"user names are exact", false, false, creds{"Alice", "alice-secret", true, true, ""}, BadCredentials, "", false, 1},
		{"unknown user, anonymous allowed", true, false, creds{"mallory", "x", true, true, ""}, BadCredentials, "", false, 1},
		{"wrong password, anonymous allowed", true, false, creds{"alice", "x", true, true, ""}, BadCredentials, "", false, 1},
		{"anonymous, not allowed", false, false, creds{}, NotAuthorized, "", false, 0},
		{"anonymous, allowed", true, false, creds{}, Accepted, "", false, 0},
		{"MQTT-3.1.2-22 password without user name", true, false, creds{"", "x", false, true, ""}, BadCredentials, "", false, 0},
		{"client certificate", false, false, creds{"", "", false, false, "device-9"}, Accepted, "device-9", true, 0},
		{"client certificate wins over CONNECT user", false, false, creds{"alice", "wrong", true, true, "device-9"}, Accepted, "device-9", true, 0},
		{"no password file, user, anonymous allowed", true, true, creds{"dave", "anything", true, true, ""}, Accepted, "dave", false, 0},
		{"no password file, user, anonymous not allowed", false, true, creds{"dave", "anything", true, true, ""}, NotAuthorized, "", false, 0},
		{"no password file, anonymous not allowed", false, true, creds{}, NotAuthorized, "", false, 0},
		{"no password file, certificate", false, true, creds{"", "", false, false, "device-9"}, Accepted, "device-9", true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c *Checker
			if tc.noPassFile {
				var err error
				if c, err = Load(Options{AllowAnonymous: tc.anonymous}); err != nil {
					t.Fatal(err)
				}
			} else {
				c = loadTest(t, tc.anonymous, "")
			}
			n := countVerify(t)
			var pw []byte
			if tc.in.hasPass {
				pw = []byte(tc.in.password)
			}
			r := c.Check(Credentials{ClientID: "c1", Username: tc.in.username, Password: pw,
				HasUsername: tc.in.hasUsername, HasPassword: tc.in.hasPass, TLSCommonName: tc.in.tlsCN})
			if r.Code != tc.code || r.User != tc.user || r.Authenticated != tc.authn {
				t.Errorf("Check = %+v, want code %#02x user %q authenticated %v", r, tc.code, tc.user, tc.authn)
			}
			if *n != tc.verifies {
				t.Errorf("%d hash verifications, want %d", *n, tc.verifies)
			}
			code, user := c.Authenticate("c1", tc.in.username, pw, tc.in.hasUsername, tc.in.hasPass, tc.in.tlsCN)
			if code != tc.code || user != tc.user {
				t.Errorf("Authenticate = %#02x, %q; want %#02x, %q", code, user, tc.code, tc.user)
			}
		})
	}
}

// An unknown user costs a verification against a hash with the same
// parameters as the known users, so that refusals take as long.
func TestUnknownUserCostsTheSame(t *testing.T) {
	c := loadTest(t, false, "")
	var used []string
	testHookVerify = func(h *hash) { used = append(used, h.params()) }
	t.Cleanup(func() { testHookVerify = nil })
	for _, name := range []string{"alice", "mallory", "bob", "nobody", ""} {
		for _, hasPassword := range []bool{true, false} {
			used = used[:0]
			c.Check(Credentials{Username: name, Password: []byte("x"), HasUsername: true, HasPassword: hasPassword})
			if len(used) != 1 || used[0] != "bcrypt 4" {
				t.Errorf("user %q, password %v: verified against %v, want [bcrypt 4] for known and unknown users alike", name, hasPassword, used)
			}
		}
	}
}
