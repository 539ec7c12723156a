package sdktest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	onsmqttv2 "github.com/alibabacloud-go/onsmqtt-20200420/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	alierrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/onsmqtt"
)

// aliQuery calls QuerySessionByClientId; a nil clientID or instance is left
// out of the request.
type aliQuery func(instance, clientID *string) (online bool, requestID string, err error)

// aliError is an Alibaba error as the SDK hands it to the caller.
type aliError struct {
	Code   string
	Status int
}

// aliVariant is one way an Alibaba SDK sends QuerySessionByClientId
// (the classic RPC SDK and the darabonba v2 SDK, each in its styles).
type aliVariant struct {
	name string
	// newQuery returns a query function for the broker's admin port with
	// the given keys; cp, if not nil, sees every request.
	newQuery func(t *testing.T, b *broker, keyID, keySecret string, cp *capture) aliQuery
	// asError extracts the code and HTTP status through the SDK's own
	// error type.
	asError func(err error) (aliError, error)
}

var (
	classicJSON = aliVariant{"classic JSON", classicQuery(""), classicError}
	classicXML  = aliVariant{"classic XML", classicQuery("XML"), classicError}
	v2ACS3      = aliVariant{"v2 ACS3", v2Query(false), teaError}
	v2RPC       = aliVariant{"v2 RPC", v2Query(true), teaError}
	aliVariants = []aliVariant{classicJSON, classicXML, v2ACS3, v2RPC}
)

// classicQuery drives services/onsmqtt in region cn-hangzhou; format "" is
// the SDK's JSON default.
func classicQuery(format string) func(*testing.T, *broker, string, string, *capture) aliQuery {
	return classicQueryIn("cn-hangzhou", format)
}

// classicQueryIn is classicQuery in the given region, sent as RegionId
// (empty if "").
func classicQueryIn(region, format string) func(*testing.T, *broker, string, string, *capture) aliQuery {
	return func(t *testing.T, b *broker, keyID, keySecret string, cp *capture) aliQuery {
		t.Helper()
		c, err := onsmqtt.NewClientWithOptions(region, sdk.NewConfig(), credentials.NewAccessKeyCredential(keyID, keySecret))
		if err != nil {
			t.Fatalf("onsmqtt.NewClientWithOptions: %v", err)
		}
		c.Domain = b.Admin
		if cp != nil {
			c.SetTransport(cp)
		}
		return func(instance, clientID *string) (bool, string, error) {
			req := onsmqtt.CreateQuerySessionByClientIdRequest()
			req.Scheme = "http"
			if format != "" {
				req.AcceptFormat = format
			}
			if instance != nil {
				req.InstanceId = *instance
			}
			if clientID != nil {
				req.ClientId = *clientID
			}
			resp, err := c.QuerySessionByClientId(req)
			if err != nil {
				return false, "", err
			}
			body := strings.TrimSpace(resp.GetHttpContentString())
			if wantXML := format == "XML"; wantXML != strings.HasPrefix(body, "<") {
				return false, "", fmt.Errorf("Format=%s answered with body %.200q", req.AcceptFormat, body)
			}
			return resp.OnlineStatus, resp.RequestId, nil
		}
	}
}

// v2Query drives onsmqtt-20200420/v2: ACS3-HMAC-SHA256 by default, RPC
// signature v1 with config.SignatureAlgorithm "v2".
func v2Query(rpc bool) func(*testing.T, *broker, string, string, *capture) aliQuery {
	return func(t *testing.T, b *broker, keyID, keySecret string, cp *capture) aliQuery {
		t.Helper()
		cfg := &openapi.Config{
			AccessKeyId:     tea.String(keyID),
			AccessKeySecret: tea.String(keySecret),
			Endpoint:        tea.String(b.Admin),
			Protocol:        tea.String("HTTP"),
			ReadTimeout:     tea.Int(10000),
			ConnectTimeout:  tea.Int(5000),
		}
		if rpc {
			cfg.SignatureAlgorithm = tea.String("v2")
		}
		if cp != nil {
			cfg.HttpProxy = tea.String(cp.proxy(t))
		}
		c, err := onsmqttv2.NewClient(cfg)
		if err != nil {
			t.Fatalf("onsmqttv2.NewClient: %v", err)
		}
		return func(instance, clientID *string) (bool, string, error) {
			resp, err := c.QuerySessionByClientId(&onsmqttv2.QuerySessionByClientIdRequest{ClientId: clientID, InstanceId: instance})
			if err != nil {
				return false, "", err
			}
			if resp.Body == nil || resp.Body.OnlineStatus == nil {
				return false, "", fmt.Errorf("response without OnlineStatus: %v", resp)
			}
			return *resp.Body.OnlineStatus, tea.StringValue(resp.Body.RequestId), nil
		}
	}
}

