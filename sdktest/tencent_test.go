package sdktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	trocket "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/trocket/v20230308"
)

// tencentVariant is one way the Tencent SDK can send DescribeMQTTClient.
type tencentVariant struct {
	name       string
	method     string // HttpProfile.ReqMethod
	signMethod string // ClientProfile.SignMethod
}

var (
	tc3Post    = tencentVariant{"TC3 POST", "POST", "TC3-HMAC-SHA256"}
	tc3Get     = tencentVariant{"TC3 GET", "GET", "TC3-HMAC-SHA256"}
	hmac256    = tencentVariant{"HmacSHA256 POST", "POST", "HmacSHA256"}
	hmac1Get   = tencentVariant{"HmacSHA1 GET", "GET", "HmacSHA1"}
	tcVariants = []tencentVariant{tc3Post, tc3Get, hmac256, hmac1Get}
)

// newTencent returns an SDK client for the broker's admin port in region
// ap-guangzhou; rt, if not nil, replaces the SDK's HTTP transport.
// Each tune function may then change the profile.
func newTencent(t *testing.T, b *broker, secretID, secretKey string, v tencentVariant, rt http.RoundTripper, tune ...func(*profile.ClientProfile)) *trocket.Client {
	t.Helper()
	return newTencentIn(t, b, "ap-guangzhou", secretID, secretKey, v, rt, tune...)
}

// newTencentIn is newTencent in the given region; with "" the SDK sends no
// X-TC-Region (TC3) or an empty Region (legacy).
func newTencentIn(t *testing.T, b *broker, region, secretID, secretKey string, v tencentVariant, rt http.RoundTripper, tune ...func(*profile.ClientProfile)) *trocket.Client {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = b.Admin
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.ReqMethod = v.method
	cpf.HttpProfile.ReqTimeout = 10
	cpf.SignMethod = v.signMethod
	for _, f := range tune {
		f(cpf)
	}
	c, err := trocket.NewClient(common.NewCredential(secretID, secretKey), region, cpf)
	if err != nil {
		t.Fatalf("trocket.NewClient: %v", err)
	}
	if rt != nil {
		c.WithHttpTransport(rt)
	}
	return c
}

// describe calls DescribeMQTTClient; nil arguments are left out of the request.
func describe(c *trocket.Client, instance, clientID *string) (*trocket.DescribeMQTTClientResponseParams, error) {
	req := trocket.NewDescribeMQTTClientRequest()
	req.InstanceId = instance
	req.ClientId = clientID
	resp, err := c.DescribeMQTTClient(req)
	if err != nil {
		return nil, err
	}
	if resp.Response == nil {
		return nil, fmt.Errorf("DescribeMQTTClient: response has no Response object")
	}
	return resp.Response, nil
}

func str(s string) *string { return &s }

// tencentCode returns the code of a *errors.TencentCloudSDKError, or a
// description of an error of another type.
func tencentCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errorsAs[*tcerrors.TencentCloudSDKError](err); ok {
		return e.GetCode()
	}
	return fmt.Sprintf("not a *errors.TencentCloudSDKError: %T %v", err, err)
}

// clientWant is what DescribeMQTTClient should say about one client.
type clientWant struct {
	id, address string
	keepAlive   int64
	status      string
	clean       bool
	subs        []subscription
	in, out     traffic // Inbound (server to client), OutBound (client to server)
	exactPings  bool    // raw clients: no PINGREQ/PINGRESP beyond those in in/out
}

