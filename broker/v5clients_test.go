package broker

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/codec"
)

// adminFor serves the real admin API over s's engine on a loopback port
// and returns its base URL. It stops when the test ends.
func adminFor(t *testing.T, s *Server) string {
	t.Helper()
	adm, err := admin.New(admin.DefaultConfig(), s.Engine(), s.Engine().Stats())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go adm.Serve(ln)
	t.Cleanup(func() { adm.Shutdown() })
	return "http://" + ln.Addr().String()
}

// httpDo sends one request to the admin API and returns the status and
// body.
func httpDo(t *testing.T, method, u string, hdr map[string]string, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// nativeClient fetches GET /api/v1/clients/{id}: the decoded answer and,
// by top-level key, its raw JSON.
func nativeClientOf(t *testing.T, base, id string) (admin.Client, map[string]json.RawMessage) {
	t.Helper()
	code, body := httpDo(t, "GET", base+"/api/v1/clients/"+url.PathEscape(id), nil, "")
	if code != 200 {
		t.Fatalf("GET client %q: %d %s", id, code, body)
	}
	var c admin.Client
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	return c, raw
}

// tencentProtocolVersion asks Tencent's DescribeMQTTClient (trocket
// 2023-03-08) and DescribeClientList (mqtt 2024-05-16) for id and returns
// the ProtocolVersion each shows.
func tencentProtocolVersion(t *testing.T, base, id string) (describe, list int) {
	t.Helper()
	ask := func(action, version, body string) []byte {
		code, b := httpDo(t, "POST", base+"/", map[string]string{"Content-Type": "application/json",
			"X-TC-Action": action, "X-TC-Version": version}, body)
		if code != 200 || bytes.Contains(b, []byte(`"Error"`)) {
			t.Fatalf("%s: %d %s", action, code, b)
		}
		return b
	}
	var d struct{ Response struct{ ProtocolVersion int } }
	if err := json.Unmarshal(ask("DescribeMQTTClient", "2023-03-08", `{"InstanceId":"mqtt-local","ClientId":"`+id+`"}`), &d); err != nil {
		t.Fatal(err)
	}
	var l struct {
		Response struct {
			Clients []struct {
				ClientID        string `json:"ClientId"`
				ProtocolVersion int
			}
		}
	}
	if err := json.Unmarshal(ask("DescribeClientList", "2024-05-16", `{"InstanceId":"mqtt-local","ClientId":"`+id+`"}`), &l); err != nil {
		t.Fatal(err)
	}
	for _, c := range l.Response.Clients {
		if c.ClientID == id {
			list = c.ProtocolVersion
		}
	}
	return d.Response.ProtocolVersion, list
}

// TestV5Introspection is the 5.0 twin of the seed example: a real 5.0
// client connects with a session expiry, its own limits and user
// properties, subscribes to four filters and sends 14 PINGREQ. Every
// dialect shows protocol version 5 (Alibaba's QuerySessionByClientId, which
// has no such field, shows it online); the native answer has the exact
// byte and packet counts and exactly the CONNECT's 5.0 fields; and the
// client's DISCONNECT 0x04 becomes the last disconnect's reason code.
func TestV5Introspection(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.MaxSessionExpiry = 2 * time.Hour })
	base := adminFor(t, s)

	var pr codec.Properties
	pr.SessionExpiry, pr.ReceiveMaximum, pr.TopicAliasMaximum, pr.MaximumPacketSize = 3600, 10, 5, 65536
	pr.Set(codec.PropSessionExpiry)
	pr.Set(codec.PropReceiveMaximum)
	pr.Set(codec.PropTopicAliasMaximum)
	pr.Set(codec.PropMaximumPacketSize)
	pr.User = []codec.UserProperty{{Key: []byte("site"), Value: []byte("lab-3")},
		{Key: []byte("fw"), Value: []byte("1.2.0")}, {Key: []byte("site"), Value: []byte("spare")}}
	connect := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5,
		CleanSession: true, KeepAlive: 60, ClientID: []byte("sub_client5"), Props: pr})

	r := dialRaw(t, s)
	r.send(connect)
	connack := r.read()
	var ack codec.Connack
	if _, err := ack.DecodeV(connack, 5); err != nil || ack.ReturnCode != 0 {
		t.Fatalf("CONNACK % x: %v", connack, err)
	}
	filters := []codec.Subscription{{TopicFilter: []byte("home/sun/+/"), QoS: 1}, {TopicFilter: []byte("home/temp/+/"), QoS: 1},
		{TopicFilter: []byte("home/humidity/+/"), QoS: 0}, {TopicFilter: []byte("home/person/+/"), QoS: 2}}
	subscribe := codec.AppendSubscribeV5(nil, 1, &codec.Properties{}, filters)
	r.send(subscribe)
	suback := r.read()
	if want := unhex(t, "90 07 0001 00 01 01 00 02"); !bytes.Equal(suback, want) {
		t.Fatalf("SUBACK % x, want % x", suback, want)
	}
	for range 14 {
		r.sendHex("c0 00")
		r.expectPacket("d0 00")
	}

	c, raw := nativeClientOf(t, base, "sub_client5")
	if c.ProtocolVersion != 5 || c.Status != "online" || c.KeepAlive != 60 || !c.CleanSession || c.SessionExpiry != 3600 {
		t.Errorf("native: protocol %d status %s keep-alive %d clean %v expiry %d; want 5 online 60 true 3600",
			c.ProtocolVersion, c.Status, c.KeepAlive, c.CleanSession, c.SessionExpiry)
	}
	wantMQTT5 := `{"receive_maximum":10,"topic_alias_maximum":5,"maximum_packet_size":65536,"authentication_method":"",` +
		`"user_properties":[{"name":"site","value":"lab-3"},{"name":"fw","value":"1.2.0"},{"name":"site","value":"spare"}],` +
		`"user_properties_truncated":false}`
	if got := string(raw["mqtt5"]); got != wantMQTT5 {
		t.Errorf("native mqtt5:\n got %s\nwant %s", got, wantMQTT5)
	}
	if _, ok := raw["disconnect_reason_code"]; ok {
		t.Errorf("native: disconnect_reason_code %s before any disconnect, want none", raw["disconnect_reason_code"])
	}
	wantRecv := admin.Traffic{Bytes: uint64(len(connect) + len(subscribe) + 14*2), Packets: []admin.PacketCount{
		{Type: "CONNECT", QoS: 0, Count: 1}, {Type: "SUBSCRIBE", QoS: 1, Count: 1}, {Type: "PINGREQ", QoS: 0, Count: 14}}}
	wantSent := admin.Traffic{Bytes: uint64(len(connack) + len(suback) + 14*2), Packets: []admin.PacketCount{
		{Type: "CONNACK", QoS: 0, Count: 1}, {Type: "SUBACK", QoS: 0, Count: 1}, {Type: "PINGRESP", QoS: 0, Count: 14}}}
	if !reflect.DeepEqual(c.Received, wantRecv) || !reflect.DeepEqual(c.Sent, wantSent) {
		t.Errorf("native traffic:\n received %+v\n want     %+v\n sent     %+v\n want     %+v", c.Received, wantRecv, c.Sent, wantSent)
	}
	if len(c.Subscriptions) != 4 || c.Subscriptions[3] != (admin.Subscription{TopicFilter: "home/person/+/", QoS: 2}) {
		t.Errorf("native subscriptions %+v, want the four filters in order", c.Subscriptions)
	}

	if d, l := tencentProtocolVersion(t, base, "sub_client5"); d != 5 || l != 5 {
		t.Errorf("Tencent ProtocolVersion: DescribeMQTTClient %d, DescribeClientList %d; want 5 and 5", d, l)
	}
	code, body := httpDo(t, "POST", base+"/?Action=QuerySessionByClientId&InstanceId=mqtt-local&ClientId=sub_client5", nil, "")
	if code != 200 || !bytes.Contains(body, []byte(`"OnlineStatus":true`)) {
		t.Errorf("Alibaba QuerySessionByClientId: %d %s, want online", code, body)
	}

	r.send(codec.AppendDisconnectV5(nil, codec.ReasonDisconnectWithWill, nil)) // [MQTT5-3.14.2.1]
	r.expectClosed(5 * time.Second)
	waitFor(t, "the session offline", func() bool { c, _ := nativeClientOf(t, base, "sub_client5"); return c.Status == "offline" })
	c, raw = nativeClientOf(t, base, "sub_client5")
	want := &admin.ReasonCode{By: "client", Code: 4, Hex: "0x04", Name: "Disconnect with Will Message"}
	if !reflect.DeepEqual(c.DisconnectCode, want) || c.DisconnectReason != "client_disconnect" {
		t.Errorf("after DISCONNECT 0x04: reason %q code %s, want client_disconnect %+v", c.DisconnectReason, raw["disconnect_reason_code"], want)
	}
	if string(raw["mqtt5"]) != wantMQTT5 || c.SessionExpiry != 3600 {
		t.Errorf("offline: mqtt5 %s expiry %d, want the CONNECT's still and 3600", raw["mqtt5"], c.SessionExpiry)
	}
}