var xmlCode = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// classicError reads an *errors.ServerError. With Format=XML the SDK leaves
// ErrorCode() empty for an XML body and Message() holds the raw XML
// so the code is taken from there.
func classicError(err error) (aliError, error) {
	e, ok := errorsAs[*alierrors.ServerError](err)
	if !ok {
		return aliError{}, fmt.Errorf("not an *errors.ServerError: %T %v", err, err)
	}
	code := e.ErrorCode()
	if m := xmlCode.FindStringSubmatch(e.Message()); code == "" && m != nil {
		code = m[1]
	}
	if e.RequestId() == "" && !strings.Contains(e.Message(), "RequestId") {
		return aliError{}, fmt.Errorf("%s without RequestId: %v", code, err)
	}
	return aliError{code, e.HttpStatus()}, nil
}

// teaError reads a darabonba *tea.SDKError.
func teaError(err error) (aliError, error) {
	e, ok := errorsAs[*tea.SDKError](err)
	if !ok {
		return aliError{}, fmt.Errorf("not a *tea.SDKError: %T %v", err, err)
	}
	return aliError{tea.StringValue(e.Code), tea.IntValue(e.StatusCode)}, nil
}

// checkAliError fails t unless err is the SDK error code with HTTP status;
// status 0 accepts any 4xx.
func checkAliError(t *testing.T, v aliVariant, what string, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, code)
		return
	}
	got, xerr := v.asError(err)
	if xerr != nil {
		t.Errorf("%s: %v; want %s", what, xerr, code)
		return
	}
	statusOK := got.Status == status || status == 0 && got.Status >= 400 && got.Status < 500
	if (code != "" && got.Code != code) || !statusOK {
		want := fmt.Sprint(status)
		if status == 0 {
			want = "4xx"
		}
		t.Errorf("%s: got %s HTTP %d, want %s HTTP %s (%v)", what, got.Code, got.Status, code, want, err)
	}
}

