package admin

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSignerVectors pins the test signers to signatures computed outside Go
// (Python's hmac and hashlib, from the vendors' documented algorithms), so that a bug
// shared by a signer and a verifier cannot pass unnoticed.
func TestSignerVectors(t *testing.T) {
	ts := testNow.Unix()
	if ts != 1795299643 {
		t.Fatalf("testNow is %d, the vectors assume 1795299643", ts)
	}
	sigOf := func(auth string) string {
		_, sig, _ := strings.Cut(auth, "Signature=")
		return sig
	}
	t.Run("TC3 POST", func(t *testing.T) {
		r := tc3Post(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`, ts)
		if got, want := sigOf(r.get("Authorization")), "8f7a7318ea524d95c4e0d5744a38574fb205bbe5797582ff867b52b9eba8b365"; got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	})
	t.Run("TC3 GET", func(t *testing.T) {
		r := tc3Get(url.Values{"ClientId": {weirdID}, "InstanceId": {"mqtt-local"}}, ts)
		if want := "ClientId=GID_test%40%40%40dev+1%2A~%2F%C3%A9%2B%26%3D&InstanceId=mqtt-local"; r.query != want {
			t.Errorf("query %s, want %s", r.query, want)
		}
		if got, want := sigOf(r.get("Authorization")), "8b6631b487d746aea093b579834a2d68339bc6b87cbfd2de37ca72396fdd046b"; got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	})
	t.Run("HmacSHA256 GET", func(t *testing.T) {
		p := tcLegacyParams("mqtt-local", weirdID, ts)
		signTencentLegacy(p, "GET", "127.0.0.1:8080", tcSecretID, tcSecretKey, "HmacSHA256")
		if got, want := p.Get("Signature"), "ohxhDp9Dp/P/2fIoM0XvGopJ6FZhOFmxIbryaw94wBI="; got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	})
	t.Run("HmacSHA1 POST", func(t *testing.T) {
		p := tcLegacyParams("mqtt-local", weirdID, ts)
		signTencentLegacy(p, "POST", "127.0.0.1:8080", tcSecretID, tcSecretKey, "HmacSHA1")
		if got, want := p.Get("Signature"), "ByacYvTRli+CslLs/yA6FbldVsE="; got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	})
	t.Run("RPC HMAC-SHA1", func(t *testing.T) {
		p := rpcParams("mqtt-local", weirdID, testNow, "9e77ca546800e0ec599e54db68e2e7b2")
		sts := signRPC(p, nil, "POST", alSecret)
		wantSTS := "POST&%2F&AccessKeyId%3DLTAI5tEXAMPLEKEYID%26Action%3DQuerySessionByClientId%26ClientId%3DGID_test%2540%2540%2540dev%25201%252A~%252F%25C3%25A9%252B%2526%253D%26Format%3DJSON%26InstanceId%3Dmqtt-local%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D9e77ca546800e0ec599e54db68e2e7b2%26SignatureType%3D%26SignatureVersion%3D1.0%26Timestamp%3D2026-11-21T22%253A20%253A43Z%26Version%3D2020-04-20"
		if sts != wantSTS {
			t.Errorf("string to sign\n%s\nwant\n%s", sts, wantSTS)
		}
		if got, want := p.Get("Signature"), "DFuQ9DXP0+xmzAGkBU/RvyObXLQ="; got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	})
	t.Run("ACS3", func(t *testing.T) {
		r := acs3Post("mqtt-local", weirdID, testNow, "8b11a9f6e7a9b9fc2ac1e836187aac8c")
		if got, want := sigOf(r.get("Authorization")), "80016316fef01d0afaa682e95c419628b93a2f93004fb68785927f1eb74c3805"; got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	})
}

// TestVerifyAccepts: each scheme, signed as the SDKs sign, is accepted by a
// server with keys, for the awkward client ID too.
func TestVerifyAccepts(t *testing.T) {
	b := newFakeBroker(seedInfo(), weirdInfo())
	s := newTestServer(t, b, withKeys)
	ts := testNow.Unix()
	weirdBody := `{"InstanceId":"mqtt-local","ClientId":"GID_test@@@dev 1*~/é+&="}`
	tencent := map[string]*testReq{
		"TC3 POST":        tc3Post(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`, ts),
		"TC3 POST weird":  tc3Post(weirdBody, ts),
		"TC3 GET":         tc3Get(url.Values{"ClientId": {weirdID}, "InstanceId": {"mqtt-local"}}, ts),
		"HmacSHA1 POST":   tcLegacyPost(tcLegacyParams("mqtt-local", weirdID, ts), "HmacSHA1"),
		"HmacSHA1 GET":    tcLegacyGet(tcLegacyParams("mqtt-local", weirdID, ts), "HmacSHA1"),
		"HmacSHA256 GET":  tcLegacyGet(tcLegacyParams("mqtt-local", weirdID, ts), "HmacSHA256"),
		"HmacSHA256 POST": tcLegacyPost(tcLegacyParams("mqtt-local", "sub_client2", ts), "HmacSHA256"),
	}
	for name, r := range tencent {
		t.Run(name, func(t *testing.T) {
			if code := tencentCode(t, serve(t, s, r)); code != "" {
				t.Errorf("got error %s, want success", code)
			}
		})
	}
	alibaba := map[string]*testReq{
		"RPC":  rpcPost(rpcParams("mqtt-local", weirdID, testNow, "nonce-rpc-1")),
		"ACS3": acs3Post("mqtt-local", weirdID, testNow, "nonce-acs3-1"),
	}
	for name, r := range alibaba {
		t.Run(name, func(t *testing.T) {
			resp := serve(t, s, r)
			if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"OnlineStatus":false`) {
				t.Errorf("got %d %s, want 200 OnlineStatus false (the weird client is offline)", resp.StatusCode(), resp.Body())
			}
		})
	}
	t.Run("RPC with ClientId in a form body", func(t *testing.T) {
		// The legacy onsmqtt-20200420 v1.0.2: signing params in the query,
		// ClientId and InstanceId in a form body.
		q := rpcParams("", "", testNow, "nonce-form-1")
		q.Del("ClientId")
		q.Del("InstanceId")
		q.Set("Format", "json")
		body := url.Values{"ClientId": {"sub_client2"}, "InstanceId": {"mqtt-local"}}
		signRPC(q, body, "POST", alSecret)
		r := &testReq{method: "POST", query: q.Encode(), body: body.Encode()}
		r.set("Content-Type", "application/x-www-form-urlencoded")
		resp := serve(t, s, r)
		if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"OnlineStatus":true`) {
			t.Errorf("got %d %s, want 200 OnlineStatus true", resp.StatusCode(), resp.Body())
		}
	})
	t.Run("TC3 with UNSIGNED-PAYLOAD", func(t *testing.T) {
		r := unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`)
		r.set("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD")
		signTC3(r, tcSecretID, tcSecretKey, ts)
		if code := tencentCode(t, serve(t, s, r)); code != "" {
			t.Errorf("got %s, want success", code)
		}
	})
	t.Run("TC3 retry is byte-identical and accepted", func(t *testing.T) {
		r := tc3Post(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`, ts)
		for i := range 2 {
			if code := tencentCode(t, serve(t, s, r)); code != "" {
				t.Fatalf("attempt %d: got %s, want success: TC3 must have no replay cache", i+1, code)
			}
		}
	})
	t.Run("TC3 with the documented lower-cased header values", func(t *testing.T) {
		r := &testReq{method: "POST", host: "LocalHost:8080", body: `{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`}
		r.set("Content-Type", "application/json")
		r.set("X-TC-Action", "DescribeMQTTClient")
		r.set("X-TC-Version", "2023-03-08")
		r.host = "localhost:8080" // sign the lower-cased value, send the mixed-case one
		signTC3(r, tcSecretID, tcSecretKey, ts)
		r.host = "LocalHost:8080"
		if code := tencentCode(t, serve(t, s, r)); code != "" {
			t.Errorf("got %s, want success", code)
		}
	})
}

