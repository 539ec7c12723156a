package admin

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/glassmq/glassmq/session"
)

// unsignedTC3 is a Tencent request without credentials: X-TC-* headers and
// a JSON body, as curl would send it.
func unsignedTC3(body string) *testReq {
	r := &testReq{method: "POST", body: body}
	r.set("Content-Type", "application/json").set("X-TC-Action", "DescribeMQTTClient").set("X-TC-Version", "2023-03-08")
	return r
}

// TestTencentErrors answers every Tencent error code, always with HTTP 200.
func TestTencentErrors(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	cases := []struct {
		name string
		req  *testReq
		code string
	}{
		{"success", unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`), ""},
		{"unknown client", unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"nobody"}`), tcResourceNotFoundClient},
		{"other instance", unsignedTC3(`{"InstanceId":"mqtt-2vnk55xv","ClientId":"sub_client2"}`), tcResourceNotFoundInstance},
		{"no InstanceId", unsignedTC3(`{"ClientId":"sub_client2"}`), tcMissingParameter},
		{"empty InstanceId", unsignedTC3(`{"InstanceId":"","ClientId":"sub_client2"}`), tcMissingParameter},
		{"no ClientId", unsignedTC3(`{"InstanceId":"mqtt-local"}`), tcMissingParameter},
		{"empty body", unsignedTC3(``), tcMissingParameter},
		{"body not JSON", unsignedTC3(`InstanceId=mqtt-local`), tcInvalidParameterValue},
		{"ClientId a number", unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":42}`), tcInvalidParameterValue},
		{"ClientId with U+0000", unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"a\u0000b"}`), tcInvalidParameterValue},
		{"ClientId over 65535 bytes", unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"` + strings.Repeat("x", 65536) + `"}`), tcInvalidParameterValue},
		{"unknown action", unsignedTC3(`{}`).set("X-TC-Action", "DescribeMQTTClients"), tcInvalidAction},
		{"Alibaba's action in Tencent style", unsignedTC3(`{}`).set("X-TC-Action", "QuerySessionByClientId"), tcInvalidAction},
		{"other version", unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`).set("X-TC-Version", "2020-01-01"), tcNoSuchVersion},
		{"no version", &testReq{method: "POST", header: [][2]string{{"X-TC-Action", "DescribeMQTTClient"}}, body: `{}`}, tcNoSuchVersion},
		{"legacy style success, weird ID", &testReq{method: "GET", query: url.Values{
			"Action": {"DescribeMQTTClient"}, "Version": {"2023-03-08"}, "InstanceId": {"mqtt-local"}, "ClientId": {"sub_client2"}}.Encode()}, ""},
		{"legacy style, other version", &testReq{method: "GET", query: url.Values{
			"Action": {"DescribeMQTTClient"}, "Version": {"2022-01-01"}, "InstanceId": {"mqtt-local"}, "ClientId": {"sub_client2"}}.Encode()}, tcNoSuchVersion},
		{"legacy style, unknown action", &testReq{method: "GET", query: url.Values{
			"Action": {"DescribeMQTTClients"}, "Version": {"2023-03-08"}}.Encode()}, tcInvalidAction},
		{"TC3 GET", &testReq{method: "GET", query: url.Values{"InstanceId": {"mqtt-local"}, "ClientId": {"sub_client2"}}.Encode(),
			header: [][2]string{{"X-TC-Action", "DescribeMQTTClient"}, {"X-TC-Version", "2023-03-08"}}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tencentCode(t, serve(t, s, tc.req)); got != tc.code {
				t.Errorf("got %q, want %q", got, tc.code)
			}
		})
	}
}

// TestTencentMissingAction: a signed TC3 request without X-TC-Action.
func TestTencentMissingAction(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), withKeys)
	r := tc3Post(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`, testNow.Unix())
	r.header = dropHeader(r.header, "X-TC-Action")
	if got := tencentCode(t, serve(t, s, r)); got != tcMissingParameter {
		t.Errorf("got %q, want %q", got, tcMissingParameter)
	}
}

// panicBroker panics on every read, to exercise InternalError.
type panicBroker struct{ fakeBroker }

func (*panicBroker) SessionInfo(string, *session.Info) bool { panic("broken broker") }