// TestV5IntrospectionServerDisconnect: the server's DISCONNECT reason code
// shows as the last disconnect's, with the server as its sender: 0x98 for an
// operator's kick, 0x8E for a takeover, 0x8D for a keep-alive timeout
// [MQTT5-3.14.2.1]; a 3.1.1 client shows none.
func TestV5IntrospectionServerDisconnect(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.MaxSessionExpiry = time.Hour })
	base := adminFor(t, s)
	keep := func(t *testing.T, id string, keepAlive uint16) *rawClient {
		var pr codec.Properties
		pr.SessionExpiry = 600 // the session outlives the connection, so its last disconnect can be read
		pr.Set(codec.PropSessionExpiry)
		r := dialRaw(t, s)
		r.send(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5,
			KeepAlive: keepAlive, ClientID: []byte(id), Props: pr})) // Clean Start 0: a takeover keeps the session's record
		var ack codec.Connack
		if b := r.read(); b[0] != 0x20 {
			t.Fatalf("got % x, want CONNACK", b)
		} else if _, err := ack.DecodeV(b, 5); err != nil || ack.ReturnCode != 0 {
			t.Fatalf("CONNACK % x: %v", b, err)
		}
		return r
	}
	expectDisconnect := func(t *testing.T, r *rawClient, rc codec.ReasonCode) {
		t.Helper()
		b, err := r.next(10 * time.Second)
		var d codec.Disconnect
		if err != nil {
			t.Fatalf("want DISCONNECT 0x%02x, got %v", byte(rc), err)
		}
		if _, err := d.DecodeV(b, 5); err != nil || d.ReasonCode != rc {
			t.Fatalf("got % x (%v), want DISCONNECT 0x%02x", b, err, byte(rc))
		}
		r.expectClosed(5 * time.Second)
	}
	lastCode := func(t *testing.T, id string) *admin.ReasonCode {
		t.Helper()
		var c admin.Client
		waitFor(t, id+" offline", func() bool { c, _ = nativeClientOf(t, base, id); return c.Status == "offline" })
		return c.DisconnectCode
	}
	cases := []struct {
		name string
		run  func(t *testing.T) string // returns the client ID
		want *admin.ReasonCode
	}{
		{"MQTT5-3.14.2.1 kick is 0x98", func(t *testing.T) string {
			r := keep(t, "k5", 60)
			if code, body := httpDo(t, "DELETE", base+"/api/v1/clients/k5", nil, ""); code != 200 {
				t.Fatalf("kick: %d %s", code, body)
			}
			expectDisconnect(t, r, codec.ReasonAdministrativeAction)
			return "k5"
		}, &admin.ReasonCode{By: "server", Code: 0x98, Hex: "0x98", Name: "Administrative action"}},
		{"MQTT5-3.1.4-3 takeover is 0x8E", func(t *testing.T) string {
			r := keep(t, "t5", 60)
			r2 := keep(t, "t5", 60)
			expectDisconnect(t, r, codec.ReasonSessionTakenOver)
			c, _ := nativeClientOf(t, base, "t5") // online again: the taken-over connection's code is the last
			if want := (&admin.ReasonCode{By: "server", Code: 0x8E, Hex: "0x8E", Name: "Session taken over"}); !reflect.DeepEqual(c.DisconnectCode, want) {
				t.Fatalf("t5 after the takeover: disconnect_reason_code %+v, want %+v", c.DisconnectCode, want)
			}
			r2.send(codec.AppendDisconnectV5(nil, 0, nil)) // the new connection leaves: its normal disconnection is the last
			r2.expectClosed(5 * time.Second)
			return "t5"
		}, &admin.ReasonCode{By: "client", Code: 0, Hex: "0x00", Name: "Normal disconnection"}},
		{"MQTT5-3.1.2-22 keep-alive timeout is 0x8D", func(t *testing.T) string {
			r := keep(t, "ka5", 1)
			expectDisconnect(t, r, codec.ReasonKeepAliveTimeout)
			return "ka5"
		}, &admin.ReasonCode{By: "server", Code: 0x8D, Hex: "0x8D", Name: "Keep Alive timeout"}},
		{"a 3.1.1 client exchanges none", func(t *testing.T) string {
			r := dialRaw(t, s)
			r.send(connectPacket("v4", false, 60))
			r.expectPacket("20 02 00 00")
			r.sendHex("e0 00")
			r.expectClosed(5 * time.Second)
			return "v4"
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.run(t)
			if got := lastCode(t, id); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s: disconnect_reason_code %+v, want %+v", id, got, tc.want)
			}
		})
	}
	t.Run("takeover recorded in the history as 0x8E", func(t *testing.T) {
		c, _ := nativeClientOf(t, base, "t5")
		if c.Connections != 2 || len(c.History) != 4 || c.History[1].Reason != "taken_over" {
			t.Fatalf("t5 history %+v, want connect, taken_over, connect, client_disconnect", c.History)
		}
	})
}

