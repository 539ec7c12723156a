package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// The fake broker's Operations record what they were asked.
type opCall struct {
	op, clientID, topic string
	payload             string
	qos                 byte
	retain              bool
}

func (f *fakeBroker) record(c opCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, c)
}

func (f *fakeBroker) has(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.sessions[id]
	return ok
}

// refusedPrefix starts the topics and filters the fake refuses, as the
// broker refuses a capability it has off.
const refusedPrefix = "refused/"

func (f *fakeBroker) CheckPublish(topic string, retain bool) error {
	if retain && strings.HasPrefix(topic, refusedPrefix) {
		return errors.New("broker: retained messages are off")
	}
	return nil
}

func (f *fakeBroker) CheckSubscribe(filter string) error {
	if strings.HasPrefix(filter, refusedPrefix) {
		return errors.New("broker: wildcard subscriptions are off")
	}
	return nil
}

func (f *fakeBroker) Publish(topic string, payload []byte, qos byte, retain bool) uint64 {
	f.record(opCall{op: "publish", topic: topic, payload: string(payload), qos: qos, retain: retain})
	return 0
}

func (f *fakeBroker) PublishTo(id, topic string, payload []byte, qos byte) (uint64, bool) {
	if !f.has(id) {
		return 0, false
	}
	f.record(opCall{op: "publishTo", clientID: id, topic: topic, payload: string(payload), qos: qos})
	return 0, true
}

func (f *fakeBroker) Subscribe(id, filter string, qos byte) bool {
	if !f.has(id) {
		return false
	}
	f.record(opCall{op: "subscribe", clientID: id, topic: filter, qos: qos})
	return true
}

func (f *fakeBroker) Unsubscribe(id, filter string) bool {
	if !f.has(id) {
		return false
	}
	f.record(opCall{op: "unsubscribe", clientID: id, topic: filter})
	return true
}

func (f *fakeBroker) Will(id string) (*session.Message, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	if !ok || !s.Connected {
		return nil, false
	}
	if s.WillTopic == "" {
		return nil, true
	}
	return session.NewMessage([]byte(s.WillTopic), []byte("gone\x00"), 1, true), true
}

func (f *fakeBroker) DeleteSession(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sessions[id]; !ok {
		return false
	}
	delete(f.sessions, id)
	f.ops = append(f.ops, opCall{op: "delete", clientID: id})
	return true
}

// mqttTC3 is an unsigned Tencent request of service mqtt 2024-05-16.
func mqttTC3(action, body string) *testReq {
	r := &testReq{method: "POST", body: body}
	r.set("Content-Type", "application/json").set("X-TC-Action", action).set("X-TC-Version", "2024-05-16")
	return r
}

// willInfo is seedInfo with a will.
func willInfo() *session.Info {
	i := seedInfo()
	i.ClientID = "with_will"
	i.WillTopic = "wills/with_will"
	i.ConnectTime = 1711444795999
	return i
}

// TestNewActionsGolden pins the answers of the newer actions byte for byte.
func TestNewActionsGolden(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo(), weirdInfo(), willInfo()), nil)
	rpc := func(v url.Values) *testReq {
		v.Set("InstanceId", "mqtt-local")
		return unsignedRPC(v)
	}
	cases := []struct {
		file string
		req  *testReq
	}{
		{"tencent_client_list.json", mqttTC3("DescribeClientList", `{"InstanceId":"mqtt-local"}`)},
		{"tencent_client_list_offline.json", mqttTC3("DescribeClientList", `{"InstanceId":"mqtt-local","OnlineStatus":2}`)},
		{"tencent_will.json", mqttTC3("DescribeWillMessage", `{"InstanceId":"mqtt-local","ClientId":"with_will"}`)},
		{"tencent_will_none.json", mqttTC3("DescribeWillMessage", `{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`)},
		{"tencent_add_subscription.json", mqttTC3("AddClientSubscription", `{"InstanceId":"mqtt-local","ClientId":"sub_client2","TopicFilter":"a/#","Qos":"1"}`)},
		{"tencent_publish_bad_topic.json", mqttTC3("PublishMessage", `{"InstanceId":"mqtt-local","Payload":"x","TargetTopic":"a/+"}`)},
		{"alibaba_batch_query.json", rpc(url.Values{"Action": {"BatchQuerySessionByClientIds"}, "ClientIdList.1": {"sub_client2"},
			"ClientIdList.2": {weirdID}, "ClientIdList.3": {"nobody"}, "Format": {"JSON"}})},
		{"alibaba_batch_query.xml", rpc(url.Values{"Action": {"BatchQuerySessionByClientIds"}, "ClientIdList.1": {"sub_client2"}, "Format": {"XML"}})},
		{"alibaba_close_connection.json", rpc(url.Values{"Action": {"CloseConnection"}, "ClientId": {"sub_client2"}})},
		{"alibaba_error_batch_11.json", rpc(url.Values{"Action": {"BatchQuerySessionByClientIds"}, "ClientIdList.1": {"a"}, "ClientIdList.2": {"a"},
			"ClientIdList.3": {"a"}, "ClientIdList.4": {"a"}, "ClientIdList.5": {"a"}, "ClientIdList.6": {"a"}, "ClientIdList.7": {"a"},
			"ClientIdList.8": {"a"}, "ClientIdList.9": {"a"}, "ClientIdList.10": {"a"}, "ClientIdList.11": {"a"}})},
		{"alibaba_send_message.json", rpc(url.Values{"Action": {"SendMessage"}, "MqttTopic": {"a/b"}, "Payload": {"hi"}})},
		{"alibaba_get_credential_none.json", rpc(url.Values{"Action": {"GetDeviceCredential"}, "ClientId": {"GID_x@@@d1"}})},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			golden(t, tc.file, serve(t, s, tc.req).Body())
		})
	}
}

