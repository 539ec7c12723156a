package admin

import (
	"encoding/json"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// seedInfoV5 is the seed example's client as MQTT 5.0 would show it:
// connected with Clean Start, a granted session expiry of one hour, its own
// limits and three user properties; subscribed to the seed's four filters
// and after 14 PINGREQ; its previous connection ended with the server's
// DISCONNECT 0x8D. Packet sizes are plausible 5.0 ones; broker's
// TestV5Introspection checks exact ones against a real client.
func seedInfoV5() *session.Info {
	var c stats.Client
	c.Received.Add(codec.TypeConnect, 0, 102)
	c.Received.Add(codec.TypeSubscribe, 1, 70)
	c.Sent.Add(codec.TypeConnack, 0, 19)
	c.Sent.Add(codec.TypeSuback, 0, 9)
	for range 14 {
		c.Received.Add(codec.TypePingreq, 0, 2)
		c.Sent.Add(codec.TypePingresp, 0, 2)
	}
	info := seedInfo()
	info.ClientID = "sub_client5"
	info.ProtocolVersion = 5
	info.SessionExpiry = 3600
	info.Connections = 2
	info.DisconnectReason = session.ReasonKeepAlive
	info.DisconnectTime = 1711444700000
	info.DisconnectCode = session.DisconnectCode{By: session.SentByServer, Code: codec.ReasonKeepAliveTimeout}
	info.ReceiveMaximum, info.TopicAliasMax, info.MaxPacketSize = 10, 5, 65536
	info.UserProperties = []session.UserProperty{{Name: "site", Value: "lab-3"}, {Name: "fw", Value: "1.2.0"}, {Name: "site", Value: "spare"}}
	info.History = []session.Event{
		{Time: 1711443908331, Connected: true, Address: "11.176.16.153:23300"},
		{Time: 1711444700000, Reason: session.ReasonKeepAlive, Address: "11.176.16.153:23300"},
		{Time: 1711444795304, Connected: true, Address: "11.176.16.153:23354"},
	}
	info.Received, info.Sent = stats.Snapshot{}, stats.Snapshot{}
	c.Received.Snapshot(&info.Received)
	c.Sent.Snapshot(&info.Sent)
	return info
}

// TestGoldenV5 pins the native answer for a 5.0 client byte for byte (the
// mqtt5 block and disconnect_reason_code), and checks that the 3.1.1 seed
// has neither, and that Tencent's DescribeMQTTClient shows ProtocolVersion 5.
func TestGoldenV5(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo(), seedInfoV5()), nil)
	golden(t, "native_client_v5.json", serve(t, s, &testReq{method: "GET", path: "/api/v1/clients/sub_client5"}).Body())

	var v4 map[string]json.RawMessage
	if err := json.Unmarshal(serve(t, s, &testReq{method: "GET", path: "/api/v1/clients/sub_client2"}).Body(), &v4); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"mqtt5", "disconnect_reason_code"} {
		if v, ok := v4[k]; ok {
			t.Errorf("3.1.1 client: %q is %s, want absent", k, v)
		}
	}
	var tc struct{ Response struct{ ProtocolVersion int } }
	if err := json.Unmarshal(serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client5"}`)).Body(), &tc); err != nil {
		t.Fatal(err)
	}
	if tc.Response.ProtocolVersion != 5 {
		t.Errorf("Tencent ProtocolVersion %d, want 5", tc.Response.ProtocolVersion)
	}
}

// TestReasonCodeJSON: the reason code's number, hex and name as a
// DISCONNECT carries them; none for a disconnect without one.
func TestReasonCodeJSON(t *testing.T) {
	cases := []struct {
		in   session.DisconnectCode
		want string
	}{
		{session.DisconnectCode{}, "null"},
		{session.DisconnectCode{By: session.SentByClient}, `{"by":"client","code":0,"hex":"0x00","name":"Normal disconnection"}`},
		{session.DisconnectCode{By: session.SentByClient, Code: 4}, `{"by":"client","code":4,"hex":"0x04","name":"Disconnect with Will Message"}`},
		{session.DisconnectCode{By: session.SentByServer, Code: 0x8E}, `{"by":"server","code":142,"hex":"0x8E","name":"Session taken over"}`},
	}
	for _, tc := range cases {
		b, err := json.Marshal(reasonCode(tc.in))
		if err != nil || string(b) != tc.want {
			t.Errorf("%+v: got %s (%v), want %s", tc.in, b, err, tc.want)
		}
	}
}
