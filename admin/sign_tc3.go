package admin

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// TC3-HMAC-SHA256, Tencent Cloud API 3.0's signature, as Tencent documents it:
//
//	CanonicalRequest = Method \n / \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//	StringToSign     = TC3-HMAC-SHA256 \n X-TC-Timestamp \n Date/Service/tc3_request \n hex(sha256(CanonicalRequest))
//	kDate = HMAC("TC3"+SecretKey, Date); kSvc = HMAC(kDate, Service); kSign = HMAC(kSvc, "tc3_request")
//	Signature = hex(HMAC(kSign, StringToSign))
//
// Service is trocket for DescribeMQTTClient and mqtt for the 2024-05-16
// actions.
//
// There is no nonce and SDK retries resend byte-identical requests, so the
// only replay protection is the ±5 minute window.

const (
	tc3Algorithm  = "TC3-HMAC-SHA256"
	tc3Terminator = "tc3_request"
)

// tc3Auth is a parsed Authorization header: "TC3-HMAC-SHA256
// Credential=<SecretId>/<Date>/<Service>/tc3_request,
// SignedHeaders=content-type;host, Signature=<64 hex>". Its slices point
// into the header.
type tc3Auth struct {
	secretID, date, service []byte
	signedHeaders           []byte
	signature               []byte
}

// parseTC3Auth parses h, which starts with the algorithm name.
func parseTC3Auth(h []byte) (a tc3Auth, ok bool) {
	rest := h[len(tc3Algorithm):]
	if len(rest) == 0 || rest[0] != ' ' {
		return a, false
	}
	scope, signedHeaders, signature, ok := authParams(rest[1:])
	if !ok {
		return a, false
	}
	a.signedHeaders, a.signature = signedHeaders, signature
	// scope is SecretId/Date/Service/tc3_request; cut from the right.
	var term []byte
	for _, dst := range []*[]byte{&term, &a.service, &a.date} {
		i := bytes.LastIndexByte(scope, '/')
		if i < 0 {
			return a, false
		}
		*dst, scope = scope[i+1:], scope[:i]
	}
	a.secretID = scope
	ok = string(term) == tc3Terminator && len(a.secretID) > 0 && len(a.date) > 0 &&
		len(a.signedHeaders) > 0 && len(a.signature) > 0
	return a, ok
}

// verifyTC3 checks a TC3-HMAC-SHA256 request: the Authorization header, the
// timestamp window, the SecretId, then the signature.
//
// The credential scope names the service: trocket for DescribeMQTTClient,
// mqtt for the 2024-05-16 actions; for an unknown action either is taken.
func (s *Server) verifyTC3(ctx *fasthttp.RequestCtx, st *reqState, act action) failure {
	h := &ctx.Request.Header
	a, ok := parseTC3Auth(h.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		return failure{code: tcInvalidAuthorization,
			msg: "The Authorization header is not of the form TC3-HMAC-SHA256 Credential=<SecretId>/<date>/trocket/tc3_request, SignedHeaders=content-type;host, Signature=<hex>."}
	}
	tsText := h.Peek("X-TC-Timestamp")
	if len(tsText) == 0 {
		return failure{code: tcMissingParameter, msg: "The request is missing a required parameter `X-TC-Timestamp`."}
	}
	ts, ok := parseUnix(tsText)
	if !ok {
		return failure{code: tcInvalidParameterValue, msg: fmt.Sprintf("The value of `X-TC-Timestamp` %s is not a Unix time in seconds.", quote(tsText))}
	}
	if f := checkTencentWindow(ts, s.now(), "X-TC-Timestamp"); f.code != "" {
		return f
	}
	var dateBuf [10]byte
	date := time.Unix(ts, 0).UTC().AppendFormat(dateBuf[:0], time.DateOnly)
	if !bytes.Equal(date, a.date) {
		return failure{code: tcSignatureFailure,
			msg: fmt.Sprintf("The credential date %s is not %s, the UTC date of X-TC-Timestamp.", quote(a.date), date)}
	}
	service := serviceTrocket
	if act < numLimited {
		service = actionSpecs[act].service
	} else if string(a.service) == serviceMQTT {
		service = serviceMQTT
	}
	if string(a.service) != service {
		return failure{code: tcSignatureFailure, msg: fmt.Sprintf("The credential service %s is not %s.", quote(a.service), service)}
	}
	tc3Key, ok := s.creds.tc3[string(a.secretID)]
	if !ok {
		return failure{code: tcSecretIDNotFound, msg: fmt.Sprintf("The SecretId %s is not found.", quote(a.secretID))}
	}
	if !listHas(a.signedHeaders, "content-type") || !listHas(a.signedHeaders, "host") {
		return failure{code: tcInvalidAuthorization, msg: fmt.Sprintf("SignedHeaders %s must include content-type and host.", quote(a.signedHeaders))}
	}
	var want [32]byte
	if n, err := hex.Decode(want[:], a.signature); err != nil || n != len(want) || len(a.signature) != 2*len(want) {
		return failure{code: tcSignatureFailure, msg: "The signature is not 64 hex digits."}
	}
	// Tencent's doc lower-cases signed header values; the Go SDK signs them
	// as sent. Both are signatures by the key holder, so accept either.
	for _, lower := range [2]bool{true, false} {
		got, lowered := s.tc3Signature(ctx, st, &a, tc3Key, tsText, date, lower)
		if hmac.Equal(got[:], want[:]) {
			return failure{}
		}
		if !lowered {
			break // the raw values are the lower-cased ones: nothing else to try
		}
	}
	return failure{code: tcSignatureFailure,
		msg: "The provided credentials could not be validated: the TC3-HMAC-SHA256 signature does not match. Check the SecretKey, the Host header and the body."}
}