// TestDescribeClientList checks the filters and paging of
// DescribeClientList: OnlineStatus, ClientId, Number, MaxTimestamp.
func TestDescribeClientList(t *testing.T) {
	var infos []*session.Info
	for i := range 5 {
		in := seedInfo()
		in.ClientID = fmt.Sprintf("dev-%d", i)
		in.ConnectTime = int64(1000 + i)
		if i%2 == 1 {
			in.Connected, in.DisconnectTime = false, int64(2000+i)
		}
		infos = append(infos, in)
	}
	s := newTestServer(t, newFakeBroker(infos...), nil)
	list := func(body string) []string {
		t.Helper()
		resp := serve(t, s, mqttTC3("DescribeClientList", body))
		if code := tencentCode(t, resp); code != "" {
			t.Fatalf("%s: %s %s", body, code, resp.Body())
		}
		var v struct{ Response DescribeClientListResponse }
		if err := json.Unmarshal(resp.Body(), &v); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range v.Response.Clients {
			ids = append(ids, c.ClientID)
		}
		return ids
	}
	for _, c := range []struct{ body, want string }{
		{`{"InstanceId":"mqtt-local"}`, "dev-3 dev-1 dev-4 dev-2 dev-0"}, // newest first: offline by disconnect time, online by connect time
		{`{"InstanceId":"mqtt-local","OnlineStatus":1}`, "dev-4 dev-2 dev-0"},
		{`{"InstanceId":"mqtt-local","OnlineStatus":"2"}`, "dev-3 dev-1"},
		{`{"InstanceId":"mqtt-local","Number":"2"}`, "dev-3 dev-1"},
		{`{"InstanceId":"mqtt-local","OnlineStatus":1,"Number":2,"MaxTimestamp":1002}`, "dev-0"}, // the page after dev-2
		{`{"InstanceId":"mqtt-local","ClientId":"dev-4"}`, "dev-4"},
	} {
		if got := strings.Join(list(c.body), " "); got != c.want {
			t.Errorf("%s: got %q, want %q", c.body, got, c.want)
		}
	}
	for _, bad := range []string{`{"InstanceId":"mqtt-local","Number":"0"}`, `{"InstanceId":"mqtt-local","Number":1025}`,
		`{"InstanceId":"mqtt-local","OnlineStatus":3}`, `{"InstanceId":"mqtt-local","MaxTimestamp":"x"}`} {
		if code := tencentCode(t, serve(t, s, mqttTC3("DescribeClientList", bad))); code != tcInvalidParameterValue {
			t.Errorf("%s: code %q, want %s", bad, code, tcInvalidParameterValue)
		}
	}
}