// TestV5AuthCounted: an AUTH packet counts in the client's received
// packets under its name, like any other type, whatever the broker then
// does with it (MQTT5-3.15).
func TestV5AuthCounted(t *testing.T) {
	s := startBroker(t, func(c *Config) { c.MaxSessionExpiry = time.Hour })
	base := adminFor(t, s)
	var pr codec.Properties
	pr.SessionExpiry = 600
	pr.Set(codec.PropSessionExpiry)
	r := dialRaw(t, s)
	r.send(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5,
		CleanSession: true, KeepAlive: 60, ClientID: []byte("auth5"), Props: pr}))
	if b := r.read(); b[0] != 0x20 {
		t.Fatalf("got % x, want CONNACK", b)
	}
	var ap codec.Properties
	ap.AuthMethod = []byte("SCRAM-SHA-256")
	ap.Set(codec.PropAuthMethod)
	auth := codec.AppendAuth(nil, codec.ReasonContinueAuthentication, &ap)
	r.send(auth)
	var c admin.Client
	waitFor(t, "AUTH counted", func() bool {
		c, _ = nativeClientOf(t, base, "auth5")
		for _, p := range c.Received.Packets {
			if p.Type == "AUTH" && p.QoS == 0 && p.Count == 1 {
				return true
			}
		}
		return false
	})
	if c.Received.Bytes < uint64(len(auth)) {
		t.Fatalf("received bytes %d, want the AUTH's %d counted", c.Received.Bytes, len(auth))
	}
}

