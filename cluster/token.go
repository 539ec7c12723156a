package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// Token encoding. NATS subject tokens may not contain '.', whitespace or
// be the wildcards '*' and '>', and JetStream key-value keys allow only
// letters, digits and "-/_=.". EncodeToken maps any string to the
// intersection of the two alphabets, letters, digits, '-', '_' and '=':
//
//   - ASCII letters, digits and '-' stand for themselves;
//   - every other byte b becomes '_' and two upper-case hex digits ("." is
//     "_2E", " " is "_20", "é" is "_C3_A9");
//   - the empty string becomes "=" (a subject token may not be empty), and
//     '=' appears nowhere else.
//
// The common cases (device names, plain topic levels) stay readable in
// NATS tools, and the encoding is a bijection, so equal tokens mean equal
// strings: subject matching on encoded tokens is exact.

const hexDigits = "0123456789ABCDEF"

// emptyToken is the encoding of the empty string.
const emptyToken = "="

// ErrToken is returned by DecodeToken for a string EncodeToken cannot have
// produced.
var ErrToken = errors.New("cluster: not an encoded token")

// plain reports whether b stands for itself in a token.
func plain(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-'
}

// EncodeToken returns s as one NATS subject token that is also a valid
// JetStream key-value key; DecodeToken reverses it. Safe for concurrent use.
func EncodeToken(s string) string {
	if s == "" {
		return emptyToken
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	return string(appendToken(make([]byte, 0, len(s)+2*n), s))
}

// appendToken appends the encoding of s to dst.
func appendToken[T ~string | ~[]byte](dst []byte, s T) []byte {
	if len(s) == 0 {
		return append(dst, emptyToken...)
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if plain(b) {
			dst = append(dst, b)
		} else {
			dst = append(dst, '_', hexDigits[b>>4], hexDigits[b&15])
		}
	}
	return dst
}

// DecodeToken returns the string EncodeToken encoded as t. It returns an
// error wrapping ErrToken for anything else: a character outside the
// alphabet, a '_' not followed by two upper-case hex digits, an escaped
// byte that needed no escape, or "=" anywhere but alone. Safe for
// concurrent use.
func DecodeToken(t string) (string, error) {
	if t == emptyToken {
		return "", nil
	}
	if t == "" {
		return "", fmt.Errorf("%w: empty", ErrToken)
	}
	if strings.IndexByte(t, '_') < 0 {
		for i := 0; i < len(t); i++ {
			if !plain(t[i]) {
				return "", fmt.Errorf("%w: %q has %q at byte %d", ErrToken, cut(t), t[i], i)
			}
		}
		return t, nil
	}
	b := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case plain(c):
			b = append(b, c)
		case c == '_' && i+2 < len(t) && unhex(t[i+1]) >= 0 && unhex(t[i+2]) >= 0:
			v := byte(unhex(t[i+1])<<4 | unhex(t[i+2]))
			if plain(v) {
				return "", fmt.Errorf("%w: %q escapes %q at byte %d, which stands for itself", ErrToken, cut(t), v, i)
			}
			b = append(b, v)
			i += 2
		default:
			return "", fmt.Errorf("%w: %q has %q at byte %d", ErrToken, cut(t), c, i)
		}
	}
	return string(b), nil
}

// unhex returns the value of an upper-case hex digit, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// cut shortens client text for an error message.
func cut(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
