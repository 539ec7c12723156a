package sdktest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	onsmqttv2 "github.com/alibabacloud-go/onsmqtt-20200420/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// mqttCall calls an action of Tencent service mqtt 2024-05-16 through the
// official SDK's generic client (its typed module is not served here),
// signed with TC3, and decodes the Response object into out.
func mqttCall(t *testing.T, b *broker, action string, params map[string]any, out any) error {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = b.Admin
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.ReqTimeout = 10
	c := common.NewCommonClient(common.NewCredential(tencentSecretID, tencentSecretKey), "ap-guangzhou", cpf)
	req := tchttp.NewCommonRequest("mqtt", "2024-05-16", action)
	if err := req.SetActionParameters(params); err != nil {
		t.Fatal(err)
	}
	resp := tchttp.NewCommonResponse()
	if err := c.Send(req, resp); err != nil {
		return err
	}
	var v struct{ Response json.RawMessage }
	if err := json.Unmarshal(resp.GetBody(), &v); err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if out != nil {
		if err := json.Unmarshal(v.Response, out); err != nil {
			t.Fatalf("%s: %v in %s", action, err, v.Response)
		}
	}
	return nil
}

type clientList struct {
	Clients []struct {
		ClientID                string `json:"ClientId"`
		ConnectionStatus        string
		ExpireIntervalInSeconds int64
		MQTTClientSubscriptions []struct {
			TopicFilter   string
			Qos           int64
			Lag, Inflight int64
		}
	}
}

// subscriptionsOf returns the topic filters of id from DescribeClientList,
// nil when id is not listed.
func subscriptionsOf(t *testing.T, b *broker, id string) []string {
	t.Helper()
	var l clientList
	if err := mqttCall(t, b, "DescribeClientList", map[string]any{"InstanceId": instanceID, "ClientId": id}, &l); err != nil {
		t.Fatalf("DescribeClientList: %v", err)
	}
	for _, c := range l.Clients {
		if c.ClientID == id {
			fs := []string{}
			for _, s := range c.MQTTClientSubscriptions {
				fs = append(fs, s.TopicFilter)
			}
			return fs
		}
	}
	return nil
}

// eventually polls cond at 5 per second (well under the 20/s limits).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(pollTimeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, pollTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// expect waits for a message on topic with payload at pc.
func expect(t *testing.T, pc *pahoClient, topic, payload string) {
	t.Helper()
	timeout := time.After(pollTimeout)
	for {
		select {
		case m := <-pc.msgs:
			if m.Topic() == topic && string(m.Payload()) == payload {
				return
			}
		case <-timeout:
			t.Fatalf("%s: no message %q on %s", pc.ID, payload, topic)
		}
	}
}

// connectWithWill connects a persistent paho client with a will.
func connectWithWill(t *testing.T, b *broker, id, willTopic, will string) *pahoClient {
	t.Helper()
	pc := &pahoClient{ID: id, msgs: make(chan paho.Message, 64)}
	opts := paho.NewClientOptions().AddBroker("tcp://"+b.MQTT).SetClientID(id).SetCleanSession(false).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetKeepAlive(60*time.Second).
		SetWill(willTopic, will, 1, false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { pc.msgs <- m }).
		SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			return net.DialTimeout("tcp", u.Host, 10*time.Second)
		})
	pc.Client = paho.NewClient(opts)
	wait(t, "paho CONNECT "+id, pc.Connect())
	t.Cleanup(func() {
		if pc.IsConnectionOpen() {
			pc.Disconnect(50)
		}
	})
	return pc
}

