package sdktest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	onsmqttv2 "github.com/alibabacloud-go/onsmqtt-20200420/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// sign is the device password of Alibaba's Signature and DeviceCredential
// modes, computed here as the vendor's device samples do.
func sign(secret, clientID string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(clientID))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// deviceConnect connects as a device written for the cloud would: user
// name and password only. It returns the client and the CONNECT's error.
func deviceConnect(t *testing.T, b *broker, id, user, password string) (paho.Client, error) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + b.MQTT).SetClientID(id).SetCleanSession(true).
		SetUsername(user).SetPassword(password).SetProtocolVersion(4).SetAutoReconnect(false).
		SetConnectRetry(false).SetConnectTimeout(10 * time.Second)
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		t.Fatalf("CONNECT %s: no answer within 15s", id)
	}
	if tok.Error() == nil {
		t.Cleanup(func() {
			if c.IsConnectionOpen() {
				c.Disconnect(50)
			}
		})
	}
	return c, tok.Error()
}

func v2Client(t *testing.T, b *broker) *onsmqttv2.Client {
	t.Helper()
	c, err := onsmqttv2.NewClient(&openapi.Config{AccessKeyId: tea.String(alibabaKeyID), AccessKeySecret: tea.String(alibabaKeySecret),
		Endpoint: tea.String(b.Admin), Protocol: tea.String("HTTP"), ReadTimeout: tea.Int(10000), ConnectTimeout: tea.Int(5000)})
	if err != nil {
		t.Fatalf("onsmqttv2.NewClient: %v", err)
	}
	return c
}

// TestDeviceAuthAndTraces runs the real binary with -alibaba-device-auth:
// devices connect unchanged in Signature mode and with a credential
// RegisterDeviceCredential issued; a wrong signature gets CONNACK 0x04 and
// a "not authorized" entry in QueryMqttTraceDevice; a QoS 1 message's
// trace (QueryMqttTraceMessageOfClient, ...Publish, ...Subscribe) names
// its publisher and its subscriber, through the darabonba v2 SDK.
func TestDeviceAuthAndTraces(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true, extraArgs: []string{"-alibaba-device-auth"}})
	api := v2Client(t, b)
	inst := tea.String(instanceID)
	const pubID, subID = "GID_dev@@@pub-1", "GID_dev@@@sub-1"

	reg, err := api.RegisterDeviceCredential(&onsmqttv2.RegisterDeviceCredentialRequest{InstanceId: inst, ClientId: tea.String(subID)})
	if err != nil {
		t.Fatal(err)
	}
	dc := reg.Body.DeviceCredential
	sub, err := deviceConnect(t, b, subID, "DeviceCredential|"+tea.StringValue(dc.DeviceAccessKeyId)+"|"+instanceID,
		sign(tea.StringValue(dc.DeviceAccessKeySecret), subID))
	if err != nil {
		t.Fatalf("device credential mode: %v", err)
	}
	got := make(chan paho.Message, 4)
	if tok := sub.Subscribe("dev/#", 1, func(_ paho.Client, m paho.Message) { got <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("SUBSCRIBE: %v", tok.Error())
	}
	if _, err := deviceConnect(t, b, pubID, "Signature|"+alibabaKeyID+"|"+instanceID, sign("wrong-secret", pubID)); err == nil ||
		!strings.Contains(err.Error(), "bad user name or password") {
		t.Fatalf("wrong signature: CONNECT error %v, want CONNACK 0x04 (bad user name or password)", err)
	}
	pub, err := deviceConnect(t, b, pubID, "Signature|"+alibabaKeyID+"|"+instanceID, sign(alibabaKeySecret, pubID))
	if err != nil {
		t.Fatalf("signature mode: %v", err)
	}
	if tok := pub.Publish("dev/temp", 1, false, "21.5"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("PUBLISH: %v", tok.Error())
	}
	select {
	case m := <-got:
		if string(m.Payload()) != "21.5" {
			t.Fatalf("subscriber got %q", m.Payload())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber got nothing")
	}

	now := time.Now().UnixMilli()
	dev, err := api.QueryMqttTraceDevice(&onsmqttv2.QueryMqttTraceDeviceRequest{InstanceId: inst, ClientId: tea.String(pubID),
		BeginTime: tea.Int64(now - 60_000), EndTime: tea.Int64(now + 1000), CurrentPage: tea.Int32(1), PageSize: tea.Int32(10), MqttRegionId: tea.String("cn-hangzhou")})
	if err != nil {
		t.Fatal(err)
	}
	var infos []string
	for _, d := range dev.Body.DeviceInfoList {
		infos = append(infos, tea.StringValue(d.Action)+"/"+tea.StringValue(d.ActionInfo))
		if len(tea.StringValue(d.ChannelId)) != 16 || len(tea.StringValue(d.Time)) != len("2021-05-21 15:51:54.867") {
			t.Errorf("device trace entry %v: want a 16-digit ChannelId and a cloud-style Time", d)
		}
	}
	if strings.Join(infos, ",") != "close/not authorized,connect/accepted" || tea.Int64Value(dev.Body.Total) != 2 {
		t.Fatalf("QueryMqttTraceDevice %s: %s (Total %d), want the refusal then the accepted connect", pubID, infos, tea.Int64Value(dev.Body.Total))
	}

	mc, err := api.QueryMqttTraceMessageOfClient(&onsmqttv2.QueryMqttTraceMessageOfClientRequest{InstanceId: inst, ClientId: tea.String(pubID),
		BeginTime: tea.Int64(now - 60_000), EndTime: tea.Int64(now + 1000), CurrentPage: tea.Int32(1), PageSize: tea.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	if l := mc.Body.MessageOfClientList; len(l) != 1 || tea.StringValue(l[0].Action) != "pub_mqtt" || len(tea.StringValue(l[0].MsgId)) != 32 {
		t.Fatalf("QueryMqttTraceMessageOfClient %s: %v, want one pub_mqtt with a 32-digit MsgId", pubID, mc.Body)
	}
	msgID := mc.Body.MessageOfClientList[0].MsgId

	mp, err := api.QueryMqttTraceMessagePublish(&onsmqttv2.QueryMqttTraceMessagePublishRequest{InstanceId: inst, MsgId: msgID,
		BeginTime: tea.Int64(now - 60_000), EndTime: tea.Int64(now + 1000)})
	if err != nil {
		t.Fatal(err)
	}
	if l := mp.Body.MessageTraceLists; len(l) != 1 || tea.StringValue(l[0].ClientId) != pubID || tea.StringValue(l[0].ActionInfo) != "Pub From Mqtt Client" {
		t.Fatalf("QueryMqttTraceMessagePublish: %v, want the publisher %s", mp.Body, pubID)
	}
	var ms *onsmqttv2.QueryMqttTraceMessageSubscribeResponse
	deadline := time.Now().Add(5 * time.Second)
	for {
		ms, err = api.QueryMqttTraceMessageSubscribe(&onsmqttv2.QueryMqttTraceMessageSubscribeRequest{InstanceId: inst, MsgId: msgID,
			BeginTime: tea.Int64(now - 60_000), EndTime: tea.Int64(time.Now().UnixMilli() + 1000), CurrentPage: tea.Int32(1), PageSize: tea.Int32(10)})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms.Body.MessageTraceLists) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if l := ms.Body.MessageTraceLists; len(l) != 1 || tea.StringValue(l[0].ClientId) != subID || tea.StringValue(l[0].Action) != "sub" {
		t.Fatalf("QueryMqttTraceMessageSubscribe: %v, want one push to %s", ms.Body, subID)
	}
}