// pollOnline queries until the client's OnlineStatus is want.
func pollOnline(t *testing.T, q aliQuery, id string, want bool) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		online, requestID, err := q(str(instanceID), str(id))
		if err == nil && online == want {
			if requestID == "" {
				t.Errorf("QuerySessionByClientId %q: empty RequestId", id)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("QuerySessionByClientId %q: after %v got OnlineStatus %v, err %v; want %v", id, pollTimeout, online, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runAlibabaScenario follows an unknown client, a paho client with a
// persistent session that disconnects cleanly, and a raw client that drops
// its TCP connection without DISCONNECT.
func runAlibabaScenario(t *testing.T, b *broker, q aliQuery) {
	pollOnline(t, q, "GID_test@@@nobody", false) // unknown: false, not an error

	c1 := connectPaho(t, b, oddClientID, false, 60*time.Second)
	raw := dialRaw(t, b.MQTT)
	raw.connect(seedClientID, "user", "pass", true, 60)
	pollOnline(t, q, oddClientID, true)
	pollOnline(t, q, seedClientID, true)

	c1.Disconnect(100)
	pollOnline(t, q, oddClientID, false) // session kept, but offline
	raw.conn.Close()
	pollOnline(t, q, seedClientID, false)
	pollOnline(t, q, "GID_test@@@nobody", false)
}

func TestAlibabaClassicJSON(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	runAlibabaScenario(t, b, classicJSON.newQuery(t, b, alibabaKeyID, alibabaKeySecret, nil))
}

func TestAlibabaClassicXML(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	runAlibabaScenario(t, b, classicXML.newQuery(t, b, alibabaKeyID, alibabaKeySecret, nil))
}

func TestAlibabaV2ACS3(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	runAlibabaScenario(t, b, v2ACS3.newQuery(t, b, alibabaKeyID, alibabaKeySecret, nil))
}

func TestAlibabaV2RPC(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	runAlibabaScenario(t, b, v2RPC.newQuery(t, b, alibabaKeyID, alibabaKeySecret, nil))
}

// TestAlibabaErrors checks the API and signature errors in every variant.
func TestAlibabaErrors(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	connectPaho(t, b, oddClientID, true, 60*time.Second)
	for _, v := range aliVariants {
		t.Run(v.name, func(t *testing.T) {
			cp := newCapture(t)
			q := v.newQuery(t, b, alibabaKeyID, alibabaKeySecret, cp)
			if online, _, err := q(str(instanceID), str(oddClientID)); err != nil || !online {
				t.Fatalf("right key: OnlineStatus %v, err %v; want true, nil", online, err)
			}
			for _, tc := range []struct {
				name               string
				instance, clientID *string
				code               string
			}{
				{"other instance", str("post-cn-elsewhere"), str(oddClientID), "InstancePermissionCheckFailed"},
				{"no ClientId", str(instanceID), nil, "InvalidParameter.ClientId"},
				{"no InstanceId", nil, str(oddClientID), "InvalidParameter.InstanceId"},
			} {
				_, _, err := q(tc.instance, tc.clientID)
				checkAliError(t, v, tc.name, err, tc.code, 400)
				if v.name != classicXML.name {
					for _, p := range aliErrorBodyProblems(cp.last().body) {
						t.Errorf("%s: %s", tc.name, p)
					}
				}
			}

			_, _, err := v.newQuery(t, b, alibabaKeyID, alibabaKeySecret+"x", nil)(str(instanceID), str(oddClientID))
			checkAliError(t, v, "wrong secret", err, "SignatureDoesNotMatch", 400)
			_, _, err = v.newQuery(t, b, "LTAI5tUnknownKey00000000", alibabaKeySecret, nil)(str(instanceID), str(oddClientID))
			checkAliError(t, v, "unknown AccessKeyId", err, "", 0)
			if got, xerr := v.asError(err); xerr == nil {
				t.Logf("unknown AccessKeyId: %s HTTP %d", got.Code, got.Status)
			}
		})
	}
}

// TestAlibabaReplay sends signed requests again byte for byte: a nonce is
// single use (SignatureNonceUsed), and a forged request does not burn the
// nonce of the genuine one, because the nonce is checked after the
// signature.
func TestAlibabaReplay(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	connectPaho(t, b, oddClientID, true, 60*time.Second)
	for _, v := range []aliVariant{classicJSON, v2ACS3, v2RPC} {
		t.Run(v.name, func(t *testing.T) {
			cp := newCapture(t)
			q := v.newQuery(t, b, alibabaKeyID, alibabaKeySecret, cp)
			ask := func(mode captureMode) (bool, error) {
				cp.setMode(mode)
				online, _, err := q(str(instanceID), str(oddClientID))
				return online, err
			}

			if online, err := ask(forward); err != nil || !online {
				t.Fatalf("first request: OnlineStatus %v, err %v; want true, nil", online, err)
			}
			_, err := ask(replay)
			checkAliError(t, v, "same request again", err, "SignatureNonceUsed", 0)

			if _, err := ask(hold); err == nil {
				t.Fatal("held request: no error; the capture did not hold it")
			}
			_, err = ask(replayForged)
			checkAliError(t, v, "held request with a forged signature", err, "SignatureDoesNotMatch", 400)
			if online, err := ask(replay); err != nil || !online {
				t.Fatalf("held request after its forged copy: OnlineStatus %v, err %v; want true, nil (a forged request must not burn the nonce)", online, err)
			}
			_, err = ask(replay)
			checkAliError(t, v, "held request again", err, "SignatureNonceUsed", 0)
		})
	}
}

// TestNoCredentials checks that a broker without -admin-credentials
// answers every SDK whatever keys it signs with.
func TestNoCredentials(t *testing.T) {
	b := startBroker(t, brokerConfig{})
	c := connectPaho(t, b, oddClientID, true, 60*time.Second)
	for _, v := range tcVariants {
		p, err := describe(newTencent(t, b, "AKIDanything", "any-key", v, nil), str(instanceID), str(oddClientID))
		if err != nil {
			t.Errorf("Tencent %s: %v", v.name, err)
		} else if deref(p.ClientAddress) != c.LocalAddr() {
			t.Errorf("Tencent %s: ClientAddress %v, want %s", v.name, deref(p.ClientAddress), c.LocalAddr())
		}
	}
	for _, v := range aliVariants {
		online, _, err := v.newQuery(t, b, "LTAIanything", "any-secret", nil)(str(instanceID), str(oddClientID))
		if err != nil || !online {
			t.Errorf("Alibaba %s: OnlineStatus %v, err %v; want true, nil", v.name, online, err)
		}
	}
}

// TestEmptyRegion checks that no region is required: the Tencent SDK then
// sends no X-TC-Region (TC3) or an empty Region (legacy), and the Alibaba
// classic SDK an empty RegionId.
func TestEmptyRegion(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	connectPaho(t, b, oddClientID, true, 60*time.Second)
	for _, v := range []tencentVariant{tc3Post, hmac256} {
		c := newTencentIn(t, b, "", tencentSecretID, tencentSecretKey, v, nil)
		if p, err := describe(c, str(instanceID), str(oddClientID)); err != nil || deref(p.ClientId) != oddClientID {
			t.Errorf("Tencent %s without region: ClientId %v, err %v", v.name, asJSON(p), err)
		}
	}
	q := classicQueryIn("", "")(t, b, alibabaKeyID, alibabaKeySecret, nil)
	if online, _, err := q(str(instanceID), str(oddClientID)); err != nil || !online {
		t.Errorf("Alibaba classic without RegionId: OnlineStatus %v, err %v; want true, nil", online, err)
	}
}

// aliErrorBodyProblems checks a JSON error body: RequestId, HostId, Code,
// Message and Recommend must all be strings, or the classic SDK panics on
// its type assertions.
func aliErrorBodyProblems(body []byte) []string {
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return []string{fmt.Sprintf("error body %.200q is not a JSON object", body)}
	}
	var ps []string
	for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
		if _, ok := obj[k].(string); !ok {
			ps = append(ps, fmt.Sprintf("error body %s: %q is %T, want a string", body, k, obj[k]))
		}
	}
	return ps
}