// tc3Signature computes the signature of the request with tc3Key, which is
// "TC3"+SecretKey; lowered reports
// whether lower-casing changed any signed header value.
func (s *Server) tc3Signature(ctx *fasthttp.RequestCtx, st *reqState, a *tc3Auth, tc3Key string, tsText, date []byte, lower bool) (sig [32]byte, lowered bool) {
	h := &ctx.Request.Header
	b := append(st.buf[:0], h.Method()...)
	b = append(b, "\n/\n"...)
	if !ctx.IsPost() {
		b = append(b, ctx.URI().QueryString()...) // as received
	}
	b = append(b, '\n')
	for rest := a.signedHeaders; len(rest) > 0; {
		name := rest
		if i := bytes.IndexByte(rest, ';'); i >= 0 {
			name, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		b = appendLower(b, name)
		b = append(b, ':')
		v := trimSpace(h.PeekBytes(name))
		if lower {
			n := len(b)
			b = appendLower(b, v)
			lowered = lowered || !bytes.Equal(b[n:], v)
		} else {
			b = append(b, v...)
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, a.signedHeaders...)
	b = append(b, '\n')
	if string(h.Peek("X-TC-Content-SHA256")) == "UNSIGNED-PAYLOAD" {
		b = appendSHA256Hex(b, []byte("UNSIGNED-PAYLOAD"))
	} else {
		b = appendSHA256Hex(b, ctx.PostBody())
	}
	st.buf = b

	t := append(st.sts[:0], tc3Algorithm+"\n"...)
	t = append(t, tsText...)
	t = append(t, '\n')
	t = append(t, date...)
	t = append(t, '/')
	t = append(t, a.service...)
	t = append(t, "/"+tc3Terminator+"\n"...)
	t = appendSHA256Hex(t, b)
	st.sts = t

	kDate := hmacSHA256(tc3Key, date)
	kSvc := hmacSHA256(kDate[:], a.service)
	kSign := hmacSHA256(kSvc[:], []byte(tc3Terminator))
	return hmacSHA256(kSign[:], t), lowered
}

// checkTencentWindow rejects a timestamp more than 5 minutes from now.
func checkTencentWindow(ts int64, now time.Time, name string) failure {
	skew := time.Duration(now.Unix()-ts) * time.Second
	if skew > tencentWindow || skew < -tencentWindow {
		return failure{code: tcSignatureExpire,
			msg: fmt.Sprintf("The signature has expired: %s %d is %v from server time %d; the window is ±%v.", name, ts, skew.Abs(), now.Unix(), tencentWindow)}
	}
	return failure{}
}

// parseUnix parses decimal Unix seconds without allocating.
func parseUnix(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// listHas reports whether the ";"-separated list holds name, ignoring case.
func listHas(list []byte, name string) bool {
	for len(list) > 0 {
		item := list
		if i := bytes.IndexByte(list, ';'); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			list = nil
		}
		if bytes.EqualFold(trimSpace(item), []byte(name)) {
			return true
		}
	}
	return false
}

// appendLower appends s with ASCII letters lower-cased.
func appendLower(dst, s []byte) []byte {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