// mqttJSModules is where `make browser-deps` installs MQTT.js from
// web/package-lock.json; Node finds it through NODE_PATH.
const mqttJSModules = "../web/node_modules"

// mqttJSSeen is what testdata/mqttjs/v5.js reports of one received
// PUBLISH; binary values are hex.
type mqttJSSeen struct {
	Topic                  string         `json:"topic"`
	Payload                string         `json:"payload"`
	QoS                    int            `json:"qos"`
	Retain                 bool           `json:"retain"`
	UserProperties         map[string]any `json:"userProperties"`
	ResponseTopic          *string        `json:"responseTopic"`
	CorrelationData        *string        `json:"correlationData"`
	ContentType            *string        `json:"contentType"`
	PayloadFormatIndicator *int           `json:"payloadFormatIndicator"`
	SubscriptionIdentifier any            `json:"subscriptionIdentifier"`
}

// TestV5MQTTJS: two MQTT.js clients at protocolVersion 5, in Node, make a
// request/response round trip through a real broker. The responder's
// subscription options hold: Retain Handling 2 sends no retained message
// on SUBSCRIBE [MQTT5-3.3.1-11], No Local keeps its own message from it
// [MQTT5-3.8.3-3], Retain As Published keeps RETAIN 1 [MQTT5-3.3.1-12], so
// the first message it gets is the request. The request reaches
// the responder with its user properties (in order, a repeated name
// included), response topic, correlation data, content type and payload
// byte for byte, and the responder's subscription identifier 42
// [MQTT5-3.3.2-15], [MQTT5-3.3.2-16], [MQTT5-3.3.2-17], [MQTT5-3.3.2-20],
// [MQTT5-3.3.4-3]; the response comes back to the requester on the
// response topic with the same correlation data and identifier 7.
func TestV5MQTTJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed (apt-get install -y nodejs); make browser-deps installs MQTT.js")
	}
	if _, err := os.Stat(mqttJSModules + "/mqtt/package.json"); err != nil {
		t.Skipf("MQTT.js not installed in %s (%v); run make browser-deps", mqttJSModules, err)
	}
	modules, err := filepath.Abs(mqttJSModules)
	if err != nil {
		t.Fatal(err)
	}
	s := startBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/mqttjs/v5.js", "mqtt://"+brokerAddr(s), "js5")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var out struct {
		Errors            []string    `json:"errors"`
		ConnackReasonCode int         `json:"connackReasonCode"`
		Granted           []int       `json:"granted"`
		Request           *mqttJSSeen `json:"request"`
		Response          *mqttJSSeen `json:"response"`
	}
	if jerr := json.Unmarshal(stdout, &out); jerr != nil || err != nil || len(out.Errors) > 0 {
		t.Fatalf("node: %v; output %s (%v); errors %q; stderr:\n%s", err, stdout, jerr, out.Errors, stderr.String())
	}
	if out.ConnackReasonCode != 0 || !reflect.DeepEqual(out.Granted, []int{1, 1}) {
		t.Errorf("CONNACK reason %d, granted %v; want 0 and [1 1]", out.ConnackReasonCode, out.Granted)
	}
	str := func(s string) *string { return &s }
	wantReq := &mqttJSSeen{Topic: "js5/req", Payload: "70696e6700ff", QoS: 1, Retain: true, // Retain As Published [MQTT5-3.3.1-12]
		UserProperties: map[string]any{"site": "lab-3", "tag": []any{"a", "b"}},
		ResponseTopic:  str("js5/resp"), CorrelationData: str("0001feff"), ContentType: str("application/octet-stream"),
		SubscriptionIdentifier: float64(42)}
	wantResp := &mqttJSSeen{Topic: "js5/resp", Payload: hexOf("pong"), QoS: 1,
		UserProperties: map[string]any{"answer": "yes"}, CorrelationData: str("0001feff"), SubscriptionIdentifier: float64(7)}
	for _, c := range []struct {
		name      string
		got, want *mqttJSSeen
	}{{"request", out.Request, wantReq}, {"response", out.Response, wantResp}} {
		if !reflect.DeepEqual(c.got, c.want) {
			g, _ := json.Marshal(c.got)
			w, _ := json.Marshal(c.want)
			t.Errorf("%s:\n got %s\nwant %s", c.name, g, w)
		}
	}
}

