package admin

import (
	"encoding/json"
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
)

func unsignedRPC(p url.Values) *testReq {
	return &testReq{method: "POST", query: p.Encode()}
}

// TestAlibabaQuery: OnlineStatus for online, offline and unknown clients, in
// JSON and XML.
func TestAlibabaQuery(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo(), weirdInfo()), nil)
	cases := []struct {
		name, clientID, format string
		online                 bool
	}{
		{"online", "sub_client2", "JSON", true},
		{"offline persistent session", weirdID, "JSON", false},
		{"unknown client is false, not an error", "nobody", "JSON", false},
		{"no Format is JSON", "sub_client2", "", true},
		{"darabonba's json", "sub_client2", "json", true},
		{"XML", "sub_client2", "XML", true},
		{"xml in any case", weirdID, "xMl", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"mqtt-local"}, "ClientId": {tc.clientID}, "Version": {"2020-04-20"}}
			if tc.format != "" {
				p.Set("Format", tc.format)
			}
			resp := serve(t, s, unsignedRPC(p))
			if resp.StatusCode() != 200 {
				t.Fatalf("status %d %s", resp.StatusCode(), resp.Body())
			}
			var got QuerySessionByClientIDResponse
			ct := string(resp.Header.ContentType())
			if strings.EqualFold(tc.format, "XML") {
				if ct != "text/xml;charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				if err := xml.Unmarshal(resp.Body(), &got); err != nil {
					t.Fatalf("not XML: %v\n%s", err, resp.Body())
				}
			} else {
				if ct != "application/json;charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				if err := json.Unmarshal(resp.Body(), &got); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, resp.Body())
				}
			}
			if got.OnlineStatus != tc.online || got.RequestID != strings.ToUpper(testUUID.String()) {
				t.Errorf("got %+v, want OnlineStatus %v and the upper-case request ID", got, tc.online)
			}
			if h := string(resp.Header.Peek("x-acs-request-id")); h != got.RequestID {
				t.Errorf("x-acs-request-id %q, want %q", h, got.RequestID)
			}
		})
	}
}

// TestAlibabaErrors answers every Alibaba error code with its HTTP status
// and a JSON body of strings, whatever the Format.
func TestAlibabaErrors(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	base := func(mod func(url.Values)) *testReq {
		p := url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"mqtt-local"}, "ClientId": {"sub_client2"}, "Format": {"XML"}}
		mod(p)
		return unsignedRPC(p)
	}
	cases := []struct {
		name   string
		req    *testReq
		status int
		code   string
	}{
		{"no ClientId", base(func(p url.Values) { p.Del("ClientId") }), 400, alInvalidParameterClientID},
		{"empty ClientId", base(func(p url.Values) { p.Set("ClientId", "") }), 400, alInvalidParameterClientID},
		{"no InstanceId", base(func(p url.Values) { p.Del("InstanceId") }), 400, alInvalidParameterInstanceID},
		{"ClientId not UTF-8", base(func(p url.Values) { p.Set("ClientId", "a\xffb") }), 400, alParameterCheckFailed},
		{"other instance", base(func(p url.Values) { p.Set("InstanceId", "post-cn-0pp12gl") }), 400, alInstancePermissionCheckFailed},
		{"unknown action", base(func(p url.Values) { p.Set("Action", "QuerySessionByClientIds") }), 404, alAPINotSupport},
		{"other version", base(func(p url.Values) { p.Set("Version", "2018-01-01") }), 400, alInvalidVersion},
		{"ACS3 style unknown action", (&testReq{method: "POST", query: "InstanceId=mqtt-local&ClientId=c"}).set("x-acs-action", "DeleteEverything"), 404, alAPINotSupport},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := serve(t, s, tc.req)
			e := alibabaError(t, resp)
			if resp.StatusCode() != tc.status || e.Code != tc.code {
				t.Errorf("got %d %s, want %d %s (%s)", resp.StatusCode(), e.Code, tc.status, tc.code, e.Message)
			}
			if ct := string(resp.Header.ContentType()); ct != "application/json;charset=utf-8" {
				t.Errorf("Content-Type %q, want JSON even for Format=XML", ct)
			}
			if e.HostID != "127.0.0.1:8080" {
				t.Errorf("HostId %q, want the Host header", e.HostID)
			}
		})
	}
}
