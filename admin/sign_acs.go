package admin

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"

	"github.com/valyala/fasthttp"
)

// Alibaba ACS3-HMAC-SHA256, the V3 signature of the darabonba SDKs, as
// Alibaba documents it:
//
//	CanonicalRequest = Method \n Path \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n x-acs-content-sha256
//	  CanonicalQuery   = join(sorted by key: pe(k) "=" pe(v), "&"), decoded then re-encoded as RPC
//	  CanonicalHeaders = for each SignedHeaders name: lower(name) ":" trim(value) "\n"
//	StringToSign = "ACS3-HMAC-SHA256\n" hex(sha256(CanonicalRequest))
//	Signature    = hex(HMAC_SHA256(AccessKeySecret, StringToSign))
//
// x-acs-content-sha256 must be the SHA-256 of the body, x-acs-date within
// ±15 minutes, and x-acs-signature-nonce single-use.

const acs3Algorithm = "ACS3-HMAC-SHA256"

// acs3Required are the headers every ACS3 request must sign.
var acs3Required = [...]string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce"}

// acs3Auth is a parsed Authorization header: "ACS3-HMAC-SHA256
// Credential=<AccessKeyId>,SignedHeaders=<a;b;c>,Signature=<64 hex>". Its
// slices point into the header.
type acs3Auth struct {
	algorithm, accessKeyID, signedHeaders, signature []byte
}

func parseACS3Auth(h []byte) (a acs3Auth, ok bool) {
	sp := bytes.IndexByte(h, ' ')
	if sp < 0 {
		return acs3Auth{algorithm: h}, false
	}
	a.algorithm = h[:sp]
	a.accessKeyID, a.signedHeaders, a.signature, ok = authParams(h[sp+1:])
	return a, ok && len(a.accessKeyID) > 0 && len(a.signedHeaders) > 0 && len(a.signature) > 0
}

// authParams parses the "Credential=…, SignedHeaders=…, Signature=…" list
// that follows the algorithm name in TC3 and ACS3 Authorization headers
// (commas, optional spaces, any order). ok is false when a part has no '='.
// The slices point into p.
func authParams(p []byte) (credential, signedHeaders, signature []byte, ok bool) {
	for rest := p; len(rest) > 0; {
		part := rest
		if i := bytes.IndexByte(rest, ','); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		name, val, found := bytes.Cut(trimSpace(part), []byte("="))
		if !found {
			return nil, nil, nil, false
		}
		switch string(name) {
		case "Credential":
			credential = val
		case "SignedHeaders":
			signedHeaders = val
		case "Signature":
			signature = val
		}
	}
	return credential, signedHeaders, signature, true
}

// verifyACS3 checks an ACS3-HMAC-SHA256 request: Authorization, date
// window, nonce present, signed headers, body hash, AccessKeyId, signature,
// and last the nonce's single use.
func (s *Server) verifyACS3(ctx *fasthttp.RequestCtx, st *reqState) failure {
	h := &ctx.Request.Header
	a, ok := parseACS3Auth(h.Peek(fasthttp.HeaderAuthorization))
	if string(a.algorithm) != acs3Algorithm {
		return failure{status: 400, code: alInvalidSignatureMethod,
			msg: "Specified signature method is not supported: " + quote(a.algorithm) + ".", hint: "use " + acs3Algorithm}
	}
	if !ok {
		return failure{status: 400, code: alIncompleteSignature,
			msg: "The request signature does not conform to Aliyun standards: want Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<names>,Signature=<hex>."}
	}
	date := h.Peek("x-acs-date")
	if len(date) == 0 {
		return failure{status: 400, code: alMissingTimestamp, msg: "x-acs-date is mandatory for this action."}
	}
	expiry, f := s.checkAlibabaTime(date, "x-acs-date")
	if f.code != "" {
		return f
	}
	nonce := h.Peek("x-acs-signature-nonce")
	if len(nonce) == 0 {
		return failure{status: 400, code: alMissingSignatureNonce, msg: "x-acs-signature-nonce is mandatory for this action."}
	}
	for _, name := range acs3Required {
		if !listHas(a.signedHeaders, name) {
			return failure{status: 400, code: alIncompleteSignature,
				msg: "The request signature does not conform to Aliyun standards: SignedHeaders " + quote(a.signedHeaders) + " leave out " + name + "."}
		}
	}
	contentHash := h.Peek("x-acs-content-sha256")
	st.buf = appendSHA256Hex(st.buf[:0], ctx.PostBody())
	if !bytes.Equal(contentHash, st.buf) {
		return failure{status: 400, code: alSignatureDoesNotMatch,
			msg: "Specified signature is not matched with our calculation: x-acs-content-sha256 " + quote(contentHash) + " is not the SHA-256 of the body."}
	}
	secret, ok := s.creds.alibaba[string(a.accessKeyID)]
	if !ok {
		return failure{status: 404, code: alInvalidAccessKeyIDNotFound, msg: "Specified access key is not found: " + quote(a.accessKeyID) + "."}
	}
	var want [32]byte
	if n, err := hex.Decode(want[:], a.signature); err != nil || n != len(want) || len(a.signature) != 2*len(want) {
		return failure{status: 400, code: alIncompleteSignature, msg: "The request signature does not conform to Aliyun standards: Signature is not 64 hex digits."}
	}

	b := append(st.buf[:0], h.Method()...)
	b = append(b, '\n')
	b = append(b, ctx.URI().PathOriginal()...)
	b = append(b, '\n')
	st.pairs = appendQueryParams(st.pairs, ctx)
	b = appendCanonicalParams(b, st.pairs)
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
		b = append(b, trimSpace(h.PeekBytes(name))...)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, a.signedHeaders...)
	b = append(b, '\n')
	b = append(b, contentHash...)
	st.buf = b

	t := append(st.sts[:0], acs3Algorithm+"\n"...)
	t = appendSHA256Hex(t, b)
	st.sts = t
	got := hmacSHA256(secret, t)
	if !hmac.Equal(got[:], want[:]) {
		return failure{status: 400, code: alSignatureDoesNotMatch, msg: signatureMismatch + string(t),
			hint: "check the AccessKeySecret; the canonical request was: " + string(b)}
	}
	return s.useNonce(a.accessKeyID, nonce, expiry)
}