func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }

// TestV5Interop: 5.0 and 3.1.1 clients on one broker, both ways. A 5.0
// publisher's properties (user properties, response topic, correlation
// data, content type, payload format) are dropped for a 3.1.1 subscriber,
// which has no place for them: its PUBLISH is exactly the 3.1.1 encoding
// of topic, QoS, retain and payload. A 3.1.1 publisher's message reaches a
// 5.0 subscriber with an empty property block. QoS is
// the lower of the publish and the subscription [MQTT-3.8.4-6], live
// messages arrive with RETAIN 0 and retained ones, on SUBSCRIBE, with
// RETAIN 1 [MQTT-3.3.1-9], [MQTT-3.3.1-8], at either level.
func TestV5Interop(t *testing.T) {
	s := startBroker(t, nil)
	props := func() codec.Properties {
		var pr codec.Properties
		pr.User = []codec.UserProperty{{Key: []byte("site"), Value: []byte("lab-3")}, {Key: []byte("site"), Value: []byte("lab-4")}}
		pr.ResponseTopic = []byte("io/reply")
		pr.Set(codec.PropResponseTopic)
		pr.CorrelationData = []byte{0, 1, 2, 0xff}
		pr.Set(codec.PropCorrelationData)
		pr.ContentType = []byte("text/plain")
		pr.Set(codec.PropContentType)
		pr.PayloadFormat = 1
		pr.Set(codec.PropPayloadFormat)
		return pr
	}
	// publish5 sends a 5.0 PUBLISH with props and completes its QoS flow.
	publish5 := func(r *rawClient, topic, payload string, qos byte, retain bool, id uint16) {
		t.Helper()
		p := codec.Publish{QoS: qos, Retain: retain, TopicName: []byte(topic), PacketID: id, Payload: []byte(payload), Props: props()}
		r.send(codec.AppendPublishV5(nil, &p))
		switch qos {
		case 1:
			r.expectPacket(hex.EncodeToString([]byte{0x40, 2, byte(id >> 8), byte(id)}))
		case 2:
			r.expectPacket(hex.EncodeToString([]byte{0x50, 2, byte(id >> 8), byte(id)}))
			r.send(codec.AppendPubrel(nil, id))
			r.expectPacket(hex.EncodeToString([]byte{0x70, 2, byte(id >> 8), byte(id)}))
		}
	}
	// expect4 reads a 3.1.1 PUBLISH and checks it is exactly the encoding of
	// what it should be, acknowledging it.
	expect4 := func(r *rawClient, topic, payload string, qos byte, retain bool) {
		t.Helper()
		got := r.read()
		var p codec.Publish
		if _, err := p.Decode(got); err != nil {
			t.Fatalf("3.1.1 subscriber: % x: %v", got, err)
		}
		want := codec.AppendPublish(nil, &codec.Publish{QoS: qos, Retain: retain, TopicName: []byte(topic), PacketID: p.PacketID, Payload: []byte(payload)})
		if !bytes.Equal(got, want) {
			t.Fatalf("3.1.1 subscriber got % x, want % x", got, want)
		}
		switch qos {
		case 1:
			r.send(codec.AppendPuback(nil, p.PacketID))
		case 2:
			r.send(codec.AppendPubrec(nil, p.PacketID))
			r.expectPacket(hex.EncodeToString([]byte{0x62, 2, byte(p.PacketID >> 8), byte(p.PacketID)}))
			r.send(codec.AppendPubcomp(nil, p.PacketID))
		}
	}
	// expect5 reads a 5.0 PUBLISH and checks it carries no property.
	expect5 := func(r *rawClient, topic, payload string, qos byte, retain bool) {
		t.Helper()
		got := r.read()
		var p codec.Publish
		if _, err := p.DecodeFromServer(got, 5); err != nil {
			t.Fatalf("5.0 subscriber: % x: %v", got, err)
		}
		want := codec.AppendPublishV5(nil, &codec.Publish{QoS: qos, Retain: retain, TopicName: []byte(topic), PacketID: p.PacketID, Payload: []byte(payload)})
		if !bytes.Equal(got, want) {
			t.Fatalf("5.0 subscriber got % x, want % x (no properties)", got, want)
		}
		switch qos {
		case 1:
			r.send(codec.AppendPuback(nil, p.PacketID))
		case 2:
			r.send(codec.AppendPubrec(nil, p.PacketID))
			r.expectPacket(hex.EncodeToString([]byte{0x62, 2, byte(p.PacketID >> 8), byte(p.PacketID)}))
			r.send(codec.AppendPubcomp(nil, p.PacketID))
		}
	}

	t.Run("5.0 publisher to 3.1.1 subscriber", func(t *testing.T) {
		sub4 := dialRaw(t, s)
		sub4.connect("io-sub4", true, false)
		sub4.subscribe(1, "io/a/#", 1)
		pub5 := dialRaw(t, s)
		pub5.connect5("io-pub5", true, nil)
		publish5(pub5, "io/a/0", "zero", 0, false, 0)
		expect4(sub4, "io/a/0", "zero", 0, false)
		publish5(pub5, "io/a/1", "one", 1, false, 1)
		expect4(sub4, "io/a/1", "one", 1, false)
		publish5(pub5, "io/a/2", "two, at QoS 1", 2, false, 2) // the subscription's QoS 1 caps it
		expect4(sub4, "io/a/2", "two, at QoS 1", 1, false)
		publish5(pub5, "io/a/r", "retained", 1, true, 3) // live: RETAIN 0 to an existing subscription
		expect4(sub4, "io/a/r", "retained", 1, false)

		late := dialRaw(t, s)
		late.connect("io-late4", true, false)
		late.send(codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte("io/a/r"), QoS: 2}}))
		late.expectPacket("90 03 0001 02")
		expect4(late, "io/a/r", "retained", 1, true) // stored at QoS 1, sent with RETAIN 1
	})

	t.Run("3.1.1 publisher to 5.0 subscriber", func(t *testing.T) {
		sub5 := dialRaw(t, s)
		sub5.connect5("io-sub5", true, nil)
		if codes := sub5.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("io/b/#"), QoS: 2}); !bytes.Equal(codes, []byte{2}) {
			t.Fatalf("SUBACK codes % x, want 02", codes)
		}
		pub4 := dialRaw(t, s)
		pub4.connect("io-pub4", true, false)
		pub4.publish("io/b/0", "zero", 0, false, 0)
		expect5(sub5, "io/b/0", "zero", 0, false)
		pub4.publish("io/b/1", "one", 1, false, 1)
		pub4.expectPacket("40 02 0001")
		expect5(sub5, "io/b/1", "one", 1, false)
		pub4.publish("io/b/2", "two", 2, true, 2)
		pub4.expectPacket("50 02 0002")
		pub4.send(codec.AppendPubrel(nil, 2))
		pub4.expectPacket("70 02 0002")
		expect5(sub5, "io/b/2", "two", 2, false)

		late := dialRaw(t, s)
		late.connect5("io-late5", true, nil)
		if codes := late.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("io/b/2"), QoS: 1}); !bytes.Equal(codes, []byte{1}) {
			t.Fatalf("SUBACK codes % x, want 01", codes)
		}
		expect5(late, "io/b/2", "two", 1, true)
	})
}