// TestTencentMQTTActions drives the mqtt 2024-05-16 actions with the
// official SDK against a real glassmq and real MQTT clients: the list, a
// will, server-side subscriptions that deliver, publishing to a topic and
// to one client, and kicking with and without deleting the session.
func TestTencentMQTTActions(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	dev := connectWithWill(t, b, "dev-1", "wills/dev-1", "bye\x00")
	watcher := connectPaho(t, b, "watcher", true, 60*time.Second)
	wait(t, "SUBSCRIBE", watcher.Subscribe("wills/#", 1, nil))
	wait(t, "SUBSCRIBE", watcher.Subscribe("news/#", 1, nil))

	if got := subscriptionsOf(t, b, "watcher"); !slices.Equal(got, []string{"wills/#", "news/#"}) {
		t.Errorf("watcher's subscriptions %q", got)
	}
	var online clientList
	if err := mqttCall(t, b, "DescribeClientList", map[string]any{"InstanceId": instanceID, "OnlineStatus": 1}, &online); err != nil {
		t.Fatal(err)
	}
	if len(online.Clients) != 2 || online.Clients[0].ConnectionStatus != "CONNECTED" {
		t.Errorf("online clients: %+v", online.Clients)
	}
	for _, c := range online.Clients {
		if c.ClientID == "dev-1" && c.ExpireIntervalInSeconds <= 0 {
			t.Errorf("dev-1 (persistent) ExpireIntervalInSeconds %d", c.ExpireIntervalInSeconds)
		}
	}

	var will struct {
		Topic, Qos, Payload string
		Retained            bool
	}
	if err := mqttCall(t, b, "DescribeWillMessage", map[string]any{"InstanceId": instanceID, "ClientId": "dev-1"}, &will); err != nil {
		t.Fatal(err)
	}
	if will.Topic != "wills/dev-1" || will.Qos != "1" || will.Payload != base64.StdEncoding.EncodeToString([]byte("bye\x00")) {
		t.Errorf("will %+v", will)
	}

	// A server-side subscription delivers like the client's own.
	if err := mqttCall(t, b, "AddClientSubscription", map[string]any{"InstanceId": instanceID, "ClientId": "dev-1", "TopicFilter": "cmd/dev-1", "Qos": "1"}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "subscription listed", func() bool { return slices.Contains(subscriptionsOf(t, b, "dev-1"), "cmd/dev-1") })
	if err := mqttCall(t, b, "PublishMessage", map[string]any{"InstanceId": instanceID, "TargetTopic": "cmd/dev-1", "Payload": "on"}, nil); err != nil {
		t.Fatal(err)
	}
	expect(t, dev, "cmd/dev-1", "on")

	// To one client only: the watcher gets it, dev-1 (not subscribed) too
	// since it is addressed to it, not the topic's subscribers.
	if err := mqttCall(t, b, "PublishMessage", map[string]any{"InstanceId": instanceID, "TargetTopic": "direct/x",
		"TargetClientId": "dev-1", "Payload": base64.StdEncoding.EncodeToString([]byte("only you")), "Encoding": "base64"}, nil); err != nil {
		t.Fatal(err)
	}
	expect(t, dev, "direct/x", "only you")

	if err := mqttCall(t, b, "DeleteClientSubscription", map[string]any{"InstanceId": instanceID, "ClientId": "dev-1", "TopicFilter": "cmd/dev-1"}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "subscription removed", func() bool { return !slices.Contains(subscriptionsOf(t, b, "dev-1"), "cmd/dev-1") })

	// Kick: the will reaches the watcher; the persistent session stays.
	if err := mqttCall(t, b, "KickOutClient", map[string]any{"InstanceId": instanceID, "ClientId": "dev-1"}, nil); err != nil {
		t.Fatal(err)
	}
	expect(t, watcher, "wills/dev-1", "bye\x00")
	eventually(t, "dev-1 still listed offline", func() bool { return subscriptionsOf(t, b, "dev-1") != nil })
	err := mqttCall(t, b, "DescribeWillMessage", map[string]any{"InstanceId": instanceID, "ClientId": "dev-1"}, nil)
	if e, ok := errorsAs[*tcerrors.TencentCloudSDKError](err); !ok || e.Code != "ResourceNotFound.WillMessage" {
		t.Errorf("will of an offline client: %v", err)
	}
	if err := mqttCall(t, b, "KickOutClient", map[string]any{"InstanceId": instanceID, "ClientId": "dev-1", "DeleteSession": true}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "dev-1 deleted", func() bool { return subscriptionsOf(t, b, "dev-1") == nil })
	err = mqttCall(t, b, "KickOutClient", map[string]any{"InstanceId": instanceID, "ClientId": "dev-1"}, nil)
	if e, ok := errorsAs[*tcerrors.TencentCloudSDKError](err); !ok || e.Code != "ResourceNotFound.Client" {
		t.Errorf("kick of a deleted session: %v", err)
	}
	// The seed's action is still served beside its successors.
	if _, err := describe(newTencent(t, b, tencentSecretID, tencentSecretKey, tc3Post, nil), str(instanceID), str("watcher")); err != nil {
		t.Errorf("DescribeMQTTClient: %v", err)
	}
}