// TestVerifyRejects covers every signature error code of both clouds.
func TestVerifyRejects(t *testing.T) {
	b := newFakeBroker(seedInfo())
	s := newTestServer(t, b, withKeys)
	ts := testNow.Unix()
	body := `{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`

	tencent := []struct {
		name string
		req  func() *testReq
		code string
	}{
		{"unsigned TC3 style", func() *testReq {
			r := &testReq{method: "POST", body: body}
			r.set("Content-Type", "application/json").set("X-TC-Action", "DescribeMQTTClient").set("X-TC-Version", "2023-03-08")
			return r
		}, tcInvalidAuthorization},
		{"unsigned legacy style", func() *testReq {
			p := tcLegacyParams("mqtt-local", "sub_client2", ts)
			return &testReq{method: "GET", query: p.Encode()}
		}, tcInvalidAuthorization},
		{"malformed Authorization", func() *testReq {
			r := tc3Post(body, ts)
			r.set("Authorization", "TC3-HMAC-SHA256 Credential=x")
			return r
		}, tcInvalidAuthorization},
		{"SignedHeaders without host", func() *testReq {
			r := tc3Post(body, ts)
			r.set("Authorization", strings.Replace(r.get("Authorization"), "content-type;host", "content-type", 1))
			return r
		}, tcInvalidAuthorization},
		{"wrong key", func() *testReq {
			r := &testReq{method: "POST", body: body}
			r.set("Content-Type", "application/json").set("X-TC-Action", "DescribeMQTTClient").set("X-TC-Version", "2023-03-08")
			signTC3(r, tcSecretID, "not-the-key", ts)
			return r
		}, tcSignatureFailure},
		{"body changed after signing", func() *testReq {
			r := tc3Post(body, ts)
			r.body = strings.Replace(body, "sub_client2", "sub_client3", 1)
			return r
		}, tcSignatureFailure},
		{"host changed after signing", func() *testReq {
			r := tc3Post(body, ts)
			r.host = "127.0.0.1:9090"
			return r
		}, tcSignatureFailure},
		{"credential date not the timestamp's", func() *testReq {
			r := tc3Post(body, ts)
			r.set("Authorization", strings.Replace(r.get("Authorization"), "2026-11-21", "2026-11-20", 1))
			return r
		}, tcSignatureFailure},
		{"unknown SecretId", func() *testReq {
			r := &testReq{method: "POST", body: body}
			r.set("Content-Type", "application/json").set("X-TC-Action", "DescribeMQTTClient").set("X-TC-Version", "2023-03-08")
			signTC3(r, "AKIDunknown", tcSecretKey, ts)
			return r
		}, tcSecretIDNotFound},
		{"TC3 6 minutes old", func() *testReq { return tc3Post(body, ts-301) }, tcSignatureExpire},
		{"TC3 6 minutes ahead", func() *testReq { return tc3Post(body, ts+301) }, tcSignatureExpire},
		{"TC3 without X-TC-Timestamp", func() *testReq {
			r := tc3Post(body, ts)
			r.header = dropHeader(r.header, "X-TC-Timestamp")
			return r
		}, tcMissingParameter},
		{"legacy wrong key", func() *testReq {
			p := tcLegacyParams("mqtt-local", "sub_client2", ts)
			signTencentLegacy(p, "GET", "127.0.0.1:8080", tcSecretID, "not-the-key", "HmacSHA256")
			return &testReq{method: "GET", query: p.Encode()}
		}, tcSignatureFailure},
		{"legacy param changed after signing", func() *testReq {
			p := tcLegacyParams("mqtt-local", "sub_client2", ts)
			signTencentLegacy(p, "GET", "127.0.0.1:8080", tcSecretID, tcSecretKey, "HmacSHA1")
			p.Set("ClientId", "other")
			return &testReq{method: "GET", query: p.Encode()}
		}, tcSignatureFailure},
		{"legacy 6 minutes old", func() *testReq { return tcLegacyGet(tcLegacyParams("mqtt-local", "sub_client2", ts-301), "HmacSHA1") }, tcSignatureExpire},
		{"legacy unknown SecretId", func() *testReq {
			p := tcLegacyParams("mqtt-local", "sub_client2", ts)
			signTencentLegacy(p, "GET", "127.0.0.1:8080", "AKIDunknown", tcSecretKey, "HmacSHA1")
			return &testReq{method: "GET", query: p.Encode()}
		}, tcSecretIDNotFound},
		{"legacy bad SignatureMethod", func() *testReq {
			p := tcLegacyParams("mqtt-local", "sub_client2", ts)
			signTencentLegacy(p, "GET", "127.0.0.1:8080", tcSecretID, tcSecretKey, "HmacMD5")
			return &testReq{method: "GET", query: p.Encode()}
		}, tcInvalidParameterValue},
	}
	for _, tc := range tencent {
		t.Run("Tencent/"+tc.name, func(t *testing.T) {
			if got := tencentCode(t, serve(t, s, tc.req())); got != tc.code {
				t.Errorf("got %q, want %q", got, tc.code)
			}
		})
	}
	t.Run("Tencent/5 minutes exactly is inside the window", func(t *testing.T) {
		for _, d := range []int64{-300, 300} {
			if got := tencentCode(t, serve(t, s, tc3Post(body, ts+d))); got != "" {
				t.Errorf("skew %ds: got %q, want success", d, got)
			}
		}
	})

	nonce := 0
	fresh := func() string { nonce++; return "nonce-reject-" + strings.Repeat("x", nonce) }
	alibaba := []struct {
		name   string
		req    func() *testReq
		status int
		code   string
	}{
		{"unsigned RPC", func() *testReq {
			p := rpcParams("mqtt-local", "sub_client2", testNow, fresh())
			return &testReq{method: "POST", query: p.Encode()}
		}, 400, alMissingSignature},
		{"unsigned ACS3 style", func() *testReq {
			r := &testReq{method: "POST", query: "ClientId=sub_client2&InstanceId=mqtt-local"}
			r.set("x-acs-action", "QuerySessionByClientId")
			return r
		}, 400, alMissingSignature},
		{"RPC wrong secret", func() *testReq {
			p := rpcParams("mqtt-local", "sub_client2", testNow, fresh())
			signRPC(p, nil, "POST", "not-the-secret")
			return &testReq{method: "POST", query: p.Encode()}
		}, 400, alSignatureDoesNotMatch},
		{"RPC unknown AccessKeyId", func() *testReq {
			p := rpcParams("mqtt-local", "sub_client2", testNow, fresh())
			p.Set("AccessKeyId", "LTAIunknown")
			return rpcPost(p)
		}, 404, alInvalidAccessKeyIDNotFound},
		{"RPC 16 minutes old", func() *testReq {
			return rpcPost(rpcParams("mqtt-local", "sub_client2", testNow.Add(-16*time.Minute), fresh()))
		}, 400, alInvalidTimeStampExpired},
		{"RPC 16 minutes ahead", func() *testReq {
			return rpcPost(rpcParams("mqtt-local", "sub_client2", testNow.Add(16*time.Minute), fresh()))
		}, 400, alInvalidTimeStampExpired},
		{"RPC bad Timestamp", func() *testReq {
			p := rpcParams("mqtt-local", "sub_client2", testNow, fresh())
			p.Set("Timestamp", "2026-11-21 22:20:43")
			return rpcPost(p)
		}, 400, alInvalidTimeStampFormat},
		{"RPC no Timestamp", func() *testReq {
			p := rpcParams("mqtt-local", "sub_client2", testNow, fresh())
			p.Del("Timestamp")
			return rpcPost(p)
		}, 400, alMissingTimestamp},
		{"RPC no SignatureNonce", func() *testReq {
			p := rpcParams("mqtt-local", "sub_client2", testNow, "")
			return rpcPost(p)
		}, 400, alMissingSignatureNonce},
		{"RPC HMAC-SHA256 method", func() *testReq {
			p := rpcParams("mqtt-local", "sub_client2", testNow, fresh())
			p.Set("SignatureMethod", "HMAC-SHA256")
			return rpcPost(p)
		}, 400, alInvalidSignatureMethod},
		{"RPC no SignatureMethod", func() *testReq {
			p := rpcParams("mqtt-local", "sub_client2", testNow, fresh())
			p.Del("SignatureMethod")
			return rpcPost(p)
		}, 400, alIncompleteSignature},
		{"RPC SignatureVersion 2.0", func() *testReq {
			p := rpcParams("mqtt-local", "sub_client2", testNow, fresh())
			p.Set("SignatureVersion", "2.0")
			return rpcPost(p)
		}, 400, alInvalidSignatureVersion},
		{"ACS3 wrong secret", func() *testReq {
			r := &testReq{method: "POST", query: "ClientId=sub_client2&InstanceId=mqtt-local"}
			signACS3(r, "QuerySessionByClientId", alAccessKeyID, "not-the-secret", testNow, fresh())
			return r
		}, 400, alSignatureDoesNotMatch},
		{"ACS3 query changed after signing", func() *testReq {
			r := acs3Post("mqtt-local", "sub_client2", testNow, fresh())
			r.query = "ClientId=other&InstanceId=mqtt-local"
			return r
		}, 400, alSignatureDoesNotMatch},
		{"ACS3 body not the hashed one", func() *testReq {
			r := acs3Post("mqtt-local", "sub_client2", testNow, fresh())
			r.body = "x=1"
			return r
		}, 400, alSignatureDoesNotMatch},
		{"ACS3 unknown AccessKeyId", func() *testReq {
			r := &testReq{method: "POST", query: "ClientId=sub_client2&InstanceId=mqtt-local"}
			signACS3(r, "QuerySessionByClientId", "LTAIunknown", alSecret, testNow, fresh())
			return r
		}, 404, alInvalidAccessKeyIDNotFound},
		{"ACS3 16 minutes old", func() *testReq {
			return acs3Post("mqtt-local", "sub_client2", testNow.Add(-16*time.Minute), fresh())
		}, 400, alInvalidTimeStampExpired},
		{"ACS3 bad x-acs-date", func() *testReq {
			r := acs3Post("mqtt-local", "sub_client2", testNow, fresh())
			r.set("x-acs-date", "yesterday")
			return r
		}, 400, alInvalidTimeStampFormat},
		{"ACS3 without x-acs-signature-nonce signed", func() *testReq {
			r := acs3Post("mqtt-local", "sub_client2", testNow, fresh())
			auth := r.get("Authorization")
			r.set("Authorization", strings.Replace(auth, ";x-acs-signature-nonce", "", 1))
			return r
		}, 400, alIncompleteSignature},
		{"ACS3 malformed Authorization", func() *testReq {
			r := acs3Post("mqtt-local", "sub_client2", testNow, fresh())
			r.set("Authorization", "ACS3-HMAC-SHA256 Credential="+alAccessKeyID)
			return r
		}, 400, alIncompleteSignature},
		{"ACS3 other algorithm", func() *testReq {
			r := acs3Post("mqtt-local", "sub_client2", testNow, fresh())
			r.set("Authorization", strings.Replace(r.get("Authorization"), "ACS3-HMAC-SHA256", "ACS3-HMAC-SM3", 1))
			return r
		}, 400, alInvalidSignatureMethod},
	}
	for _, tc := range alibaba {
		t.Run("Alibaba/"+tc.name, func(t *testing.T) {
			resp := serve(t, s, tc.req())
			e := alibabaError(t, resp)
			if resp.StatusCode() != tc.status || e.Code != tc.code {
				t.Errorf("got %d %s, want %d %s; message %q", resp.StatusCode(), e.Code, tc.status, tc.code, e.Message)
			}
		})
	}
	t.Run("Alibaba/15 minutes exactly is inside the window", func(t *testing.T) {
		for i, d := range []time.Duration{-15 * time.Minute, 15 * time.Minute} {
			r := rpcPost(rpcParams("mqtt-local", "sub_client2", testNow.Add(d), "edge-"+string(rune('a'+i))))
			if resp := serve(t, s, r); resp.StatusCode() != 200 {
				t.Errorf("skew %v: got %d %s, want 200", d, resp.StatusCode(), resp.Body())
			}
		}
	})
	t.Run("Alibaba/SignatureDoesNotMatch carries the string to sign", func(t *testing.T) {
		p := rpcParams("mqtt-local", "sub_client2", testNow, fresh())
		sts := signRPC(p, nil, "POST", alSecret)
		p.Set("Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		e := alibabaError(t, serve(t, s, &testReq{method: "POST", query: p.Encode()}))
		want := "Specified signature is not matched with our calculation. server string to sign is:" + sts
		if e.Message != want {
			t.Errorf("message\n%s\nwant\n%s", e.Message, want)
		}
	})
}

func dropHeader(h [][2]string, name string) [][2]string {
	out := h[:0]
	for _, kv := range h {
		if !strings.EqualFold(kv[0], name) {
			out = append(out, kv)
		}
	}
	return out
}

// TestNonceReplay: an Alibaba nonce is single-use after a valid signature,
// but a forged request does not burn it.
func TestNonceReplay(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), withKeys)
	for _, scheme := range []string{"RPC", "ACS3"} {
		t.Run(scheme, func(t *testing.T) {
			nonce := "replay-" + scheme
			valid := func() *testReq {
				if scheme == "RPC" {
					return rpcPost(rpcParams("mqtt-local", "sub_client2", testNow, nonce))
				}
				return acs3Post("mqtt-local", "sub_client2", testNow, nonce)
			}
			forged := valid()
			if scheme == "RPC" {
				forged.query = strings.Replace(forged.query, "sub_client2", "sub_client3", 1)
			} else {
				forged.query = strings.Replace(forged.query, "sub_client2", "sub_client3", 1)
			}
			if e := alibabaError(t, serve(t, s, forged)); e.Code != alSignatureDoesNotMatch {
				t.Fatalf("forged: got %s, want %s", e.Code, alSignatureDoesNotMatch)
			}
			if resp := serve(t, s, valid()); resp.StatusCode() != 200 {
				t.Fatalf("first valid use after a forged one: got %d %s, want 200 (forgeries must not burn nonces)", resp.StatusCode(), resp.Body())
			}
			resp := serve(t, s, valid())
			if e := alibabaError(t, resp); resp.StatusCode() != 400 || e.Code != alSignatureNonceUsed {
				t.Fatalf("replay: got %d %s, want 400 %s", resp.StatusCode(), e.Code, alSignatureNonceUsed)
			}
		})
	}
	t.Run("remembered until the window ends, then forgotten", func(t *testing.T) {
		now := testNow
		s.now = func() time.Time { return now }
		r := rpcPost(rpcParams("mqtt-local", "sub_client2", testNow, "late-nonce"))
		if resp := serve(t, s, r); resp.StatusCode() != 200 {
			t.Fatalf("first use: %d %s", resp.StatusCode(), resp.Body())
		}
		now = testNow.Add(14 * time.Minute)
		if e := alibabaError(t, serve(t, s, r)); e.Code != alSignatureNonceUsed {
			t.Errorf("replay 14 minutes later: got %s, want %s", e.Code, alSignatureNonceUsed)
		}
		now = testNow.Add(16 * time.Minute)
		if e := alibabaError(t, serve(t, s, r)); e.Code != alInvalidTimeStampExpired {
			t.Errorf("replay 16 minutes later: got %s, want %s", e.Code, alInvalidTimeStampExpired)
		}
		now = testNow.Add(2 * time.Hour)
		r2 := rpcPost(rpcParams("mqtt-local", "sub_client2", now, "other-nonce"))
		if resp := serve(t, s, r2); resp.StatusCode() != 200 {
			t.Fatalf("fresh request 2 hours later: %d %s", resp.StatusCode(), resp.Body())
		}
		if n := s.nonces.len(); n != 1 {
			t.Errorf("nonces held 2 hours later: %d, want 1 (the old ones expired)", n)
		}
	})
}

// TestNoCredentialsIgnoresSignatures: without keys, any request is served,
// signed or not, valid signature or not.
func TestNoCredentialsIgnoresSignatures(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	bad := tc3Post(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`, testNow.Unix()-3600)
	bad.set("Authorization", strings.Replace(bad.get("Authorization"), "Signature=", "Signature=00", 1))
	if code := tencentCode(t, serve(t, s, bad)); code != "" {
		t.Errorf("Tencent, bad old signature: got %s, want success", code)
	}
	p := rpcParams("mqtt-local", "sub_client2", testNow.Add(-time.Hour), "n")
	p.Set("Signature", "forged")
	if resp := serve(t, s, &testReq{method: "POST", query: p.Encode()}); resp.StatusCode() != 200 {
		t.Errorf("Alibaba RPC, forged signature: got %d %s, want 200", resp.StatusCode(), resp.Body())
	}
	for range 2 { // the same nonce twice: no nonce cache without keys
		r := acs3Post("mqtt-local", "sub_client2", testNow, "same")
		if resp := serve(t, s, r); resp.StatusCode() != 200 {
			t.Errorf("Alibaba ACS3: got %d %s, want 200", resp.StatusCode(), resp.Body())
		}
	}
}
