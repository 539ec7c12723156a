package codec_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// decodeCase is one row of a decoder's table: a frame in hex, one group per
// field, and what decoding it must give.
type decodeCase struct {
	name, frame string // name starts with the rule; frame is hex, one group per field
	err         error  // wanted with errors.Is; nil means accepted
	rule        string // wanted (*codec.Error).Rule
}

// unhex decodes hex with spaces between groups.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// runDecodeCases checks decode against every case: the error by identity and
// rule, n == len(frame) when accepted, and that every proper prefix of the
// frame gives either n == 0 and a nil error (wait for more) or the same error
// (a fixed header bad from its first bytes). It also checks that a byte after
// the packet changes nothing.
func runDecodeCases(t *testing.T, cases []decodeCase, decode func([]byte) (int, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.frame)
			n, err := decode(b)
			checkErr(t, err, tc.err, tc.rule)
			want := len(b)
			if tc.err != nil {
				want = 0
			}
			if n != want {
				t.Fatalf("got n %d, want %d", n, want)
			}
			for i := range len(b) {
				n, perr := decode(b[:i])
				if n != 0 || (perr != nil && (err == nil || perr.Error() != err.Error())) {
					t.Fatalf("prefix of %d bytes: got %d, %v; want 0, nil or %v", i, n, perr, err)
				}
			}
			longer := append(b[:len(b):len(b)], 0xff)
			if n, err2 := decode(longer); n != want || (err2 == nil) != (err == nil) {
				t.Fatalf("with a byte after the packet: got %d, %v; want %d, %v", n, err2, want, err)
			}
		})
	}
}

// checkErr checks err against the wanted sentinel and rule: identity, not text.
func checkErr(t *testing.T, err, want error, rule string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want errors.Is %v", err, want)
	}
	var e *codec.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %T %v, want *codec.Error", err, err)
	}
	if e.Rule != rule {
		t.Fatalf("got rule %q, want %q (error %v)", e.Rule, rule, err)
	}
}