// TestAlibabaNewActions drives BatchQuerySessionByClientIds, SendMessage
// and the device credential actions with the darabonba v2 SDK (ACS3), and
// CloseConnection with the classic SDK's CommonRequest, against a real
// glassmq and real MQTT clients.
func TestAlibabaNewActions(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	c, err := onsmqttv2.NewClient(&openapi.Config{AccessKeyId: tea.String(alibabaKeyID), AccessKeySecret: tea.String(alibabaKeySecret),
		Endpoint: tea.String(b.Admin), Protocol: tea.String("HTTP"), ReadTimeout: tea.Int(10000), ConnectTimeout: tea.Int(5000)})
	if err != nil {
		t.Fatal(err)
	}
	sub := connectPaho(t, b, "GID_a@@@sub", true, 60*time.Second)
	wait(t, "SUBSCRIBE", sub.Subscribe("alerts/+", 1, nil))

	batch, err := c.BatchQuerySessionByClientIds(&onsmqttv2.BatchQuerySessionByClientIdsRequest{InstanceId: tea.String(instanceID),
		ClientIdList: []*string{tea.String("GID_a@@@sub"), tea.String("GID_a@@@nobody")}})
	if err != nil {
		t.Fatal(err)
	}
	if l := batch.Body.OnlineStatusList; len(l) != 2 || *l[0].ClientId != "GID_a@@@sub" || !*l[0].OnlineStatus || *l[1].OnlineStatus {
		t.Errorf("batch: %v", batch.Body)
	}
	var eleven []*string
	for i := range 11 {
		eleven = append(eleven, tea.String(fmt.Sprintf("GID_a@@@d%d", i)))
	}
	_, err = c.BatchQuerySessionByClientIds(&onsmqttv2.BatchQuerySessionByClientIdsRequest{InstanceId: tea.String(instanceID), ClientIdList: eleven})
	if e, ok := errorsAs[*tea.SDKError](err); !ok || tea.StringValue(e.Code) != "ParameterCheckFailed" || tea.IntValue(e.StatusCode) != 400 {
		t.Errorf("batch of 11: %v", err)
	}

	sent, err := c.SendMessage(&onsmqttv2.SendMessageRequest{InstanceId: tea.String(instanceID), MqttTopic: tea.String("alerts/fire"), Payload: tea.String("evacuate")})
	if err != nil {
		t.Fatal(err)
	}
	if len(tea.StringValue(sent.Body.MsgId)) == 0 {
		t.Errorf("SendMessage: no MsgId: %v", sent.Body)
	}
	expect(t, sub, "alerts/fire", "evacuate")

	reg, err := c.RegisterDeviceCredential(&onsmqttv2.RegisterDeviceCredentialRequest{InstanceId: tea.String(instanceID), ClientId: tea.String("GID_a@@@d1")})
	if err != nil {
		t.Fatal(err)
	}
	dc := reg.Body.DeviceCredential
	if tea.StringValue(dc.DeviceAccessKeyId) == "" || tea.StringValue(dc.DeviceAccessKeySecret) == "" || tea.StringValue(dc.InstanceId) != instanceID {
		t.Errorf("registered %v", reg.Body)
	}
	got, err := c.GetDeviceCredential(&onsmqttv2.GetDeviceCredentialRequest{InstanceId: tea.String(instanceID), ClientId: tea.String("GID_a@@@d1")})
	if err != nil || tea.StringValue(got.Body.DeviceCredential.DeviceAccessKeySecret) != tea.StringValue(dc.DeviceAccessKeySecret) {
		t.Errorf("get: %v %v", got, err)
	}
	ref, err := c.RefreshDeviceCredential(&onsmqttv2.RefreshDeviceCredentialRequest{InstanceId: tea.String(instanceID), ClientId: tea.String("GID_a@@@d1")})
	if err != nil || tea.StringValue(ref.Body.DeviceCredential.DeviceAccessKeySecret) == tea.StringValue(dc.DeviceAccessKeySecret) {
		t.Errorf("refresh: %v %v", ref, err)
	}
	list, err := c.ListDeviceCredentialClientId(&onsmqttv2.ListDeviceCredentialClientIdRequest{InstanceId: tea.String(instanceID), GroupId: tea.String("GID_a")})
	if err != nil || len(list.Body.DeviceCredentialClientIdList.ClientIdList) != 1 || tea.StringValue(list.Body.DeviceCredentialClientIdList.Total) != "1" {
		t.Errorf("list: %v %v", list, err)
	}
	if _, err := c.UnRegisterDeviceCredential(&onsmqttv2.UnRegisterDeviceCredentialRequest{InstanceId: tea.String(instanceID), ClientId: tea.String("GID_a@@@d1")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDeviceCredential(&onsmqttv2.GetDeviceCredentialRequest{InstanceId: tea.String(instanceID), ClientId: tea.String("GID_a@@@d1")})
	if e, ok := errorsAs[*tea.SDKError](err); !ok || tea.IntValue(e.StatusCode) != 404 {
		t.Errorf("get after unregister: %v", err)
	}

	// CloseConnection is newer than the v2 module: the classic SDK's
	// CommonRequest sends it.
	classic, err := sdk.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), credentials.NewAccessKeyCredential(alibabaKeyID, alibabaKeySecret))
	if err != nil {
		t.Fatal(err)
	}
	req := requests.NewCommonRequest()
	req.Method, req.Scheme, req.Domain = "POST", "http", b.Admin
	req.Product, req.Version, req.ApiName = "OnsMqtt", "2020-04-20", "CloseConnection"
	req.QueryParams["InstanceId"] = instanceID
	req.QueryParams["ClientId"] = "GID_a@@@sub"
	resp, err := classic.ProcessCommonRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	var closed struct{ Success bool }
	if err := json.Unmarshal(resp.GetHttpContentBytes(), &closed); err != nil || !closed.Success {
		t.Errorf("CloseConnection: %s %v", resp.GetHttpContentString(), err)
	}
	eventually(t, "GID_a@@@sub closed", func() bool { return !sub.IsConnectionOpen() })
}
