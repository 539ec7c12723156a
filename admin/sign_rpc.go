package admin

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// Alibaba RPC signature v1, HMAC-SHA1, as Alibaba documents it:
//
//	params        = query ∪ form body, minus Signature, decoded
//	Canonicalized = join(sorted by key: pe(k) "=" pe(v), "&")   (empty values kept: "SignatureType=")
//	StringToSign  = HTTPMethod "&" pe("/") "&" pe(Canonicalized)
//	Signature     = base64(HMAC_SHA1(AccessKeySecret + "&", StringToSign))
//
// pe is RFC 3986 percent-encoding (appendPercent). The query is decoded and
// re-encoded, never used raw: the URL carries spaces as "+", the signature
// wants "%20".

// alibabaTimeLayout is the format of RPC Timestamp and ACS3 x-acs-date.
const alibabaTimeLayout = "2006-01-02T15:04:05Z"

// signatureMismatch is the message prefix of SignatureDoesNotMatch; the
// classic SDK compares the string to sign after it with its own.
const signatureMismatch = "Specified signature is not matched with our calculation. server string to sign is:"

// verifyRPC checks an RPC v1 request: signature parameters, timestamp
// window, AccessKeyId, signature, and last the nonce, so that forged
// requests cannot burn nonces.
func (s *Server) verifyRPC(ctx *fasthttp.RequestCtx, st *reqState) failure {
	accessKeyID, _ := formParam(ctx, "AccessKeyId")
	sig, _ := formParam(ctx, "Signature")
	method, ok := formParam(ctx, "SignatureMethod")
	switch {
	case !ok:
		return failure{status: 400, code: alIncompleteSignature, msg: "The request signature does not conform to Aliyun standards: SignatureMethod is missing."}
	case string(method) != "HMAC-SHA1":
		return failure{status: 400, code: alInvalidSignatureMethod, msg: "Specified signature method is not supported: " + quote(method) + ".", hint: "use HMAC-SHA1"}
	}
	version, ok := formParam(ctx, "SignatureVersion")
	switch {
	case !ok:
		return failure{status: 400, code: alIncompleteSignature, msg: "The request signature does not conform to Aliyun standards: SignatureVersion is missing."}
	case string(version) != "1.0":
		return failure{status: 400, code: alInvalidSignatureVersion, msg: "Specified signature version is not supported: " + quote(version) + ".", hint: "use 1.0"}
	}
	tsText, ok := formParam(ctx, "Timestamp")
	if !ok {
		return failure{status: 400, code: alMissingTimestamp, msg: "Timestamp is mandatory for this action."}
	}
	expiry, f := s.checkAlibabaTime(tsText, "Timestamp")
	if f.code != "" {
		return f
	}
	nonce, _ := formParam(ctx, "SignatureNonce")
	if len(nonce) == 0 {
		return failure{status: 400, code: alMissingSignatureNonce, msg: "SignatureNonce is mandatory for this action."}
	}
	key, ok := s.creds.rpc[string(accessKeyID)]
	if !ok {
		return failure{status: 404, code: alInvalidAccessKeyIDNotFound, msg: "Specified access key is not found: " + quote(accessKeyID) + "."}
	}

	st.pairs = appendFormParams(st.pairs, ctx)
	st.buf = appendCanonicalParams(st.buf[:0], st.pairs)
	t := append(st.sts[:0], ctx.Method()...)
	t = append(t, "&%2F&"...) // "&" pe("/") "&"
	t = appendPercent(t, st.buf)
	st.sts = t

	mac := hmacSHA1(key, t)
	var enc [28]byte // base64 of 20 bytes
	base64.StdEncoding.Encode(enc[:], mac[:])
	if subtle.ConstantTimeCompare(enc[:], sig) != 1 {
		return failure{status: 400, code: alSignatureDoesNotMatch, msg: signatureMismatch + string(t),
			hint: "check the AccessKeySecret, and that the string to sign above is the one you signed"}
	}
	return s.useNonce(accessKeyID, nonce, expiry)
}

// checkAlibabaTime parses an RPC Timestamp or ACS3 x-acs-date and checks the
// ±15 minute window. It returns when the request stops being acceptable.
func (s *Server) checkAlibabaTime(text []byte, name string) (expiry time.Time, f failure) {
	ts, err := time.Parse(alibabaTimeLayout, string(text))
	if err != nil {
		return ts, failure{status: 400, code: alInvalidTimeStampFormat,
			msg:  "Specified time stamp or date value is not well formatted: " + name + " " + quote(text) + ".",
			hint: "use UTC, such as 2026-11-21T22:20:43Z"}
	}
	now := s.now()
	if skew := now.Sub(ts); skew > alibabaWindow || skew < -alibabaWindow {
		return ts, failure{status: 400, code: alInvalidTimeStampExpired,
			msg: fmt.Sprintf("Specified time stamp or date value is expired: %s %s is %v from server time %s; the window is ±%v.",
				name, quote(text), skew.Abs().Round(time.Second), now.UTC().Format(alibabaTimeLayout), alibabaWindow),
			hint: "check the client's clock"}
	}
	return ts.Add(alibabaWindow), failure{}
}

// useNonce makes a verified request's nonce single-use until expiry.
func (s *Server) useNonce(accessKeyID, nonce []byte, expiry time.Time) failure {
	key := make([]byte, 0, len(accessKeyID)+1+len(nonce))
	key = append(append(append(key, accessKeyID...), 0), nonce...)
	switch s.nonces.use(string(key), expiry, s.now()) {
	case nonceUsed:
		return failure{status: 400, code: alSignatureNonceUsed, msg: "Specified signature nonce was used already: " + quote(nonce) + ".",
			hint: "send a new random nonce with every request"}
	case nonceFull:
		return failure{status: 500, code: alSystemOverFlow, msg: "An error occurred while processing your request. Please try again. (too many signature nonces held)"}
	}
	return failure{}
}
