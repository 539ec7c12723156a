package admin

import (
	"bytes"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// kv is one decoded request parameter. Its slices point into fasthttp's
// parsed arguments and are valid until the handler returns.
type kv struct{ k, v []byte }

// formParam returns the decoded value of parameter name from the query
// string, else from an application/x-www-form-urlencoded body: the RPC and
// Tencent legacy parameter set, query ∪ form body.
func formParam(ctx *fasthttp.RequestCtx, name string) (v []byte, ok bool) {
	if q := ctx.QueryArgs(); q.Has(name) {
		return q.Peek(name), true
	}
	if p := ctx.PostArgs(); p.Has(name) {
		return p.Peek(name), true
	}
	return nil, false
}

// appendFormParams appends every query and form-body parameter except
// "Signature" to dst, sorted by key then value.
func appendFormParams(dst []kv, ctx *fasthttp.RequestCtx) []kv {
	dst = dst[:0]
	for _, args := range [2]*fasthttp.Args{ctx.QueryArgs(), ctx.PostArgs()} {
		for k, v := range args.All() {
			if string(k) != "Signature" {
				dst = append(dst, kv{k, v})
			}
		}
	}
	sortParams(dst)
	return dst
}

// appendQueryParams appends every query parameter to dst, sorted by key then
// value.
func appendQueryParams(dst []kv, ctx *fasthttp.RequestCtx) []kv {
	dst = dst[:0]
	for k, v := range ctx.QueryArgs().All() {
		dst = append(dst, kv{k, v})
	}
	sortParams(dst)
	return dst
}

func sortParams(p []kv) {
	slices.SortFunc(p, func(a, b kv) int {
		if c := bytes.Compare(a.k, b.k); c != 0 {
			return c
		}
		return bytes.Compare(a.v, b.v)
	})
}

// appendPercent appends s percent-encoded as Alibaba's signatures want
// (RFC 3986): A-Z a-z 0-9 - _ . ~ stay, every other byte becomes %XX with
// upper-case hex, so a space is %20, "*" is %2A and "~" stays "~".
func appendPercent(dst, s []byte) []byte {
	const upperHex = "0123456789ABCDEF"
	for _, c := range s {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
	}
	return dst
}

// appendCanonicalParams appends pe(k)=pe(v) pairs joined by "&", the
// canonicalized query string of both Alibaba signatures.
func appendCanonicalParams(dst []byte, p []kv) []byte {
	for i, x := range p {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = appendPercent(dst, x.k)
		dst = append(dst, '=')
		dst = appendPercent(dst, x.v)
	}
	return dst
}

// maxClientID is the longest client ID MQTT can carry: a UTF-8 string with a
// 16-bit length [MQTT-1.5.3].
const maxClientID = 65535

// validClientID reports whether id could be an MQTT client ID: 1 to 65535
// bytes of UTF-8 without U+0000 [MQTT-1.5.3-1], [MQTT-1.5.3-2].
func validClientID(id string) bool {
	return len(id) > 0 && len(id) <= maxClientID && utf8.ValidString(id) && strings.IndexByte(id, 0) < 0
}

// trimSpace trims ASCII spaces and tabs, as header values are trimmed for
// signing.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func hasPrefixFold(s []byte, prefix string) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], []byte(prefix))
}
