package auth

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// Hashes made by other tools, verified here with golang.org/x/crypto.
var foreignHashes = []struct {
	tool, password, hash string
}{
	{"argon2 -id -t 1 -m 6 -p 1 -l 32 (reference CLI)", "carol-secret", carolHash},
	{"argon2 -id -t 2 -k 19456 -p 2 -l 16 (reference CLI)", "dave-secret",
		"$argon2id$v=19$m=19456,t=2,p=2$c29tZXNhbHR5c2FsdA$Wv6tleKbuHzYAmN6VSWiPw"},
	{"htpasswd -B -C 5 (Apache, $2y$)", "erin-secret", "$2y$05$CZr224A9a9SBcLn6oyY9guypI8oIxTV08rBV4gfMYjfRIIsyudZKC"},
	{"htpasswd -B -C 4 (Apache, $2y$)", "frank-secret", "$2y$04$i6xqFvIzb1/bDn.KeYtE0.kgYmBQ3ZB/EuC12jqoC/rfSH/2jn1zS"},
	{"golang.org/x/crypto/bcrypt ($2a$)", "alice-secret", aliceHash},
	{"glassmq passwd -hash argon2id", "sensor-secret",
		"$argon2id$v=19$m=19456,t=2,p=1$7qKv+ppDR4oRzxzjWsP/8g$b0qF7XcNQG9Il0STPHF9ezj0MZDiSHTYoH1xzsFj09o"},
}

func TestVerifyHashes(t *testing.T) {
	for _, tc := range foreignHashes {
		h, err := parseHash(tc.hash)
		if err != nil {
			t.Errorf("%s: parseHash: %v", tc.tool, err)
			continue
		}
		if !h.verify([]byte(tc.password)) {
			t.Errorf("%s: right password rejected", tc.tool)
		}
		for _, wrong := range []string{"", tc.password + "x", strings.ToUpper(tc.password), tc.password[:len(tc.password)-1]} {
			if h.verify([]byte(wrong)) {
				t.Errorf("%s: wrong password %q accepted", tc.tool, wrong)
			}
		}
	}
	// $2b$ is $2a$ with another name for the same algorithm.
	b := "$2b$" + aliceHash[4:]
	if h, err := parseHash(b); err != nil || !h.verify([]byte("alice-secret")) {
		t.Errorf("$2b$ hash: %v", err)
	}
}

func TestParsePasswordFile(t *testing.T) {
	text := "# users\n" +
		"\n" +
		"alice:" + aliceHash + "\r\n" + // CRLF line ending
		"  bob : " + bobHash + "  \n" + // spaces around name and hash
		"\t# indented comment\n" +
		"carol:" + carolHash + "\n" +
		"GID_test@@@device-1:" + aliceHash // no final newline
	u, err := parsePasswordFile("passwd", text)
	if err != nil {
		t.Fatal(err)
	}
	for name, pw := range map[string]string{"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret", "GID_test@@@device-1": "alice-secret"} {
		h := u.hashes[name]
		if h == nil || !h.verify([]byte(pw)) {
			t.Errorf("user %q: not loaded or password rejected", name)
		}
	}
	if len(u.hashes) != 4 {
		t.Errorf("got %d users, want 4", len(u.hashes))
	}
}