// TestTencentMQTTOperations: each action that changes the broker asks the
// Operations what the request says, and answers the vendor's codes.
func TestTencentMQTTOperations(t *testing.T) {
	f := newFakeBroker(seedInfo(), weirdInfo())
	s := newTestServer(t, f, nil)
	cases := []struct {
		action, body, code string
		want               *opCall
	}{
		{"AddClientSubscription", `{"InstanceId":"mqtt-local","ClientId":"sub_client2","TopicFilter":"a/+","Qos":2}`, "",
			&opCall{op: "subscribe", clientID: "sub_client2", topic: "a/+", qos: 2}},
		{"AddClientSubscription", `{"InstanceId":"mqtt-local","ClientId":"sub_client2","TopicFilter":"a/#/b","Qos":"1"}`, tcInvalidParameterValue, nil},
		{"AddClientSubscription", `{"InstanceId":"mqtt-local","ClientId":"sub_client2","TopicFilter":"a"}`, tcMissingParameter, nil},
		{"AddClientSubscription", `{"InstanceId":"mqtt-local","ClientId":"nobody","TopicFilter":"a","Qos":"0"}`, tcResourceNotFoundClient, nil},
		{"DeleteClientSubscription", `{"InstanceId":"mqtt-local","ClientId":"sub_client2","TopicFilter":"a/+"}`, "",
			&opCall{op: "unsubscribe", clientID: "sub_client2", topic: "a/+"}},
		{"PublishMessage", `{"InstanceId":"mqtt-local","Payload":"aGk=","Encoding":"base64","TargetTopic":"a/b","Retain":true}`, "",
			&opCall{op: "publish", topic: "a/b", payload: "hi", qos: 1, retain: true}},
		{"PublishMessage", `{"InstanceId":"mqtt-local","Payload":"hi","TargetTopic":"a/b","TargetClientId":"sub_client2","Qos":"2"}`, "",
			&opCall{op: "publishTo", clientID: "sub_client2", topic: "a/b", payload: "hi", qos: 2}},
		{"PublishMessage", `{"InstanceId":"mqtt-local","Payload":"%%","Encoding":"base64","TargetTopic":"a/b"}`, tcInvalidParameterValue, nil},
		{"PublishMessage", `{"InstanceId":"mqtt-local","Payload":"x","TargetTopic":"refused/b","Retain":true}`, tcOperationDenied, nil},
		{"AddClientSubscription", `{"InstanceId":"mqtt-local","ClientId":"sub_client2","TopicFilter":"refused/+","Qos":1}`, tcOperationDenied, nil},
		{"PublishMessage", `{"InstanceId":"mqtt-local","Payload":"x","TargetTopic":"$SYS/x"}`, tcInvalidParameterValue, nil},
		{"PublishMessage", `{"InstanceId":"mqtt-local","TargetTopic":"a"}`, tcMissingParameter, nil},
		{"KickOutClient", `{"InstanceId":"mqtt-local","ClientId":"nobody"}`, tcResourceNotFoundClient, nil},
		{"KickOutClient", `{"InstanceId":"mqtt-local","ClientId":"` + weirdID + `","DeleteSession":true}`, "",
			&opCall{op: "delete", clientID: weirdID}},
		{"KickOutClient", `{"InstanceId":"other","ClientId":"sub_client2"}`, tcResourceNotFoundInstance, nil},
		{"DescribeWillMessage", `{"InstanceId":"mqtt-local","ClientId":"nobody"}`, tcResourceNotFoundClient, nil},
	}
	for _, c := range cases {
		f.mu.Lock()
		f.ops = nil
		f.mu.Unlock()
		resp := serve(t, s, mqttTC3(c.action, c.body))
		if code := tencentCode(t, resp); code != c.code {
			t.Errorf("%s %s: code %q, want %q; %s", c.action, c.body, code, c.code, resp.Body())
			continue
		}
		f.mu.Lock()
		ops := f.ops
		f.mu.Unlock()
		switch {
		case c.want == nil && len(ops) != 0:
			t.Errorf("%s %s: broker asked %+v, want nothing", c.action, c.body, ops)
		case c.want != nil && (len(ops) != 1 || ops[0] != *c.want):
			t.Errorf("%s %s: broker asked %+v, want %+v", c.action, c.body, ops, *c.want)
		}
	}
	// KickOutClient without DeleteSession kicks, will published.
	if code := tencentCode(t, serve(t, s, mqttTC3("KickOutClient", `{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`))); code != "" {
		t.Fatalf("KickOutClient: %s", code)
	}
	if len(f.kicks) != 1 || f.kicks[0] != (kick{"sub_client2", true}) {
		t.Errorf("kicks %+v, want sub_client2 with its will", f.kicks)
	}
	// The seed's action is still served, and versions do not mix.
	if code := tencentCode(t, serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`))); code != "" {
		t.Errorf("DescribeMQTTClient: %s", code)
	}
	if code := tencentCode(t, serve(t, s, mqttTC3("DescribeMQTTClient", `{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`))); code != tcNoSuchVersion {
		t.Errorf("DescribeMQTTClient at 2024-05-16: %q, want %s", code, tcNoSuchVersion)
	}
	if code := tencentCode(t, serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local"}`).set("X-TC-Action", "DescribeClientList"))); code != tcNoSuchVersion {
		t.Errorf("DescribeClientList at 2023-03-08: %q, want %s", code, tcNoSuchVersion)
	}
}