// TestV5MosquittoRequestResponse: Debian's mosquitto_rr, an MQTT 5.0
// request/response client, asks a question through the broker; a 5.0
// responder gets the request with its response topic, correlation data and
// user property [MQTT5-3.3.2-15], [MQTT5-3.3.2-16], [MQTT5-3.3.2-17] and
// answers on the response topic, and mosquitto_rr prints the answer with
// the responder's user property and content type.
func TestV5MosquittoRequestResponse(t *testing.T) {
	rr, err := exec.LookPath("mosquitto_rr")
	if err != nil {
		t.Skip("mosquitto_rr not installed (apt-get install -y mosquitto-clients)")
	}
	s := startBroker(t, nil)
	host, port, _ := net.SplitHostPort(brokerAddr(s))
	responder := dialRaw(t, s)
	responder.connect5("rr-responder", true, nil)
	if codes := responder.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("rr/req"), QoS: 1}); !bytes.Equal(codes, []byte{1}) {
		t.Fatalf("SUBACK codes % x, want 01", codes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rr, "-V", "mqttv5", "-h", host, "-p", port, "-q", "1", "-t", "rr/req", "-e", "rr/resp",
		"-m", "what time is it", "-D", "publish", "correlation-data", "c-42", "-D", "publish", "user-property", "k", "v",
		"-W", "15", "-F", "%P|%C|%p")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	req := responder.readPublish5()
	responder.send(codec.AppendPuback(nil, req.PacketID))
	if string(req.Payload) != "what time is it" || string(req.Props.ResponseTopic) != "rr/resp" || string(req.Props.CorrelationData) != "c-42" {
		t.Errorf("request %q response topic %q correlation %q, want %q rr/resp c-42", req.Payload, req.Props.ResponseTopic, req.Props.CorrelationData, "what time is it")
	}
	if v, ok := userProp(&req.Props, "k"); !ok || v != "v" {
		t.Errorf("request user property k = %q (%v), want v", v, ok)
	}
	answer := codec.Publish{QoS: 1, TopicName: req.Props.ResponseTopic, PacketID: 1, Payload: []byte("noon")}
	answer.Props.CorrelationData = req.Props.CorrelationData
	answer.Props.Set(codec.PropCorrelationData)
	answer.Props.ContentType = []byte("text/plain")
	answer.Props.Set(codec.PropContentType)
	answer.Props.User = []codec.UserProperty{{Key: []byte("tz"), Value: []byte("UTC")}}
	responder.send(codec.AppendPublishV5(nil, &answer))
	responder.expectPacket("40 02 0001")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("mosquitto_rr: %v: %s", err, out.String())
	}
	if got, want := strings.TrimSpace(out.String()), "tz:UTC|text/plain|noon"; got != want {
		t.Fatalf("mosquitto_rr printed %q, want %q", got, want)
	}
}

