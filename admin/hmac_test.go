package admin

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"strings"
	"testing"
)

// TestHMAC checks the allocation-free HMACs against crypto/hmac, for keys
// shorter than, equal to and longer than a block.
func TestHMAC(t *testing.T) {
	var scratch []byte
	for _, key := range []string{"", "k", strings.Repeat("a", 63), strings.Repeat("b", 64), strings.Repeat("c", 65), strings.Repeat("d", 200)} {
		for _, msg := range []string{"", "message", strings.Repeat("m", 1000)} {
			m := hmac.New(sha256.New, []byte(key))
			m.Write([]byte(msg))
			if got := hmacSHA256(&scratch, key, []byte(msg)); !hmac.Equal(got[:], m.Sum(nil)) {
				t.Errorf("hmacSHA256(key %d bytes, msg %d bytes) differs from crypto/hmac", len(key), len(msg))
			}
			if got := hmacSHA256(&scratch, []byte(key), []byte(msg)); !hmac.Equal(got[:], m.Sum(nil)) {
				t.Errorf("hmacSHA256([]byte key %d bytes) differs", len(key))
			}
			m = hmac.New(sha1.New, []byte(key))
			m.Write([]byte(msg))
			if got := hmacSHA1(&scratch, key, []byte(msg)); !hmac.Equal(got[:], m.Sum(nil)) {
				t.Errorf("hmacSHA1(key %d bytes, msg %d bytes) differs from crypto/hmac", len(key), len(msg))
			}
		}
	}
}

func TestAppendPercent(t *testing.T) {
	for in, want := range map[string]string{
		"":           "",
		"azAZ09-_.~": "azAZ09-_.~",
		" ":          "%20",
		"*":          "%2A",
		"+&=/":       "%2B%26%3D%2F",
		"é":          "%C3%A9",
		weirdID:      "GID_test%40%40%40dev%201%2A~%2F%C3%A9%2B%26%3D",
		"%":          "%25",
	} {
		if got := string(appendPercent(nil, []byte(in))); got != want || got != testPE(in) {
			t.Errorf("appendPercent(%q) = %q, want %q (testPE %q)", in, got, want, testPE(in))
		}
	}
}
