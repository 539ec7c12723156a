package admin

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"

	"github.com/valyala/fasthttp"
)

// Tencent's legacy signature, HmacSHA1 or HmacSHA256 as Tencent documents
// it, chosen by ClientProfile.SignMethod in the SDK:
//
//	StringToSign = Method + Host + "/" + "?" + join(sorted k "=" v, "&")   (every param but Signature, raw decoded values)
//	Signature    = base64(HMAC_alg(SecretKey, StringToSign))
//
// Every parameter is a form field, in the query (GET) or the body (POST).
// The Nonce parameter is not remembered: SDK retries resend identical
// requests, as with TC3, so the ±5 minute window is the replay protection.

// verifyTencentLegacy checks a HmacSHA1/HmacSHA256 request.
func (s *Server) verifyTencentLegacy(ctx *fasthttp.RequestCtx, st *reqState) failure {
	secretID, _ := formParam(ctx, "SecretId")
	sig, _ := formParam(ctx, "Signature")
	if len(sig) == 0 {
		return failure{code: tcMissingParameter, msg: "The request is missing a required parameter `Signature`."}
	}
	tsText, ok := formParam(ctx, "Timestamp")
	if !ok {
		return failure{code: tcMissingParameter, msg: "The request is missing a required parameter `Timestamp`."}
	}
	ts, ok := parseUnix(tsText)
	if !ok {
		return failure{code: tcInvalidParameterValue, msg: fmt.Sprintf("The value of parameter `Timestamp` %s is not a Unix time in seconds.", quote(tsText))}
	}
	if f := checkTencentWindow(ts, s.now(), "Timestamp"); f.code != "" {
		return f
	}
	method, _ := formParam(ctx, "SignatureMethod")
	sha256 := false
	switch string(method) {
	case "", "HmacSHA1": // the SDK's default
	case "HmacSHA256":
		sha256 = true
	default:
		return failure{code: tcInvalidParameterValue,
			msg: fmt.Sprintf("The value of parameter `SignatureMethod` %s is invalid; want HmacSHA1 or HmacSHA256.", quote(method))}
	}
	secret, ok := s.creds.tencent[string(secretID)]
	if !ok {
		return failure{code: tcSecretIDNotFound, msg: fmt.Sprintf("The SecretId %s is not found.", quote(secretID))}
	}

	st.pairs = appendFormParams(st.pairs, ctx)
	t := append(st.sts[:0], ctx.Method()...)
	t = append(t, ctx.Request.Header.Host()...)
	t = append(t, "/?"...)
	for i, p := range st.pairs {
		if i > 0 {
			t = append(t, '&')
		}
		t = append(t, p.k...)
		t = append(t, '=')
		t = append(t, p.v...)
	}
	st.sts = t

	var mac []byte
	if sha256 {
		m := hmacSHA256(secret, t)
		mac = m[:]
	} else {
		m := hmacSHA1(secret, t)
		mac = m[:]
	}
	var enc [44]byte // base64 of 32 bytes
	got := enc[:base64.StdEncoding.EncodedLen(len(mac))]
	base64.StdEncoding.Encode(got, mac)
	if subtle.ConstantTimeCompare(got, sig) != 1 {
		return failure{code: tcSignatureFailure,
			msg: fmt.Sprintf("The provided credentials could not be validated: the %s signature does not match. Check the SecretKey and the Host.", signMethodName(sha256))}
	}
	return failure{}
}

func signMethodName(sha256 bool) string {
	if sha256 {
		return "HmacSHA256"
	}
	return "HmacSHA1"
}