// TestTC3ServiceScope: with keys, the 2024-05-16 actions are signed for
// service mqtt and the seed's for trocket; the other scope is refused.
func TestTC3ServiceScope(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), withKeys)
	ts := testNow.Unix()
	for _, c := range []struct {
		action, version, service, code string
	}{
		{"DescribeClientList", "2024-05-16", "mqtt", ""},
		{"DescribeClientList", "2024-05-16", "trocket", tcSignatureFailure},
		{"DescribeMQTTClient", "2023-03-08", "trocket", ""},
		{"DescribeMQTTClient", "2023-03-08", "mqtt", tcSignatureFailure},
	} {
		r := mqttTC3(c.action, `{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`).set("X-TC-Version", c.version)
		signTC3Service(r, tcSecretID, tcSecretKey, ts, c.service)
		if code := tencentCode(t, serve(t, s, r)); code != c.code {
			t.Errorf("%s signed for %s: %q, want %q", c.action, c.service, code, c.code)
		}
	}
}

// TestAlibabaNewActions: batch query, close, send, and the device
// credential life cycle.
func TestAlibabaNewActions(t *testing.T) {
	f := newFakeBroker(seedInfo())
	s := newTestServer(t, f, nil)
	call := func(v url.Values) (int, map[string]any) {
		t.Helper()
		v.Set("InstanceId", "mqtt-local")
		resp := serve(t, s, unsignedRPC(v))
		var m map[string]any
		if err := json.Unmarshal(resp.Body(), &m); err != nil {
			t.Fatalf("%v: %v %s", v, err, resp.Body())
		}
		return resp.StatusCode(), m
	}
	if st, m := call(url.Values{"Action": {"BatchQuerySessionByClientIds"}}); st != 400 || m["Code"] != alInvalidParameterClientIDList {
		t.Errorf("batch without IDs: %d %v", st, m)
	}
	ten := url.Values{"Action": {"BatchQuerySessionByClientIds"}}
	for i := 1; i <= 10; i++ {
		ten.Set(fmt.Sprintf("ClientIdList.%d", i), fmt.Sprintf("c%d", i))
	}
	if st, m := call(ten); st != 200 || len(m["OnlineStatusList"].([]any)) != 10 {
		t.Errorf("batch of 10: %d %v", st, m)
	}
	if st, m := call(url.Values{"Action": {"SendMessage"}, "MqttTopic": {"a/+"}, "Payload": {"x"}}); st != 400 || m["Code"] != alInvalidParameterMqttTopic {
		t.Errorf("SendMessage to a filter: %d %v", st, m)
	}
	if st, m := call(url.Values{"Action": {"SendMessage"}, "MqttTopic": {"a/b"}, "Payload": {"hi there"}}); st != 200 || len(m["MsgId"].(string)) != 32 {
		t.Errorf("SendMessage: %d %v", st, m)
	}
	if len(f.ops) != 1 || f.ops[0] != (opCall{op: "publish", topic: "a/b", payload: "hi there", qos: 1}) {
		t.Errorf("SendMessage published %+v", f.ops)
	}
	if st, m := call(url.Values{"Action": {"CloseConnection"}, "ClientId": {"sub_client2"}}); st != 200 || m["Success"] != true {
		t.Errorf("CloseConnection: %d %v", st, m)
	}
	if len(f.kicks) != 1 {
		t.Errorf("CloseConnection kicked %+v", f.kicks)
	}

	cred := func(action, id string) (int, map[string]any) {
		st, m := call(url.Values{"Action": {action}, "ClientId": {id}})
		dc, _ := m["DeviceCredential"].(map[string]any)
		return st, dc
	}
	_, reg := cred("RegisterDeviceCredential", "GID_a@@@d1")
	if reg["DeviceAccessKeyId"] == "" || reg["DeviceAccessKeySecret"] == "" || reg["ClientId"] != "GID_a@@@d1" || reg["InstanceId"] != "mqtt-local" {
		t.Fatalf("registered %v", reg)
	}
	if _, again := cred("RegisterDeviceCredential", "GID_a@@@d1"); again["DeviceAccessKeySecret"] != reg["DeviceAccessKeySecret"] {
		t.Errorf("registering again issued a new key: %v, was %v", again, reg)
	}
	if _, got := cred("GetDeviceCredential", "GID_a@@@d1"); got["DeviceAccessKeyId"] != reg["DeviceAccessKeyId"] {
		t.Errorf("get %v, want %v", got, reg)
	}
	_, ref := cred("RefreshDeviceCredential", "GID_a@@@d1")
	if ref["DeviceAccessKeySecret"] == reg["DeviceAccessKeySecret"] || ref["CreateTime"] != reg["CreateTime"] {
		t.Errorf("refresh %v, was %v: want a new secret, the same CreateTime", ref, reg)
	}
	cred("RegisterDeviceCredential", "GID_a@@@d2")
	cred("RegisterDeviceCredential", "GID_b@@@d1")
	st, m := call(url.Values{"Action": {"ListDeviceCredentialClientId"}, "GroupId": {"GID_a"}, "PageSize": {"1"}})
	page, _ := m["DeviceCredentialClientIdList"].(map[string]any)
	if st != 200 || fmt.Sprint(page["ClientIdList"]) != "[GID_a@@@d1]" || page["NextToken"] != "GID_a@@@d1" || page["Total"] != "2" {
		t.Errorf("list page 1: %d %v", st, m)
	}
	_, m = call(url.Values{"Action": {"ListDeviceCredentialClientId"}, "GroupId": {"GID_a"}, "PageSize": {"1"}, "NextToken": {"GID_a@@@d1"}})
	page, _ = m["DeviceCredentialClientIdList"].(map[string]any)
	if fmt.Sprint(page["ClientIdList"]) != "[GID_a@@@d2]" || page["NextToken"] != "" {
		t.Errorf("list page 2: %v", m)
	}
	if st, _ := call(url.Values{"Action": {"UnRegisterDeviceCredential"}, "ClientId": {"GID_a@@@d1"}}); st != 200 {
		t.Errorf("unregister: %d", st)
	}
	if st, m := call(url.Values{"Action": {"GetDeviceCredential"}, "ClientId": {"GID_a@@@d1"}}); st != 404 || m["Code"] != alDeviceCredentialNotFound {
		t.Errorf("get after unregister: %d %v", st, m)
	}
}