func (w clientWant) problems(p *trocket.DescribeMQTTClientResponseParams) []string {
	var ps []string
	check := func(field string, ok bool, got, want any) {
		if !ok {
			ps = append(ps, fmt.Sprintf("%s: got %v, want %v", field, got, want))
		}
	}
	check("ClientId", p.ClientId != nil && *p.ClientId == w.id, deref(p.ClientId), fmt.Sprintf("%q", w.id))
	if w.address != "" {
		check("ClientAddress", p.ClientAddress != nil && *p.ClientAddress == w.address, deref(p.ClientAddress), w.address)
	} else {
		check("ClientAddress", p.ClientAddress != nil && strings.HasPrefix(*p.ClientAddress, "127.0.0.1:"), deref(p.ClientAddress), "127.0.0.1:*")
	}
	check("ProtocolVersion", p.ProtocolVersion != nil && *p.ProtocolVersion == 4, deref(p.ProtocolVersion), 4)
	check("Keepalive", p.Keepalive != nil && *p.Keepalive == w.keepAlive, deref(p.Keepalive), w.keepAlive)
	check("ConnectionStatus", p.ConnectionStatus != nil && *p.ConnectionStatus == w.status, deref(p.ConnectionStatus), w.status)
	check("CleanSession", p.CleanSession != nil && *p.CleanSession == w.clean, deref(p.CleanSession), w.clean)
	check("RequestId", p.RequestId != nil && *p.RequestId != "", deref(p.RequestId), "non-empty")
	for _, f := range []struct {
		name string
		v    *int64
	}{{"CreateTime", p.CreateTime}, {"ConnectTime", p.ConnectTime}, {"DisconnectTime", p.DisconnectTime}} {
		check(f.name, f.v != nil, "absent", "an integer")
	}

	var subs []subscription
	subsOK := len(p.MQTTClientSubscriptions) == len(w.subs)
	for i, s := range p.MQTTClientSubscriptions {
		if s == nil || s.TopicFilter == nil || s.Qos == nil {
			ps = append(ps, fmt.Sprintf("MQTTClientSubscriptions[%d]: incomplete", i))
			continue
		}
		subs = append(subs, subscription{*s.TopicFilter, byte(*s.Qos)})
		subsOK = subsOK && i < len(w.subs) && w.subs[i] == subscription{*s.TopicFilter, byte(*s.Qos)}
	}
	check("MQTTClientSubscriptions", subsOK, subs, w.subs)

	for _, dir := range []struct {
		name string
		got  *trocket.StatisticsReport
		want traffic
	}{{"Inbound", p.Inbound, w.in}, {"OutBound", p.OutBound, w.out}} {
		got, err := trafficOf(dir.got)
		if err != nil {
			ps = append(ps, dir.name+": "+err.Error())
			continue
		}
		if d := dir.want.diff(got, !w.exactPings); d != "" {
			ps = append(ps, dir.name+": "+d)
		}
	}
	return ps
}

// trafficOf converts a StatisticsReport, checking its shape: Items list
// only non-zero counts, one item per type and QoS.
func trafficOf(r *trocket.StatisticsReport) (traffic, error) {
	var tr traffic
	if r == nil {
		return tr, fmt.Errorf("absent")
	}
	if r.Bytes == nil {
		return tr, fmt.Errorf("no Bytes")
	}
	tr.Bytes = *r.Bytes
	tr.Items = make(map[string]int64)
	for i, it := range r.Items {
		if it == nil || it.MessageType == nil || it.Qos == nil || it.Count == nil {
			return tr, fmt.Errorf("Items[%d] incomplete", i)
		}
		k := fmt.Sprintf("%s/%d", *it.MessageType, *it.Qos)
		if _, dup := tr.Items[k]; dup {
			return tr, fmt.Errorf("Items lists %s twice", k)
		}
		if *it.Count <= 0 {
			return tr, fmt.Errorf("Items lists %s with Count %d", k, *it.Count)
		}
		tr.Items[k] = *it.Count
	}
	return tr, nil
}

