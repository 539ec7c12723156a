package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/glassmq/glassmq/auth"
)

// TestSCRAMMethods: glassmq offers SCRAM-SHA-256 and nothing else, and no
// method at all without a password file (a nil interface, not a nil
// *auth.SCRAM in one, which the broker would take for an offer).
func TestSCRAMMethods(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	entry, err := auth.SCRAMHash([]byte("pw"), auth.SCRAMIterations)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte("dave:"+entry+"\n"), 0o600)
	withFile, err := auth.Load(auth.Options{PasswordFile: file})
	if err != nil {
		t.Fatal(err)
	}
	without, err := auth.Load(auth.Options{AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if x := (scramMethods{withFile}).Start("SCRAM-SHA-256"); x == nil {
		t.Error("SCRAM-SHA-256 with a password file: not offered")
	}
	for _, m := range []string{"SCRAM-SHA-1", "scram-sha-256", "PLAIN", ""} {
		if x := (scramMethods{withFile}).Start(m); x != nil {
			t.Errorf("method %q offered, want nil", m)
		}
	}
	if x := (scramMethods{without}).Start("SCRAM-SHA-256"); x != nil {
		t.Errorf("SCRAM-SHA-256 without a password file: %#v, want nil", x)
	}
}