// TestV5MosquittoIntrospection: Debian's mosquitto_sub connecting as 5.0
// with user properties and limits shows them in the native answer, and
// when it is interrupted its own DISCONNECT is the last disconnect's.
func TestV5MosquittoIntrospection(t *testing.T) {
	subBin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Skip("mosquitto_sub not installed (apt-get install -y mosquitto-clients)")
	}
	s := startBroker(t, func(c *Config) { c.MaxSessionExpiry = time.Hour })
	base := adminFor(t, s)
	host, port, _ := net.SplitHostPort(brokerAddr(s))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, subBin, "-V", "mqttv5", "-h", host, "-p", port, "-i", "mq5", "-x", "600",
		"-D", "connect", "user-property", "site", "lab-3", "-D", "connect", "user-property", "fw", "2.0",
		"-D", "connect", "receive-maximum", "10", "-D", "connect", "maximum-packet-size", "4096",
		"-D", "connect", "topic-alias-maximum", "3", "-t", "mq5/#", "-q", "1")
	var out bytes.Buffer
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	var c admin.Client
	var raw map[string]json.RawMessage
	waitFor(t, "mosquitto_sub subscribed", func() bool {
		if code, _ := httpDo(t, "GET", base+"/api/v1/clients/mq5", nil, ""); code != 200 {
			return false
		}
		c, raw = nativeClientOf(t, base, "mq5")
		return len(c.Subscriptions) == 1
	})
	want := `{"receive_maximum":10,"topic_alias_maximum":3,"maximum_packet_size":4096,"authentication_method":"",` +
		`"user_properties":[{"name":"site","value":"lab-3"},{"name":"fw","value":"2.0"}],"user_properties_truncated":false}`
	if c.ProtocolVersion != 5 || c.SessionExpiry != 600 || string(raw["mqtt5"]) != want {
		t.Errorf("protocol %d expiry %d mqtt5 %s; want 5, 600, %s", c.ProtocolVersion, c.SessionExpiry, raw["mqtt5"], want)
	}
	sub.Process.Signal(os.Interrupt) // mosquitto_sub then sends its DISCONNECT
	sub.Wait()
	waitFor(t, "mq5 offline", func() bool { c, _ = nativeClientOf(t, base, "mq5"); return c.Status == "offline" })
	if c.DisconnectCode == nil || c.DisconnectCode.By != "client" || c.DisconnectReason != "client_disconnect" {
		t.Errorf("after the interrupt: reason %q code %+v, want client_disconnect with the client's reason code (output %q)",
			c.DisconnectReason, c.DisconnectCode, out.String())
	}
	t.Logf("mosquitto_sub's DISCONNECT: %+v", c.DisconnectCode)
}