func TestParsePasswordFileErrors(t *testing.T) {
	argon := "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$cj6Pr97s2stH0rxXu2PoCpUDJae+uVNScfnJ8nTBqLE"
	cases := []struct{ name, line, want string }{
		{"no colon", "alice", `missing ':' between user name and hash`},
		{"empty name", ":" + aliceHash, `empty user name`},
		{"bad UTF-8", "al\xffice:" + aliceHash, `user "al\xffice": name is not valid UTF-8`},
		{"plain text", "alice:alice-secret", `user "alice": unknown hash format, want bcrypt ($2a$, $2b$, $2y$), argon2id ($argon2id$) or SCRAM-SHA-256$`},
		{"empty hash", "alice:", `user "alice": unknown hash format, want bcrypt ($2a$, $2b$, $2y$), argon2id ($argon2id$) or SCRAM-SHA-256$`},
		{"md5-crypt", "alice:$1$abc$def", `user "alice": unknown hash format, want bcrypt ($2a$, $2b$, $2y$), argon2id ($argon2id$) or SCRAM-SHA-256$`},
		{"$2x$", "alice:$2x$" + aliceHash[4:], `user "alice": unknown hash format, want bcrypt ($2a$, $2b$, $2y$), argon2id ($argon2id$) or SCRAM-SHA-256$`},
		{"bcrypt cut", "alice:" + aliceHash[:59], `user "alice": malformed bcrypt hash, want 60 characters: $2b$, a two-digit cost, '$', 53 characters of salt and hash`},
		{"bcrypt cost 3", "alice:$2a$03" + aliceHash[6:], `user "alice": malformed bcrypt hash: cost "03", want 04 to 31`},
		{"bcrypt cost 32", "alice:$2a$32" + aliceHash[6:], `user "alice": malformed bcrypt hash: cost "32", want 04 to 31`},
		{"bcrypt alphabet", "alice:" + aliceHash[:59] + "!", `user "alice": malformed bcrypt hash: a character outside bcrypt's base64 alphabet`},
		{"argon2i", "alice:$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$cj6Pr97s2stH0rxXu2PoCpUDJae", `user "alice": argon2i and argon2d hashes are not supported, want argon2id`},
		{"argon2id v=16", "alice:" + strings.Replace(argon, "v=19", "v=16", 1), `user "alice": argon2id version "v=16", want v=19`},
		{"argon2id no version", "alice:$argon2id$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$cj6Pr97s2stH0rxXu2PoCpUDJae", `user "alice": malformed argon2id hash, want $argon2id$v=19$m=MEMORY,t=TIME,p=THREADS$SALT$HASH`},
		{"argon2id missing p", "alice:" + strings.Replace(argon, ",p=1", "", 1), `user "alice": malformed argon2id hash, want $argon2id$v=19$m=MEMORY,t=TIME,p=THREADS$SALT$HASH`},
		{"argon2id unknown key", "alice:" + strings.Replace(argon, "t=1", "x=1", 1), `user "alice": malformed argon2id hash, want $argon2id$v=19$m=MEMORY,t=TIME,p=THREADS$SALT$HASH`},
		{"argon2id huge memory", "alice:" + strings.Replace(argon, "m=64", "m=4000000000", 1), `user "alice": argon2id memory m=4000000000 KiB, want 8 (8*p) to 1048576`},
		{"argon2id memory below 8*p", "alice:" + strings.Replace(argon, "m=64,t=1,p=1", "m=16,t=1,p=4", 1), `user "alice": argon2id memory m=16 KiB, want 32 (8*p) to 1048576`},
		{"argon2id t=0", "alice:" + strings.Replace(argon, "t=1", "t=0", 1), `user "alice": argon2id time t=0, want 1 to 64`},
		{"argon2id p=256", "alice:" + strings.Replace(argon, "m=64,t=1,p=1", "m=4096,t=1,p=256", 1), `user "alice": argon2id threads p=256, want 1 to 255`},
		{"argon2id padded salt", "alice:" + strings.Replace(argon, "c2FsdHNhbHRzYWx0", "c2FsdHNhbHQ=", 1), `user "alice": malformed argon2id hash: salt is not unpadded base64`},
		{"argon2id short salt", "alice:" + strings.Replace(argon, "c2FsdHNhbHRzYWx0", "c2FsdA", 1), `user "alice": argon2id salt of 4 bytes, want 8 to 1024`},
		{"argon2id bad hash", "alice:" + argon[:len(argon)-1] + "!", `user "alice": malformed argon2id hash: hash is not unpadded base64`},
		{"argon2id short hash", "alice:" + argon[:strings.LastIndexByte(argon, '$')+1] + "c2FsdA", `user "alice": argon2id hash of 4 bytes, want 16 to 1024`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := "# header\nok:" + bobHash + "\n" + tc.line + "\n"
			_, err := parsePasswordFile("/etc/glassmq/passwd", text)
			want := "auth: /etc/glassmq/passwd:3: " + tc.want
			if err == nil || err.Error() != want {
				t.Fatalf("got %v\nwant %s", err, want)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != 3 || fe.File != "/etc/glassmq/passwd" {
				t.Fatalf("errors.As: %#v", fe)
			}
			if strings.Contains(err.Error(), "secret") || (len(tc.line) > 20 && strings.Contains(err.Error(), tc.line[strings.IndexByte(tc.line, ':')+1:])) {
				t.Errorf("error quotes the hash or password: %v", err)
			}
		})
	}
}

func TestParsePasswordFileAllErrorsAndDuplicates(t *testing.T) {
	text := "alice:" + aliceHash + "\n" +
		"bob\n" +
		"alice:" + bobHash + "\n" +
		"carol:" + carolHash + "\n" +
		"carol:x\n"
	_, err := parsePasswordFile("passwd", text)
	want := "auth: passwd:2: missing ':' between user name and hash\n" +
		`auth: passwd:3: user "alice": duplicate, first on line 1` + "\n" +
		`auth: passwd:5: user "carol": duplicate, first on line 4`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestPasswordFileMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope")
	_, err := Load(Options{PasswordFile: p})
	want := "auth: " + p + ": cannot read: no such file or directory"
	if err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want %s wrapping fs.ErrNotExist", err, want)
	}
}

// The dummy hash for unknown users has the parameters most users have.
func TestDummyHashParameters(t *testing.T) {
	b5 := mustBcrypt("x", 5)
	cases := []struct{ name, text, want string }{
		{"empty file", "# nobody\n", "bcrypt 10"},
		{"bcrypt majority", "a:" + aliceHash + "\nb:" + bobHash + "\nc:" + b5 + "\nd:" + carolHash + "\n", "bcrypt 4"},
		{"argon2id majority", "a:" + carolHash + "\nb:" + carolHash + "\nc:" + b5 + "\n",
			"argon2id m=64,t=1,p=1 salt=12 key=32"},
	}
	for _, tc := range cases {
		if raceEnabled && tc.want == "bcrypt 10" {
			continue // seconds under the race detector
		}
		u, err := parsePasswordFile("passwd", tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.dummy.params(); got != tc.want {
			t.Errorf("%s: dummy %s, want %s", tc.name, got, tc.want)
		}
		if u.dummy.verify([]byte("")) || u.dummy.verify([]byte("alice-secret")) {
			t.Errorf("%s: dummy hash accepts a guessable password", tc.name)
		}
	}
}