func deref[T any](p *T) any {
	if p == nil {
		return "absent"
	}
	return *p
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// pollTimeout bounds every wait for a state change.
const pollTimeout = 10 * time.Second

// pollDescribe calls DescribeMQTTClient until w matches or pollTimeout
// passes, and returns the last response.
func pollDescribe(t *testing.T, c *trocket.Client, w clientWant) *trocket.DescribeMQTTClientResponseParams {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		p, err := describe(c, str(instanceID), str(w.id))
		var ps []string
		if err != nil {
			ps = []string{"DescribeMQTTClient: " + err.Error()}
		} else {
			ps = w.problems(p)
		}
		if len(ps) == 0 {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeMQTTClient %q: after %v still\n  %s\nlast response: %s", w.id, pollTimeout, strings.Join(ps, "\n  "), asJSON(p))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pollNotFound calls DescribeMQTTClient until it answers ResourceNotFound.Client.
func pollNotFound(t *testing.T, c *trocket.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		p, err := describe(c, str(instanceID), str(id))
		code := tencentCode(err)
		if code == "ResourceNotFound.Client" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeMQTTClient %q: after %v got %q (%s), want ResourceNotFound.Client", id, pollTimeout, code, asJSON(p))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkTimes checks that the epoch-millisecond times lie in [from, to] (a
// second of slack for coarse clocks) and are ordered.
func checkTimes(t *testing.T, p *trocket.DescribeMQTTClientResponseParams, from, to time.Time, connected bool) {
	t.Helper()
	lo, hi := from.Add(-time.Second).UnixMilli(), to.Add(time.Second).UnixMilli()
	in := func(name string, v *int64) {
		if v == nil || *v < lo || *v > hi {
			t.Errorf("%s %q: got %v, want epoch ms in [%d, %d]", name, *p.ClientId, deref(v), lo, hi)
		}
	}
	in("CreateTime", p.CreateTime)
	in("ConnectTime", p.ConnectTime)
	if p.CreateTime != nil && p.ConnectTime != nil && *p.CreateTime > *p.ConnectTime {
		t.Errorf("%q: CreateTime %d after ConnectTime %d", *p.ClientId, *p.CreateTime, *p.ConnectTime)
	}
	if connected {
		if p.DisconnectTime == nil || *p.DisconnectTime != 0 {
			t.Errorf("DisconnectTime %q while connected: got %v, want 0", *p.ClientId, deref(p.DisconnectTime))
		}
		return
	}
	in("DisconnectTime", p.DisconnectTime)
	if p.ConnectTime != nil && p.DisconnectTime != nil && *p.DisconnectTime < *p.ConnectTime {
		t.Errorf("%q: DisconnectTime %d before ConnectTime %d", *p.ClientId, *p.DisconnectTime, *p.ConnectTime)
	}
}

// runTencentScenario connects two paho clients, has them subscribe and
// exchange QoS 0, 1 and 2 messages, and follows both through
// DescribeMQTTClient until they disconnect and one reconnects.
func runTencentScenario(t *testing.T, b *broker, c *trocket.Client) {
	start := time.Now()

	// A persistent session with the awkward ID, and the documented example's clean one.
	c1 := connectPaho(t, b, oddClientID, false, 30*time.Second)
	c2 := connectPaho(t, b, seedClientID, true, 45*time.Second)
	c2.subscribe(t, seedSubscriptions...)
	c2.subscribe(t, subscription{"home/sun/+/", 2}) // replaces the QoS, keeps the place
	c1.subscribe(t, subscription{"dev/+/cmd", 1})

	c1.publish(t, "home/sun/1/", 1, "hello")
	c1.publish(t, "home/humidity/1/", 0, "x")
	c1.publish(t, "home/person/1/", 2, "p2")
	got := c2.receive(t, 3)
	for topic, qos := range map[string]byte{"home/sun/1/": 1, "home/humidity/1/": 0, "home/person/1/": 2} {
		if m := got[topic]; m == nil || m.Qos() != qos {
			t.Fatalf("%s: message on %q: got %v, want qos %d (min of publish and subscription)", seedClientID, topic, m, qos)
		}
	}

	// What each side sent, packet by packet.
	var in1, out1, in2, out2 traffic
	out1.add("CONNECT", 0, connectPacket(oddClientID, "", "", false, 30))
	in1.add("CONNACK", 0, connackAccepted)
	out1.add("SUBSCRIBE", 1, subscribePacket(1, subscription{"dev/+/cmd", 1}))
	in1.add("SUBACK", 0, subackPacket(1, 1))
	out1.add("PUBLISH", 1, publishPacket("home/sun/1/", "hello", 1, 1))
	in1.addN("PUBACK", 0, ackLen)
	out1.add("PUBLISH", 0, publishPacket("home/humidity/1/", "x", 0, 0))
	out1.add("PUBLISH", 2, publishPacket("home/person/1/", "p2", 2, 1))
	in1.addN("PUBREC", 0, ackLen)
	out1.addN("PUBREL", 1, ackLen)
	in1.addN("PUBCOMP", 0, ackLen)

	out2.add("CONNECT", 0, connectPacket(seedClientID, "", "", true, 45))
	in2.add("CONNACK", 0, connackAccepted)
	for _, s := range append(seedSubscriptions, subscription{"home/sun/+/", 2}) {
		out2.add("SUBSCRIBE", 1, subscribePacket(1, s))
		in2.add("SUBACK", 0, subackPacket(1, s.QoS))
	}
	in2.add("PUBLISH", 1, publishPacket("home/sun/1/", "hello", 1, 1))
	out2.addN("PUBACK", 0, ackLen)
	in2.add("PUBLISH", 0, publishPacket("home/humidity/1/", "x", 0, 0))
	in2.add("PUBLISH", 2, publishPacket("home/person/1/", "p2", 2, 1))
	out2.addN("PUBREC", 0, ackLen)
	in2.addN("PUBREL", 1, ackLen)
	out2.addN("PUBCOMP", 0, ackLen)

	want1 := clientWant{
		id: oddClientID, address: c1.LocalAddr(), keepAlive: 30, status: "CONNECTED", clean: false,
		subs: []subscription{{"dev/+/cmd", 1}},
		in:   in1, out: out1,
	}
	want2 := clientWant{
		id: seedClientID, address: c2.LocalAddr(), keepAlive: 45, status: "CONNECTED", clean: true,
		subs: []subscription{{"home/sun/+/", 2}, {"home/temp/+/", 1}, {"home/humidity/+/", 0}, {"home/person/+/", 2}},
		in:   in2, out: out2,
	}
	p1 := pollDescribe(t, c, want1)
	checkTimes(t, p1, start, time.Now(), true)
	p2 := pollDescribe(t, c, want2)
	checkTimes(t, p2, start, time.Now(), true)

	// The persistent session outlives its connection.
	c1.Disconnect(100)
	want1.status = "DISCONNECTED"
	want1.out.add("DISCONNECT", 0, disconnect)
	p1 = pollDescribe(t, c, want1)
	checkTimes(t, p1, start, time.Now(), false)
	createTime, disconnectTime := *p1.CreateTime, *p1.DisconnectTime

	// The clean session ends with its connection.
	c2.Disconnect(100)
	pollNotFound(t, c, seedClientID)

	// Reconnecting resumes the session: same CreateTime, counts accumulate.
	c1 = connectPaho(t, b, oddClientID, false, 20*time.Second)
	want1.address = c1.LocalAddr()
	want1.keepAlive = 20
	want1.status = "CONNECTED"
	want1.out.add("CONNECT", 0, connectPacket(oddClientID, "", "", false, 20))
	want1.in.add("CONNACK", 0, []byte{0x20, 0x02, 0x01, 0x00}) // session present
	p1 = pollDescribe(t, c, want1)
	if *p1.CreateTime != createTime {
		t.Errorf("CreateTime after reconnect: got %d, want %d (the session's creation)", *p1.CreateTime, createTime)
	}
	if *p1.ConnectTime < disconnectTime {
		t.Errorf("ConnectTime after reconnect: got %d, before the DisconnectTime %d", *p1.ConnectTime, disconnectTime)
	}
	t.Logf("after reconnect: %s", asJSON(p1))
}

func TestTencentTC3Post(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	runTencentScenario(t, b, newTencent(t, b, tencentSecretID, tencentSecretKey, tc3Post, nil))
}

func TestTencentTC3Get(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	runTencentScenario(t, b, newTencent(t, b, tencentSecretID, tencentSecretKey, tc3Get, nil))
}

func TestTencentHmacSHA256(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	runTencentScenario(t, b, newTencent(t, b, tencentSecretID, tencentSecretKey, hmac256, nil))
}

// TestTencentSignatures checks every signature variant with the right key,
// a wrong key and an unknown SecretId.
func TestTencentSignatures(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	c := connectPaho(t, b, oddClientID, true, 60*time.Second)
	for _, v := range tcVariants {
		t.Run(v.name, func(t *testing.T) {
			p, err := describe(newTencent(t, b, tencentSecretID, tencentSecretKey, v, nil), str(instanceID), str(oddClientID))
			if err != nil {
				t.Fatalf("right key: %v", err)
			}
			if deref(p.ClientId) != oddClientID || deref(p.ClientAddress) != c.LocalAddr() {
				t.Errorf("right key: ClientId %v, ClientAddress %v; want %q, %s", deref(p.ClientId), deref(p.ClientAddress), oddClientID, c.LocalAddr())
			}
			for _, tc := range []struct {
				name, id, key, code string
			}{
				{"wrong key", tencentSecretID, tencentSecretKey + "x", "AuthFailure.SignatureFailure"},
				{"unknown SecretId", "AKIDunknown0000000000000000000000000", tencentSecretKey, "AuthFailure.SecretIdNotFound"},
			} {
				_, err := describe(newTencent(t, b, tc.id, tc.key, v, nil), str(instanceID), str(oddClientID))
				if got := tencentCode(err); got != tc.code {
					t.Errorf("%s: got %q, want %s", tc.name, got, tc.code)
				}
			}
		})
	}
}

// TestTencentErrors checks the API error codes in every variant.
func TestTencentErrors(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	connectPaho(t, b, seedClientID, true, 60*time.Second)
	for _, v := range tcVariants {
		t.Run(v.name, func(t *testing.T) {
			cp := newCapture(t)
			c := newTencent(t, b, tencentSecretID, tencentSecretKey, v, cp)
			for _, tc := range []struct {
				name               string
				instance, clientID *string
				code               string
			}{
				{"unknown client", str(instanceID), str("GID_test@@@nobody"), "ResourceNotFound.Client"},
				{"other instance", str("mqtt-elsewhere"), str(seedClientID), "ResourceNotFound.Instance"},
				{"no ClientId", str(instanceID), nil, "MissingParameter"},
				{"no InstanceId", nil, str(seedClientID), "MissingParameter"},
			} {
				p, err := describe(c, tc.instance, tc.clientID)
				if got := tencentCode(err); got != tc.code {
					t.Errorf("%s: got %q (%s), want %s", tc.name, got, asJSON(p), tc.code)
				}
				if e, ok := errorsAs[*tcerrors.TencentCloudSDKError](err); ok && (e.GetRequestId() == "" || e.GetMessage() == "") {
					t.Errorf("%s: RequestId %q, Message %q; want both set", tc.name, e.GetRequestId(), e.GetMessage())
				}
				// Tencent errors are HTTP 200 with exactly this shape.
				resp := cp.last()
				if resp.status != 200 {
					t.Errorf("%s: HTTP %d, want 200", tc.name, resp.status)
				}
				for _, p := range keyProblems("", resp.body, reflect.TypeFor[tencentEnvelope[tencentError]]()) {
					t.Errorf("%s: response keys %s in %s", tc.name, p, resp.body)
				}
			}
		})
	}
}

// TestTencentTC3ReplayAccepted sends byte-identical TC3 requests twice. TC3
// has no nonce and the SDK's own retries are identical, so the broker must
// accept both within the time window.
func TestTencentTC3ReplayAccepted(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true})
	connectPaho(t, b, oddClientID, true, 60*time.Second)
	for _, v := range []tencentVariant{tc3Post, tc3Get} {
		t.Run(v.name, func(t *testing.T) {
			cp := newCapture(t)
			c := newTencent(t, b, tencentSecretID, tencentSecretKey, v, cp)
			for i, mode := range []captureMode{forward, replay, replay} {
				cp.setMode(mode)
				// In replay mode the SDK's own request (for another
				// client) is dropped and the recorded one goes out.
				id := oddClientID
				if mode == replay {
					id = "GID_test@@@nobody"
				}
				p, err := describe(c, str(instanceID), str(id))
				if err != nil {
					t.Fatalf("request %d (%v): %v", i+1, mode, err)
				}
				if deref(p.ClientId) != oddClientID {
					t.Fatalf("request %d: ClientId %v, want %q (the recorded request's)", i+1, deref(p.ClientId), oddClientID)
				}
			}
		})
	}
}
