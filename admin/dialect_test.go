package admin

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func detectRaw(t *testing.T, raw string) dialect {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Init(parseRequest(t, raw), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
	return detect(&ctx)
}

// crlf turns a readable sample (lines joined by \n, headers then a blank
// line then the body) into HTTP/1.1 text with a correct Content-Length.
func crlf(sample string) string {
	head, body, _ := strings.Cut(sample, "\n\n")
	lines := strings.Split(strings.TrimSpace(head), "\n")
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimSpace(l) + "\r\n")
	}
	if body != "" || strings.HasPrefix(lines[0], "POST") {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	return b.String() + "\r\n" + body
}

// TestDetect runs requests as the vendors' SDKs send them (and their
// variants) through detect's order.
func TestDetect(t *testing.T) {
	cases := []struct {
		name   string
		raw    string
		scheme scheme
		signed bool
	}{
		{"3.1 TC3 POST", `POST / HTTP/1.1
			Host: 127.0.0.1:8080
			Content-Type: application/json
			X-TC-Action: DescribeMQTTClient
			X-TC-Version: 2023-03-08
			X-TC-Timestamp: 1795299643
			X-TC-Region: ap-guangzhou
			X-TC-RequestClient: SDK_GO_1.1.0
			X-TC-Language: zh-CN
			Authorization: TC3-HMAC-SHA256 Credential=AKIDx/2026-11-21/trocket/tc3_request, SignedHeaders=content-type;host, Signature=00
			User-Agent: Go-http-client/1.1
			Accept-Encoding: gzip

{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`, schemeTC3, true},
		{"3.1 TC3 GET", `GET /?ClientId=GID_x%40%40%40dev+1%2A~%2F%C3%A9%2B%26%3D&InstanceId=mqtt-local HTTP/1.1
			Host: 127.0.0.1:8080
			Content-Type: application/x-www-form-urlencoded
			X-TC-Action: DescribeMQTTClient
			X-TC-Version: 2023-03-08
			X-TC-Timestamp: 1795299643
			Authorization: TC3-HMAC-SHA256 Credential=AKIDx/2026-11-21/trocket/tc3_request, SignedHeaders=content-type;host, Signature=00
`, schemeTC3, true},
		{"3.1 TC3 lower-case header names", `POST / HTTP/1.1
			host: 127.0.0.1:8080
			content-type: application/json
			x-tc-action: DescribeMQTTClient
			authorization: TC3-HMAC-SHA256 Credential=AKIDx/2026-11-21/trocket/tc3_request, SignedHeaders=content-type;host, Signature=00

{}`, schemeTC3, true},
		{"3.1 legacy POST form", `POST / HTTP/1.1
			Host: 127.0.0.1:8080
			Content-Type: application/x-www-form-urlencoded

Action=DescribeMQTTClient&ClientId=c&InstanceId=mqtt-local&Language=zh-CN&Nonce=52379&Region=ap-guangzhou&RequestClient=SDK_GO_1.1.0&SecretId=AKIDx&Signature=abc%3D&SignatureMethod=HmacSHA256&Timestamp=1795299643&Version=2023-03-08`, schemeTencentLegacy, true},
		{"3.1 legacy GET", `GET /?Action=DescribeMQTTClient&ClientId=c&InstanceId=mqtt-local&Nonce=1&SecretId=AKIDx&Signature=abc%3D&SignatureMethod=HmacSHA1&Timestamp=1795299643&Version=2023-03-08 HTTP/1.1
			Host: 127.0.0.1:8080
			Content-Type: application/x-www-form-urlencoded
`, schemeTencentLegacy, true},
		{"3.2 Alibaba classic RPC (also sends x-acs-action)", `POST /?AccessKeyId=LTAIx&Action=QuerySessionByClientId&ClientId=GID_test%40%40%40dev&Format=JSON&InstanceId=post-cn-x&RegionId=cn-hangzhou&Signature=w2sX%3D&SignatureMethod=HMAC-SHA1&SignatureNonce=9e77ca546800e0ec599e54db68e2e7b2&SignatureType=&SignatureVersion=1.0&Timestamp=2026-11-21T22%3A20%3A43Z&Version=2020-04-20 HTTP/1.1
			Host: 127.0.0.1:8080
			Content-Type: application/x-www-form-urlencoded
			Accept-Encoding: identity
			x-acs-action: QuerySessionByClientId
			x-acs-version: 2020-04-20
			x-acs-credentials-provider: static_ak
			x-sdk-client: golang/1.0.0
			x-sdk-core-version: 1.63.22
			x-sdk-invoke-type: normal
			User-Agent: AlibabaCloud (linux; amd64) Golang/1.26.8 Core/1.63.22

`, schemeRPC, true},
		{"3.3 Alibaba darabonba ACS3", `POST /?ClientId=GID_test%40%40%40dev+1%2A~%2F%C3%A9%2B%26%3D&InstanceId=mqtt-local HTTP/1.1
			Host: 127.0.0.1:8080
			Accept: application/json
			x-acs-action: QuerySessionByClientId
			x-acs-version: 2020-04-20
			x-acs-date: 2026-11-21T22:20:43Z
			x-acs-signature-nonce: 8b11a9f6e7a9b9fc2ac1e836187aac8c
			x-acs-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
			Authorization: ACS3-HMAC-SHA256 Credential=LTAIx,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=00
			User-Agent: AlibabaCloud (linux; amd64) Golang/1.26.8 Core/0.01 TeaDSL/1

`, schemeACS3, true},
		{"3.3 darabonba with SignatureAlgorithm v2 (RPC, Format=json)", `POST /?AccessKeyId=LTAIx&Action=QuerySessionByClientId&ClientId=c&Format=json&InstanceId=mqtt-local&Signature=x%3D&SignatureMethod=HMAC-SHA1&SignatureNonce=n&SignatureVersion=1.0&Timestamp=2026-11-21T22%3A20%3A43Z&Version=2020-04-20 HTTP/1.1
			Host: 127.0.0.1:8080
			x-acs-action: QuerySessionByClientId

`, schemeRPC, true},
		{"3.3 legacy onsmqtt v1.0.2 (params in a form body)", `POST /?AccessKeyId=LTAIx&Action=QuerySessionByClientId&Format=json&Signature=x%3D&SignatureMethod=HMAC-SHA1&SignatureNonce=n&SignatureVersion=1.0&Timestamp=2026-11-21T22%3A20%3A43Z&Version=2020-04-20 HTTP/1.1
			Host: 127.0.0.1:8080
			Content-Type: application/x-www-form-urlencoded

ClientId=c&InstanceId=mqtt-local`, schemeRPC, true},
		{"RPC with AccessKeyId and Signature in the body", `POST / HTTP/1.1
			Host: 127.0.0.1:8080
			Content-Type: application/x-www-form-urlencoded

AccessKeyId=LTAIx&Signature=x&Action=QuerySessionByClientId`, schemeRPC, true},
		{"TC3 wins over SecretId", `GET /?SecretId=AKIDx HTTP/1.1
			Host: 127.0.0.1:8080
			Authorization: TC3-HMAC-SHA256 Credential=AKIDx/2026-11-21/trocket/tc3_request, SignedHeaders=content-type;host, Signature=00
`, schemeTC3, true},
		{"SecretId wins over AccessKeyId+Signature", `GET /?SecretId=AKIDx&AccessKeyId=LTAIx&Signature=x HTTP/1.1
			Host: 127.0.0.1:8080
`, schemeTencentLegacy, true},
		{"x-acs-action with AccessKeyId but no Signature is not ACS3", `POST /?AccessKeyId=LTAIx&Action=QuerySessionByClientId HTTP/1.1
			Host: 127.0.0.1:8080
			x-acs-action: QuerySessionByClientId

`, schemeRPC, false},
		{"unsigned X-TC-Action", `POST / HTTP/1.1
			Host: 127.0.0.1:8080
			X-TC-Action: DescribeMQTTClient

{}`, schemeTC3, false},
		{"unsigned Action=DescribeMQTTClient", `GET /?Action=DescribeMQTTClient&Version=2023-03-08&InstanceId=mqtt-local&ClientId=c HTTP/1.1
			Host: 127.0.0.1:8080
`, schemeTencentLegacy, false},
		{"unsigned Tencent version, other action", `GET /?Action=DescribeTopic&Version=2023-03-08 HTTP/1.1
			Host: 127.0.0.1:8080
`, schemeTencentLegacy, false},
		{"unsigned Action=QuerySessionByClientId", `GET /?Action=QuerySessionByClientId&InstanceId=mqtt-local&ClientId=c HTTP/1.1
			Host: 127.0.0.1:8080
`, schemeRPC, false},
		{"unsigned unknown Action", `GET /?Action=Frobnicate HTTP/1.1
			Host: 127.0.0.1:8080
`, schemeRPC, false},
		{"unsigned x-acs-action only", `POST /?InstanceId=mqtt-local&ClientId=c HTTP/1.1
			Host: 127.0.0.1:8080
			X-Acs-Action: QuerySessionByClientId

`, schemeACS3, false},
		{"nothing", `GET / HTTP/1.1
			Host: 127.0.0.1:8080
`, schemeNone, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := detectRaw(t, crlf(tc.raw))
			if d.scheme != tc.scheme || d.signed != tc.signed {
				t.Errorf("got %v signed=%v, want %v signed=%v", d.scheme, d.signed, tc.scheme, tc.signed)
			}
		})
	}
}

