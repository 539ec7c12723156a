package auth

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Hashes at low cost, so that tests run fast.
var (
	aliceHash = mustBcrypt("alice-secret", bcrypt.MinCost)
	bobHash   = mustBcrypt("bob-secret", bcrypt.MinCost)
	// carol-secret with argon2id, m=64 KiB, t=1, p=1, made by the reference
	// implementation's command line tool (Debian's argon2 package):
	// echo -n carol-secret | argon2 saltsaltsalt -id -t 1 -m 6 -p 1 -l 32 -e
	carolHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$cj6Pr97s2stH0rxXu2PoCpUDJae+uVNScfnJ8nTBqLE"
)

func mustBcrypt(pw string, cost int) string {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// writeFile writes text to name in t's temporary directory and returns its
// path.
func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// countVerify counts hash verifications until the test ends.
func countVerify(t *testing.T) *int {
	n := new(int)
	testHookVerify = func(*hash) { *n++ }
	t.Cleanup(func() { testHookVerify = nil })
	return n
}