// TestWillProperties: DescribeWillMessage shows a 5.0 will's user
// properties in order, content type, response topic, correlation data and
// payload format, decoded from the records the broker keeps (without their
// length); a will without properties keeps the empty defaults.
func TestWillProperties(t *testing.T) {
	p := codec.Properties{ContentType: []byte("text/plain"), ResponseTopic: []byte("r/1"),
		CorrelationData: []byte("c-7"), PayloadFormat: 1,
		User: []codec.UserProperty{{Key: []byte("k"), Value: []byte("v1")}, {Key: []byte("k"), Value: []byte("v2")}}}
	p.Set(codec.PropContentType)
	p.Set(codec.PropResponseTopic)
	p.Set(codec.PropCorrelationData)
	p.Set(codec.PropPayloadFormat)
	block := codec.AppendProperties(nil, &p)
	records := block[1:] // one length byte for this short block
	var r DescribeWillMessageResponse
	r.UserProperties = []UserProperty{}
	willProperties(&r, records)
	want := []UserProperty{{"k", "v1"}, {"k", "v2"}}
	if !slices.Equal(r.UserProperties, want) || r.ContentType != "text/plain" || r.ResponseTopic != "r/1" ||
		r.CorrelationData != "c-7" || r.PayloadFormatIndicator != 1 {
		t.Fatalf("got %+v, want user properties %v, text/plain, r/1, c-7, format 1", r, want)
	}
	var none DescribeWillMessageResponse
	none.UserProperties = []UserProperty{}
	willProperties(&none, nil)
	if len(none.UserProperties) != 0 || none.ContentType != "" || none.PayloadFormatIndicator != 0 {
		t.Fatalf("no properties: got %+v, want the empty defaults", none)
	}
}