// TestServeCloudRouting: the detected dialect decides the answer's shape.
func TestServeCloudRouting(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	t.Run("nothing recognisable is a native 400", func(t *testing.T) {
		resp := serveRaw(t, s, crlf("GET / HTTP/1.1\nHost: x\n"))
		if resp.StatusCode() != 400 || !strings.Contains(string(resp.Body()), `"unknown_dialect"`) {
			t.Errorf("got %d %s", resp.StatusCode(), resp.Body())
		}
	})
	t.Run("PUT is 405", func(t *testing.T) {
		resp := serveRaw(t, s, crlf("PUT /?Action=QuerySessionByClientId HTTP/1.1\nHost: x\n\n"))
		if resp.StatusCode() != 405 || string(resp.Header.Peek("Allow")) != "GET, POST" {
			t.Errorf("got %d Allow %q", resp.StatusCode(), resp.Header.Peek("Allow"))
		}
	})
	t.Run("unknown path is a native 404", func(t *testing.T) {
		resp := serveRaw(t, s, crlf("GET /nope HTTP/1.1\nHost: x\n"))
		if resp.StatusCode() != 404 || !strings.Contains(string(resp.Body()), `"not_found"`) {
			t.Errorf("got %d %s", resp.StatusCode(), resp.Body())
		}
	})
}
