package admin

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Client-side signers for the four schemes, written from the vendors'
// documented algorithms with the standard library only (crypto/hmac, net/url), sharing
// no code with the verifiers. sign_test.go pins their output to vectors
// computed outside Go.

func testSHA256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func testHMAC256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// signTC3 signs r with TC3-HMAC-SHA256 at Unix time ts, setting
// X-TC-Timestamp and Authorization, as the Tencent SDK does: the signed
// headers are content-type and host, the payload hash is over the body
// (or over "UNSIGNED-PAYLOAD" when X-TC-Content-SHA256 says so), and the
// canonical query is the query (GET).
func signTC3(r *testReq, secretID, secretKey string, ts int64) {
	signTC3Service(r, secretID, secretKey, ts, "trocket")
}

// signTC3Service is signTC3 for the given service's credential scope.
func signTC3Service(r *testReq, secretID, secretKey string, ts int64, service string) {
	host := r.host
	if host == "" {
		host = "127.0.0.1:8080"
	}
	query := ""
	if r.method == "GET" {
		query = r.query
	}
	payload := testSHA256Hex(r.body)
	if r.get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD" {
		payload = testSHA256Hex("UNSIGNED-PAYLOAD")
	}
	canonical := strings.Join([]string{
		r.method, "/", query,
		"content-type:" + r.get("Content-Type") + "\nhost:" + host + "\n",
		"content-type;host",
		payload,
	}, "\n")
	date := time.Unix(ts, 0).UTC().Format("2006-01-02")
	scope := date + "/" + service + "/tc3_request"
	sts := "TC3-HMAC-SHA256\n" + strconv.FormatInt(ts, 10) + "\n" + scope + "\n" + testSHA256Hex(canonical)
	kDate := testHMAC256([]byte("TC3"+secretKey), date)
	kSvc := testHMAC256(kDate, service)
	kSign := testHMAC256(kSvc, "tc3_request")
	sig := hex.EncodeToString(testHMAC256(kSign, sts))
	r.set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	r.set("Authorization", "TC3-HMAC-SHA256 Credential="+secretID+"/"+scope+", SignedHeaders=content-type;host, Signature="+sig)
}

// tcLegacyParams are the form fields of a legacy-signed Tencent request.
func tcLegacyParams(instanceID, clientID string, ts int64) url.Values {
	return url.Values{
		"Action":        {"DescribeMQTTClient"},
		"Version":       {"2023-03-08"},
		"Region":        {"ap-guangzhou"},
		"Timestamp":     {strconv.FormatInt(ts, 10)},
		"Nonce":         {"52379"},
		"RequestClient": {"SDK_GO_1.1.0"},
		"Language":      {"zh-CN"},
		"InstanceId":    {instanceID},
		"ClientId":      {clientID},
	}
}

// signTencentLegacy adds SecretId, SignatureMethod and Signature to p:
// StringToSign = Method + Host + "/?" + sorted k=v (raw values) joined by
// "&"; Signature = base64(HMAC(SecretKey, StringToSign)).
func signTencentLegacy(p url.Values, method, host, secretID, secretKey, signMethod string) {
	p.Set("SecretId", secretID)
	p.Set("SignatureMethod", signMethod)
	p.Del("Signature")
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, k+"="+p.Get(k))
	}
	sts := method + host + "/?" + strings.Join(pairs, "&")
	h := sha1.New
	if signMethod == "HmacSHA256" {
		h = sha256.New
	}
	m := hmac.New(h, []byte(secretKey))
	m.Write([]byte(sts))
	p.Set("Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

// testPE is Alibaba's percent-encoding, the way Alibaba's docs give it for
// Go: url.QueryEscape, then "+" -> "%20", "*" -> "%2A", "%7E" -> "~".
func testPE(s string) string {
	s = url.QueryEscape(s)
	s = strings.ReplaceAll(s, "+", "%20")
	s = strings.ReplaceAll(s, "*", "%2A")
	return strings.ReplaceAll(s, "%7E", "~")
}

// testCanonical joins sorted pe(k)=pe(v) pairs with "&".
func testCanonical(p url.Values) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		for _, v := range p[k] {
			pairs = append(pairs, testPE(k)+"="+testPE(v))
		}
	}
	return strings.Join(pairs, "&")
}

