package sdktest

import (
	"slices"
	"testing"
	"time"

	onsmqttv2 "github.com/alibabacloud-go/onsmqtt-20200420/v2/client"
	"github.com/alibabacloud-go/tea/tea"
)

// TestTracesSurviveRestart: with -trace-persist, the connection trace of
// a client and the message trace of a QoS 1 message (its ID taken from
// SendMessage's answer) are still answered after a graceful restart, under
// the same message ID; a message after the restart gets a new ID. Through
// the darabonba v2 SDK against the real binary.
func TestTracesSurviveRestart(t *testing.T) {
	cfg := brokerConfig{credentials: true, dataDir: t.TempDir(), extraArgs: []string{"-trace-persist"}}
	b := startBroker(t, cfg)
	inst := tea.String(instanceID)
	const subID = "GID_trace@@@keep"
	sub := connectPaho(t, b, subID, true, 60*time.Second)
	sub.subscribe(t, subscription{"keep/#", 1})
	sent, err := v2Client(t, b).SendMessage(&onsmqttv2.SendMessageRequest{InstanceId: inst, MqttTopic: tea.String("keep/a"), Payload: tea.String("before")})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	expect(t, sub, "keep/a", "before")
	before := tea.StringValue(sent.Body.MsgId)
	sub.Disconnect(50)

	// deliveries returns the clients a message was pushed to.
	deliveries := func(b *broker, id string) []string {
		t.Helper()
		r, err := v2Client(t, b).QueryMqttTraceMessageSubscribe(&onsmqttv2.QueryMqttTraceMessageSubscribeRequest{InstanceId: inst, MsgId: tea.String(id),
			BeginTime: tea.Int64(time.Now().Add(-time.Hour).UnixMilli()), EndTime: tea.Int64(time.Now().UnixMilli() + 1000), CurrentPage: tea.Int32(1), PageSize: tea.Int32(10)})
		if err != nil {
			t.Fatalf("QueryMqttTraceMessageSubscribe %s: %v", id, err)
		}
		var to []string
		for _, e := range r.Body.MessageTraceLists {
			to = append(to, tea.StringValue(e.ClientId)+"/"+tea.StringValue(e.Action))
		}
		return to
	}
	eventually(t, "the push traced before the restart", func() bool { return len(deliveries(b, before)) == 1 })

	b = b.restart(t, cfg, false)
	if to := deliveries(b, before); !slices.Equal(to, []string{subID + "/sub"}) {
		t.Fatalf("after a restart, the deliveries of %s: %v, want [%s/sub]", before, to, subID)
	}
	dev, err := v2Client(t, b).QueryMqttTraceDevice(&onsmqttv2.QueryMqttTraceDeviceRequest{InstanceId: inst, ClientId: tea.String(subID),
		BeginTime: tea.Int64(time.Now().Add(-time.Hour).UnixMilli()), EndTime: tea.Int64(time.Now().UnixMilli() + 1000), CurrentPage: tea.Int32(1), PageSize: tea.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	var infos []string
	for _, d := range dev.Body.DeviceInfoList {
		infos = append(infos, tea.StringValue(d.Action)+"/"+tea.StringValue(d.ActionInfo))
	}
	if !slices.Equal(infos, []string{"connect/accepted", "disconnect/disconnected by client"}) {
		t.Fatalf("after a restart, QueryMqttTraceDevice %s: %v, want the connect and the disconnect before it", subID, infos)
	}
	again, err := v2Client(t, b).SendMessage(&onsmqttv2.SendMessageRequest{InstanceId: inst, MqttTopic: tea.String("keep/b"), Payload: tea.String("after")})
	if err != nil {
		t.Fatalf("SendMessage after the restart: %v", err)
	}
	if after := tea.StringValue(again.Body.MsgId); after == before || len(after) != 32 {
		t.Fatalf("message IDs %s before and %s after the restart: want two different 32-digit IDs", before, after)
	}
}
