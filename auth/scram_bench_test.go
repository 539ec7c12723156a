package auth

import (
	"testing"
)

// BenchmarkSCRAMServer is the broker's whole share of one SCRAM-SHA-256
// login (RFC 7677's example conversation): StartSCRAM and the two Steps,
// what runs on an event loop per CONNECT.
func BenchmarkSCRAMServer(b *testing.B) {
	testHookSCRAMNonce = func() string { return rfcServerNonce }
	b.Cleanup(func() { testHookSCRAMNonce = nil })
	c, err := Load(Options{PasswordFile: writeFile(b, b.TempDir(), "passwd", "user:"+rfcEntry(b)+"\n")})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := c.StartSCRAM()
		if _, _, err := s.Step([]byte(rfcClientFirst)); err != nil {
			b.Fatal(err)
		}
		if _, done, err := s.Step([]byte(rfcClientFinal)); err != nil || !done {
			b.Fatal(err)
		}
	}
}

// BenchmarkSCRAMPlainPassword is a plain CONNECT password checked against a
// SCRAM entry of 4096 iterations: one PBKDF2 run, on the password workers.
func BenchmarkSCRAMPlainPassword(b *testing.B) {
	c, err := Load(Options{PasswordFile: writeFile(b, b.TempDir(), "passwd", "user:"+rfcEntry(b)+"\n")})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if code, _ := c.Authenticate("c", "user", []byte("pencil"), true, true, ""); code != Accepted {
			b.Fatal(code)
		}
	}
}