// rpcParams are the query parameters of the classic Alibaba SDK's
// QuerySessionByClientId, before signing.
func rpcParams(instanceID, clientID string, ts time.Time, nonce string) url.Values {
	return url.Values{
		"AccessKeyId":      {alAccessKeyID},
		"Action":           {"QuerySessionByClientId"},
		"ClientId":         {clientID},
		"Format":           {"JSON"},
		"InstanceId":       {instanceID},
		"RegionId":         {"cn-hangzhou"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureNonce":   {nonce},
		"SignatureType":    {""},
		"SignatureVersion": {"1.0"},
		"Timestamp":        {ts.UTC().Format("2006-01-02T15:04:05Z")},
		"Version":          {"2020-04-20"},
	}
}

// signRPC signs the union of query and body parameters and sets Signature
// in query: StringToSign = Method&pe("/")&pe(canonical), key secret+"&".
// It returns the string to sign.
func signRPC(query, body url.Values, method, secret string) string {
	all := url.Values{}
	for _, p := range []url.Values{query, body} {
		for k, vs := range p {
			all[k] = append(all[k], vs...)
		}
	}
	all.Del("Signature")
	sts := method + "&" + testPE("/") + "&" + testPE(testCanonical(all))
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(sts))
	query.Set("Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	return sts
}

// signACS3 signs r as the darabonba SDK does: it sets the
// x-acs-* headers and Authorization over the given signed header names.
func signACS3(r *testReq, action, accessKeyID, secret string, ts time.Time, nonce string) {
	r.set("x-acs-action", action)
	r.set("x-acs-version", "2020-04-20")
	r.set("x-acs-date", ts.UTC().Format("2006-01-02T15:04:05Z"))
	r.set("x-acs-signature-nonce", nonce)
	r.set("x-acs-content-sha256", testSHA256Hex(r.body))
	host := r.host
	if host == "" {
		host = "127.0.0.1:8080"
	}
	names := []string{"host"}
	values := map[string]string{"host": host}
	for _, h := range r.header {
		n := strings.ToLower(h[0])
		if strings.HasPrefix(n, "x-acs-") || n == "content-type" {
			names = append(names, n)
			values[n] = strings.TrimSpace(h[1])
		}
	}
	sort.Strings(names)
	var ch strings.Builder
	for _, n := range names {
		ch.WriteString(n + ":" + values[n] + "\n")
	}
	q, err := url.ParseQuery(r.query)
	if err != nil {
		panic(err)
	}
	signed := strings.Join(names, ";")
	canonical := strings.Join([]string{r.method, "/", testCanonical(q), ch.String(), signed, testSHA256Hex(r.body)}, "\n")
	sts := "ACS3-HMAC-SHA256\n" + testSHA256Hex(canonical)
	sig := hex.EncodeToString(testHMAC256([]byte(secret), sts))
	r.set("Authorization", "ACS3-HMAC-SHA256 Credential="+accessKeyID+",SignedHeaders="+signed+",Signature="+sig)
}

// Requests as the SDKs send them, signed.

// tc3Post is the Tencent SDK's default request: POST, JSON body, TC3.
func tc3Post(body string, ts int64) *testReq {
	r := &testReq{method: "POST", body: body}
	r.set("Content-Type", "application/json")
	r.set("X-TC-Action", "DescribeMQTTClient")
	r.set("X-TC-Version", "2023-03-08")
	r.set("X-TC-Region", "ap-guangzhou")
	r.set("X-TC-RequestClient", "SDK_GO_1.1.0")
	r.set("X-TC-Language", "zh-CN")
	signTC3(r, tcSecretID, tcSecretKey, ts)
	return r
}

// tc3Get is the Tencent SDK's GET variant: parameters in the query.
func tc3Get(params url.Values, ts int64) *testReq {
	r := &testReq{method: "GET", query: params.Encode()}
	r.set("Content-Type", "application/x-www-form-urlencoded")
	r.set("X-TC-Action", "DescribeMQTTClient")
	r.set("X-TC-Version", "2023-03-08")
	r.set("X-TC-Region", "ap-guangzhou")
	signTC3(r, tcSecretID, tcSecretKey, ts)
	return r
}

// tcLegacyPost is a legacy-signed POST with a form body.
func tcLegacyPost(p url.Values, signMethod string) *testReq {
	signTencentLegacy(p, "POST", "127.0.0.1:8080", tcSecretID, tcSecretKey, signMethod)
	r := &testReq{method: "POST", body: p.Encode()}
	r.set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// tcLegacyGet is a legacy-signed GET with the fields in the query.
func tcLegacyGet(p url.Values, signMethod string) *testReq {
	signTencentLegacy(p, "GET", "127.0.0.1:8080", tcSecretID, tcSecretKey, signMethod)
	r := &testReq{method: "GET", query: p.Encode()}
	r.set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// rpcPost is the classic Alibaba SDK's request: POST, empty body, every
// parameter in the query, plus its x-acs-* headers.
func rpcPost(p url.Values) *testReq {
	signRPC(p, nil, "POST", alSecret)
	r := &testReq{method: "POST", query: p.Encode()}
	r.set("Content-Type", "application/x-www-form-urlencoded")
	r.set("Accept-Encoding", "identity")
	r.set("x-acs-action", "QuerySessionByClientId")
	r.set("x-acs-version", "2020-04-20")
	r.set("x-acs-credentials-provider", "static_ak")
	r.set("x-sdk-client", "golang/1.0.0")
	return r
}

// acs3Post is the darabonba SDK's request: POST, no body, ClientId and
// InstanceId in the query, ACS3 in the headers.
func acs3Post(instanceID, clientID string, ts time.Time, nonce string) *testReq {
	r := &testReq{method: "POST", query: url.Values{"ClientId": {clientID}, "InstanceId": {instanceID}}.Encode()}
	r.set("Accept", "application/json")
	signACS3(r, "QuerySessionByClientId", alAccessKeyID, alSecret, ts, nonce)
	return r
}