func TestInternalError(t *testing.T) {
	s := newTestServer(t, &panicBroker{}, nil)
	if got := tencentCode(t, serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"x"}`))); got != tcInternalError {
		t.Errorf("Tencent: got %q, want %q", got, tcInternalError)
	}
	resp := serve(t, s, &testReq{method: "GET", query: "Action=QuerySessionByClientId&InstanceId=mqtt-local&ClientId=x"})
	if e := alibabaError(t, resp); resp.StatusCode() != 500 || e.Code != alInternalError {
		t.Errorf("Alibaba: got %d %s, want 500 %s", resp.StatusCode(), e.Code, alInternalError)
	}
}

// countingBroker counts session lookups.
type countingBroker struct {
	*fakeBroker
	lookups atomic.Int64
}

func (c *countingBroker) SessionInfo(id string, dst *session.Info) bool {
	c.lookups.Add(1)
	return c.fakeBroker.SessionInfo(id, dst)
}

// TestThrottleBeforeAuth: over the limit, a request is refused with the
// vendor's throttle error before its signature is checked, and no session
// is looked up.
func TestThrottleBeforeAuth(t *testing.T) {
	b := &countingBroker{fakeBroker: newFakeBroker(seedInfo())}
	s := newTestServer(t, b, func(c *Config) {
		withKeys(c)
		c.DescribeRate, c.QueryRate = 0.001, 0.001 // burst 1, then nothing for 1000 s
	})
	s.limits = tinyLimiter()
	ts := testNow.Unix()
	body := `{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`
	if got := tencentCode(t, serve(t, s, tc3Post(body, ts))); got != "" {
		t.Fatalf("first request: %q, want success", got)
	}
	forged := unsignedTC3(body)
	if got := tencentCode(t, serve(t, s, forged)); got != tcRequestLimitExceeded {
		t.Errorf("Tencent over the limit, unsigned: got %q, want %q", got, tcRequestLimitExceeded)
	}
	if resp := serve(t, s, rpcPost(rpcParams("mqtt-local", "sub_client2", testNow, "throttle-1"))); resp.StatusCode() != 200 {
		t.Fatalf("first Alibaba request: %d %s", resp.StatusCode(), resp.Body())
	}
	resp := serve(t, s, &testReq{method: "GET", query: "Action=QuerySessionByClientId&InstanceId=mqtt-local&ClientId=sub_client2"})
	if e := alibabaError(t, resp); resp.StatusCode() != 500 || e.Code != alSystemOverFlow {
		t.Errorf("Alibaba over the limit: got %d %s, want 500 %s", resp.StatusCode(), e.Code, alSystemOverFlow)
	}
	if n := b.lookups.Load(); n != 2 {
		t.Errorf("session lookups %d, want 2 (throttled requests look nothing up)", n)
	}
	// Unknown actions are not throttled by a cloud action's bucket.
	if got := tencentCode(t, serve(t, s, unsignedTC3(`{}`).set("X-TC-Action", "Other"))); got != tcInvalidAuthorization {
		t.Errorf("unknown action: got %q, want %q (not throttled, then unsigned)", got, tcInvalidAuthorization)
	}
}

// TestTencentSuccessShape checks types and key case of the success answer,
// as other-language SDKs read it case-sensitively.
func TestTencentSuccessShape(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	resp := serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`))
	if ct := string(resp.Header.ContentType()); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var v struct {
		Response map[string]any
	}
	if err := json.Unmarshal(resp.Body(), &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ProtocolVersion", "Keepalive", "CreateTime", "ConnectTime", "DisconnectTime"} {
		if _, ok := v.Response[k].(float64); !ok {
			t.Errorf("%s = %#v, want a JSON number", k, v.Response[k])
		}
	}
	if _, ok := v.Response["CleanSession"].(bool); !ok {
		t.Errorf("CleanSession = %#v, want a JSON boolean", v.Response["CleanSession"])
	}
	for _, k := range []string{"OutBound", "Inbound", "MQTTClientSubscriptions", "ConnectionStatus", "RequestId", "ClientId", "ClientAddress"} {
		if _, ok := v.Response[k]; !ok {
			t.Errorf("key %s missing (exact case)", k)
		}
	}
}
