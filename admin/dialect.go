package admin

import (
	"strconv"

	"github.com/valyala/fasthttp"
)

// scheme is how a cloud request is signed, which also says where its
// parameters are, as the official SDKs send them.
type scheme uint8

const (
	schemeNone          scheme = iota
	schemeTC3                  // Tencent TC3-HMAC-SHA256: params in the JSON body (POST) or query (GET), action in X-TC-Action
	schemeTencentLegacy        // Tencent HmacSHA1/HmacSHA256: every param a form field (query or POST body)
	schemeACS3                 // Alibaba ACS3-HMAC-SHA256: params in query ∪ form body, action in x-acs-action
	schemeRPC                  // Alibaba RPC signature v1: params in query ∪ form body
)

var schemeNames = [...]string{"none", "TC3-HMAC-SHA256", "HmacSHA1/HmacSHA256", "ACS3-HMAC-SHA256", "RPC HMAC-SHA1"}

func (s scheme) String() string { return schemeNames[s] }

// dialect is the result of detect.
type dialect struct {
	scheme scheme
	// signed is false when the request carries no signature of its scheme
	// and was recognised by the fallbacks for unsigned requests; it is then
	// accepted only while no credentials are configured.
	signed bool
}

// Versions and actions of the two clouds.
const (
	tencentVersion = "2023-03-08"
	alibabaVersion = "2020-04-20"
	describeAction = "DescribeMQTTClient"
	queryAction    = "QuerySessionByClientId"
)

// detect tells the dialect of a request to "/", trying in this order:
//
//  1. Authorization starts "TC3-HMAC-SHA256": Tencent TC3.
//  2. Authorization starts "ACS3-": Alibaba ACS3.
//  3. A SecretId parameter: Tencent legacy.
//  4. AccessKeyId and Signature parameters: Alibaba RPC.
//
// x-acs-action alone is not ACS3: the classic Alibaba SDK sends it with RPC.
// Unsigned requests (accepted only without credentials) fall back to:
//
//  5. An X-TC-Action header: Tencent, TC3 parameter style.
//  6. An Action parameter: Tencent legacy style when Version is 2023-03-08
//     or 2024-05-16 or the action is a Tencent one, else Alibaba RPC.
//  7. An x-acs-action header: Alibaba, ACS3 style.
//
// Header names match in any case; so do the signature algorithm names.
func detect(ctx *fasthttp.RequestCtx) dialect {
	h := &ctx.Request.Header
	auth := h.Peek(fasthttp.HeaderAuthorization)
	switch {
	case hasPrefixFold(auth, "TC3-HMAC-SHA256"):
		return dialect{schemeTC3, true}
	case hasPrefixFold(auth, "ACS3-"):
		return dialect{schemeACS3, true}
	}
	if _, ok := formParam(ctx, "SecretId"); ok {
		return dialect{schemeTencentLegacy, true}
	}
	_, hasKey := formParam(ctx, "AccessKeyId")
	_, hasSig := formParam(ctx, "Signature")
	if hasKey && hasSig {
		return dialect{schemeRPC, true}
	}
	if len(h.Peek("X-TC-Action")) > 0 {
		return dialect{schemeTC3, false}
	}
	if action, ok := formParam(ctx, "Action"); ok {
		if version, _ := formParam(ctx, "Version"); string(version) == tencentVersion || string(version) == mqttVersion ||
			lookupAction(cloudTencent, action) != actionUnknown {
			return dialect{schemeTencentLegacy, false}
		}
		return dialect{schemeRPC, false}
	}
	if len(h.Peek("x-acs-action")) > 0 {
		return dialect{schemeACS3, false}
	}
	return dialect{}
}

// isTencent reports whether d is a Tencent dialect.
func (d dialect) isTencent() bool { return d.scheme == schemeTC3 || d.scheme == schemeTencentLegacy }

// quote quotes client text for a message, cut to 64 bytes.
func quote(b []byte) string { return strconv.Quote(cut(string(b))) }
