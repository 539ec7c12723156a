package sdktest

import (
	"testing"
	"time"

	onsmqttv2 "github.com/alibabacloud-go/onsmqtt-20200420/v2/client"
	"github.com/alibabacloud-go/tea/tea"
)

// TestPublishedMsgIDFindsTrace: the MsgId Alibaba's SendMessage answers
// and the MessageId glassmq adds to Tencent's PublishMessage answer are
// the IDs the message trace keeps, so QueryMqttTraceMessagePublish finds
// the API's publication (pub_mq) under them and
// QueryMqttTraceMessageSubscribe the push to the subscriber; and
// QueryMqttTraceMessageOfClient lists the push under the same ID. Both
// through the official SDKs (darabonba v2; Tencent's generic client).
func TestPublishedMsgIDFindsTrace(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	api := v2Client(t, b)
	inst := tea.String(instanceID)
	const subID = "GID_trace@@@sub"
	sub := connectPaho(t, b, subID, false, 60*time.Second)
	sub.subscribe(t, subscription{"cmd/#", 1})

	sent, err := api.SendMessage(&onsmqttv2.SendMessageRequest{InstanceId: inst, MqttTopic: tea.String("cmd/a"), Payload: tea.String("one")})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	expect(t, sub, "cmd/a", "one")
	var toTopic, toClient struct{ MessageId string }
	if err := mqttCall(t, b, "PublishMessage", map[string]any{"InstanceId": instanceID, "TargetTopic": "cmd/b", "Payload": "two"}, &toTopic); err != nil {
		t.Fatalf("PublishMessage to a topic: %v", err)
	}
	expect(t, sub, "cmd/b", "two")
	if err := mqttCall(t, b, "PublishMessage", map[string]any{"InstanceId": instanceID, "TargetClientId": subID, "TargetTopic": "cmd/c", "Payload": "three"}, &toClient); err != nil {
		t.Fatalf("PublishMessage to a client: %v", err)
	}
	expect(t, sub, "cmd/c", "three")

	begin := time.Now().Add(-time.Minute).UnixMilli()
	ids := map[string]string{"SendMessage": tea.StringValue(sent.Body.MsgId), "PublishMessage TargetTopic": toTopic.MessageId,
		"PublishMessage TargetClientId": toClient.MessageId}
	for name, id := range ids {
		if len(id) != 32 {
			t.Fatalf("%s answered message ID %q, want 32 hex digits", name, id)
		}
		pub, err := api.QueryMqttTraceMessagePublish(&onsmqttv2.QueryMqttTraceMessagePublishRequest{InstanceId: inst, MsgId: tea.String(id),
			BeginTime: tea.Int64(begin), EndTime: tea.Int64(time.Now().UnixMilli() + 1000)})
		if err != nil {
			t.Fatalf("QueryMqttTraceMessagePublish %s (%s): %v", id, name, err)
		}
		if l := pub.Body.MessageTraceLists; len(l) != 1 || tea.StringValue(l[0].Action) != "pub_mq" || tea.StringValue(l[0].MsgId) != id {
			t.Fatalf("QueryMqttTraceMessagePublish %s (%s): %v, want its pub_mq", id, name, pub.Body)
		}
		var pushes []*onsmqttv2.QueryMqttTraceMessageSubscribeResponseBodyMessageTraceLists
		eventually(t, name+": push to "+subID+" traced", func() bool {
			s, err := api.QueryMqttTraceMessageSubscribe(&onsmqttv2.QueryMqttTraceMessageSubscribeRequest{InstanceId: inst, MsgId: tea.String(id),
				BeginTime: tea.Int64(begin), EndTime: tea.Int64(time.Now().UnixMilli() + 1000), CurrentPage: tea.Int32(1), PageSize: tea.Int32(10)})
			if err != nil {
				t.Fatalf("QueryMqttTraceMessageSubscribe %s (%s): %v", id, name, err)
			}
			pushes = s.Body.MessageTraceLists
			return len(pushes) > 0
		})
		if len(pushes) != 1 || tea.StringValue(pushes[0].ClientId) != subID || tea.StringValue(pushes[0].Action) != "sub" {
			t.Fatalf("QueryMqttTraceMessageSubscribe %s (%s): %v, want one push to %s", id, name, pushes, subID)
		}
	}

	oc, err := api.QueryMqttTraceMessageOfClient(&onsmqttv2.QueryMqttTraceMessageOfClientRequest{InstanceId: inst, ClientId: tea.String(subID),
		BeginTime: tea.Int64(begin), EndTime: tea.Int64(time.Now().UnixMilli() + 1000), CurrentPage: tea.Int32(1), PageSize: tea.Int32(10)})
	if err != nil {
		t.Fatalf("QueryMqttTraceMessageOfClient: %v", err)
	}
	seen := map[string]bool{}
	for _, e := range oc.Body.MessageOfClientList {
		seen[tea.StringValue(e.MsgId)] = true
	}
	for name, id := range ids {
		if !seen[id] {
			t.Errorf("QueryMqttTraceMessageOfClient %s: no event with the ID %s answered (%s); got %v", subID, name, id, oc.Body.MessageOfClientList)
		}
	}
}
