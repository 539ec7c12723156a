package auth

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

// RFC 7677 section 3: user "user", password "pencil", its salt, iteration
// count and nonces, and the proof and server signature they give.
const (
	rfcSalt        = "W22ZaJ0SNY7soEsUEjb6gQ=="
	rfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

// rfcEntry returns the password-file entry of RFC 7677's user: keys
// derived from "pencil" with the RFC's salt.
func rfcEntry(t testing.TB) string {
	t.Helper()
	salt, _ := base64.StdEncoding.DecodeString(rfcSalt)
	k, err := deriveSCRAM([]byte("pencil"), salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return k.String()
}

// scramChecker loads a password file with text.
func scramChecker(t *testing.T, text string) *Checker {
	t.Helper()
	c, err := Load(Options{PasswordFile: writeFile(t, t.TempDir(), "passwd", text)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSCRAMRFC7677 runs RFC 7677's example conversation against a password
// file holding the keys derived from its password: the server must answer
// the RFC's server-first and server-final messages byte for byte.
func TestSCRAMRFC7677(t *testing.T) {
	testHookSCRAMNonce = func() string { return rfcServerNonce }
	t.Cleanup(func() { testHookSCRAMNonce = nil })
	c := scramChecker(t, "user:"+rfcEntry(t)+"\n")
	s := c.StartSCRAM()
	out, done, err := s.Step([]byte(rfcClientFirst))
	if err != nil || done || string(out) != rfcServerFirst {
		t.Fatalf("client-first: %q, done %v, err %v; want %q", out, done, err, rfcServerFirst)
	}
	out, done, err = s.Step([]byte(rfcClientFinal))
	if err != nil || !done || string(out) != rfcServerFinal {
		t.Fatalf("client-final: %q, done %v, err %v; want %q", out, done, err, rfcServerFinal)
	}
	if s.User() != "user" {
		t.Fatalf("User %q, want \"user\"", s.User())
	}
	if _, _, err := s.Step([]byte(rfcClientFinal)); !errors.Is(err, ErrSCRAM) {
		t.Fatalf("third message: err %v, want ErrSCRAM", err)
	}
}

// TestSCRAMKeysRFC7677 pins the stored form of the RFC's keys: the salt and
// count as given, StoredKey and ServerKey as computed by hand from the
// RFC's ClientProof and ServerSignature.
func TestSCRAMKeysRFC7677(t *testing.T) {
	e := rfcEntry(t)
	want := "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
	if e != want {
		t.Fatalf("entry %q, want %q", e, want)
	}
	h, err := parseHash(e)
	if err != nil || h.scram == nil || h.scram.String() != e {
		t.Fatalf("parseHash(%q): %v, %v", e, h, err)
	}
}

// converse runs a whole conversation of the library's client for user and
// password against c and returns the final error.
func converse(t *testing.T, c *Checker, user, password string) (string, error) {
	t.Helper()
	cl, err := scram.SHA256.NewClient(user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	conv := cl.NewConversation()
	s := c.StartSCRAM()
	first, _ := conv.Step("")
	sfirst, done, err := s.Step([]byte(first))
	if err != nil || done {
		return "", err
	}
	final, err := conv.Step(string(sfirst))
	if err != nil {
		t.Fatalf("client refused server-first %q: %v", sfirst, err)
	}
	sfinal, done, err := s.Step([]byte(final))
	if err != nil {
		return "", err
	}
	if !done {
		t.Fatal("not done after client-final")
	}
	if _, err := conv.Step(string(sfinal)); err != nil {
		t.Fatalf("client refused server-final %q: %v", sfinal, err)
	}
	return s.User(), nil
}

func TestSCRAMConversation(t *testing.T) {
	entry, err := SCRAMHash([]byte("d4ve-pw"), SCRAMIterations)
	if err != nil {
		t.Fatal(err)
	}
	c := scramChecker(t, "dave:"+entry+"\nalice:"+aliceHash+"\ncarol:"+carolHash+"\n")
	if u, err := converse(t, c, "dave", "d4ve-pw"); err != nil || u != "dave" {
		t.Fatalf("right password: user %q, err %v", u, err)
	}
	for _, tc := range []struct{ name, user, pw, why string }{
		{"wrong password", "dave", "d4ve-pw!", "invalid"},
		{"unknown user", "mallory", "x", "unknown user"},
		{"bcrypt entry", "alice", "alice-secret", "bcrypt or argon2id"},
		{"argon2id entry", "carol", "carol-secret", "bcrypt or argon2id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := converse(t, c, tc.user, tc.pw)
			if !errors.Is(err, ErrSCRAM) || u != "" || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("user %q, err %v; want ErrSCRAM saying %q", u, err, tc.why)
			}
			if strings.Contains(err.Error(), tc.pw) {
				t.Fatalf("error %q holds the password", err)
			}
		})
	}
}

// TestSCRAMUnknownUserSalt: the made-up salt of a user who cannot use SCRAM
// is the same on every attempt, as a real user's is, so that asking twice
// does not tell the two apart; and its iteration count is the real users'.
func TestSCRAMUnknownUserSalt(t *testing.T) {
	c := scramChecker(t, "user:"+rfcEntry(t)+"\n")
	first := func(user string) string {
		out, _, err := c.StartSCRAM().Step([]byte("n,,n=" + user + ",r=abcdefgh"))
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(string(out), ",")
		return rest // "s=...,i=..."
	}
	a, b, other := first("mallory"), first("mallory"), first("trudy")
	if a != b || a == other || !strings.HasSuffix(a, ",i=4096") {
		t.Fatalf("salts %q, %q, %q: want the first two equal, the third different, i=4096", a, b, other)
	}
}

func TestSCRAMMalformed(t *testing.T) {
	c := scramChecker(t, "user:"+rfcEntry(t)+"\n")
	for _, tc := range []struct{ name, first, final string }{
		{"empty", "", ""},
		{"no nonce", "n,,n=user", ""},
		{"channel binding required", "p=tls-unique,,n=user,r=abc", ""},
		{"empty channel binding flag", ",,n=user,r=abc", ""}, // panicked inside the library
		{"extension", "n,,m=ext,n=user,r=abc", ""},
		{"authzid of another user", "n,a=admin,n=user,r=abc", ""},
		{"too long", "n,,n=user,r=" + strings.Repeat("a", MaxSCRAMMessage), ""},
		{"final nonce differs", rfcClientFirst, "c=biws,r=other,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="},
		{"final not base64", rfcClientFirst, "c=biws,r=x,p=!!"},
		{"final garbage", rfcClientFirst, "garbage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := c.StartSCRAM()
			_, done, err := s.Step([]byte(tc.first))
			if tc.final == "" {
				if !errors.Is(err, ErrSCRAM) || !done {
					t.Fatalf("client-first %q: done %v, err %v; want done, ErrSCRAM", tc.first, done, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, done, err = s.Step([]byte(tc.final)); !errors.Is(err, ErrSCRAM) || !done || s.User() != "" {
				t.Fatalf("client-final %q: done %v, err %v, user %q; want done, ErrSCRAM", tc.final, done, err, s.User())
			}
		})
	}
}

// TestSCRAMPlainPassword: a plain CONNECT password is checked against a
// SCRAM entry by deriving its keys, and unknown users cost the same kind of
// check when most users are SCRAM users.
func TestSCRAMPlainPassword(t *testing.T) {
	c := scramChecker(t, "user:"+rfcEntry(t)+"\n")
	for _, tc := range []struct {
		user, pw string
		want     byte
	}{
		{"user", "pencil", Accepted},
		{"user", "pencil2", BadCredentials},
		{"user", "", BadCredentials},
		{"nobody", "pencil", BadCredentials},
		{"user", "pen\x00cil", BadCredentials}, // SASLprep refuses control characters
	} {
		if code, _ := c.Authenticate("c", tc.user, []byte(tc.pw), true, true, ""); code != tc.want {
			t.Errorf("%s/%q: code %d, want %d", tc.user, tc.pw, code, tc.want)
		}
	}
	var seen []*hash
	testHookVerify = func(h *hash) { seen = append(seen, h) }
	t.Cleanup(func() { testHookVerify = nil })
	c.Authenticate("c", "nobody", []byte("pw"), true, true, "")
	if len(seen) != 1 || seen[0].scram == nil || seen[0].scram.iters != 4096 {
		t.Fatalf("unknown user verified against %v, want one SCRAM check at 4096 iterations", seen)
	}
}

func TestSCRAMNoPasswordFile(t *testing.T) {
	c, err := Load(Options{AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.StartSCRAM(); s != nil {
		t.Fatal("StartSCRAM without a password file: want nil, the method is not offered")
	}
}

func TestParseSCRAM(t *testing.T) {
	good := rfcEntry(t)
	_, keys, _ := strings.Cut(strings.TrimPrefix(good, scramPrefix), "$")
	for _, tc := range []struct{ name, entry, want string }{
		{"no keys", "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==", "malformed"},
		{"no salt", "SCRAM-SHA-256$4096$" + keys, "malformed"},
		{"iterations too few", "SCRAM-SHA-256$1000:W22ZaJ0SNY7soEsUEjb6gQ==$" + keys, "iteration count 1000"},
		{"iterations too many", "SCRAM-SHA-256$99999999:W22ZaJ0SNY7soEsUEjb6gQ==$" + keys, "iteration count"},
		{"iterations not a number", "SCRAM-SHA-256$x:W22ZaJ0SNY7soEsUEjb6gQ==$" + keys, "malformed"},
		{"salt too short", "SCRAM-SHA-256$4096:AAAA$" + keys, "salt"},
		{"stored key short", "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:" + strings.SplitN(keys, ":", 2)[1], "StoredKey"},
		{"server key not base64", "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" + strings.SplitN(keys, ":", 2)[0] + ":!!", "ServerKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parsePasswordFile("pw", "u:"+tc.entry+"\n")
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line != 1 || !strings.Contains(fe.Detail, tc.want) {
				t.Fatalf("err %v; want a FileError on line 1 saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), keys) {
				t.Fatalf("error %q holds the keys", err)
			}
		})
	}
}

func TestRunPasswdSCRAM(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	code, out, errOut := passwd("pencil\n", "-hash", "scram-sha-256", file, "user")
	if code != 0 || out != "added user \"user\"\n" || errOut != "" {
		t.Fatalf("add: %d %q %q", code, out, errOut)
	}
	b, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(b), "user:SCRAM-SHA-256$4096:") {
		t.Fatalf("file %q, want a SCRAM-SHA-256 entry with 4096 iterations", b)
	}
	if !login(t, file, "user", "pencil") || login(t, file, "user", "pencil!") {
		t.Fatal("plain password against the written SCRAM entry")
	}
	c := scramChecker(t, string(b))
	if u, err := converse(t, c, "user", "pencil"); err != nil || u != "user" {
		t.Fatalf("SCRAM against the written entry: %q, %v", u, err)
	}

	code, _, _ = passwd("pencil\n", "-hash", "scram-sha-256", "-iterations", "8192", file, "user")
	b, _ = os.ReadFile(file)
	if code != 0 || !strings.HasPrefix(string(b), "user:SCRAM-SHA-256$8192:") {
		t.Fatalf("-iterations 8192: %d, file %q", code, b)
	}
	for _, args := range [][]string{
		{"-hash", "scram-sha-256", "-iterations", "100", file, "u"},
		{"-hash", "bcrypt", "-iterations", "8192", file, "u"},
		{"-hash", "scram-sha-256", "-cost", "5", file, "u"},
		{"-hash", "scram", file, "u"},
	} {
		if code, _, errOut := passwd("pw\n", args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("%q: status %d, stderr %q; want 2 with the usage", args, code, errOut)
		}
	}
}
