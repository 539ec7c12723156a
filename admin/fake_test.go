package admin

import (
	"bufio"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// weirdID is a client ID that needs escaping everywhere: "@", space, "*",
// "~", "/", a non-ASCII letter, "+", "&" and "=".
const weirdID = "GID_test@@@dev 1*~/é+&="

// testNow is the server clock in tests; testUUID the request ID source.
var (
	testNow  = time.Date(2026, 11, 21, 22, 20, 43, 0, time.UTC)
	testUUID = uuid.MustParse("b59aa63c-6cc6-418a-92c7-c205cb30d4cd")
)

// fakeBroker is an in-memory Broker. SessionInfo copies into dst reusing
// dst's slices, as the real registry does.
type fakeBroker struct {
	mu       sync.Mutex
	sessions map[string]*session.Info
	kicks    []kick
	ops      []opCall // Operations asked, in order
}

type kick struct {
	id   string
	will bool
}

func newFakeBroker(infos ...*session.Info) *fakeBroker {
	f := &fakeBroker{sessions: map[string]*session.Info{}}
	for _, i := range infos {
		f.sessions[i.ClientID] = i
	}
	return f
}

func (f *fakeBroker) SessionInfo(id string, dst *session.Info) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	src, ok := f.sessions[id]
	if !ok {
		return false
	}
	subs, recv, sent, hist := dst.Subscriptions[:0], dst.Received.Items[:0], dst.Sent.Items[:0], dst.History[:0]
	*dst = *src
	dst.Subscriptions = append(subs, src.Subscriptions...)
	dst.Received.Items = append(recv, src.Received.Items...)
	dst.Sent.Items = append(sent, src.Sent.Items...)
	dst.History = append(hist, src.History...)
	return true
}

// RangeSessions calls fn without holding the fake's lock, as the engine
// does (fn may call SessionInfo).
func (f *fakeBroker) RangeSessions(fn func(string, bool) bool) {
	type entry struct {
		id        string
		connected bool
	}
	f.mu.Lock()
	all := make([]entry, 0, len(f.sessions))
	for id, s := range f.sessions {
		all = append(all, entry{id, s.Connected})
	}
	f.mu.Unlock()
	for _, e := range all {
		if !fn(e.id, e.connected) {
			return
		}
	}
}

func (f *fakeBroker) Kick(id string, will bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	if !ok || !s.Connected {
		return false
	}
	s.Connected = false
	s.DisconnectReason = session.ReasonKicked
	f.kicks = append(f.kicks, kick{id, will})
	return true
}

// seedInfo is the client of the output example on Tencent's
// DescribeMQTTClient documentation page: it
// connected, subscribed to four filters and sent 14 PINGREQ. The counts go
// through real stats.Counters, with realistic packet sizes.
func seedInfo() *session.Info {
	var c stats.Client
	c.Received.Add(codec.TypeConnect, 0, 37)
	c.Received.Add(codec.TypeSubscribe, 1, 69) // 4 filters; SUBSCRIBE counts at QoS 1
	c.Sent.Add(codec.TypeConnack, 0, 4)
	c.Sent.Add(codec.TypeSuback, 0, 8)
	for range 14 {
		c.Received.Add(codec.TypePingreq, 0, 2)
		c.Sent.Add(codec.TypePingresp, 0, 2)
	}
	info := &session.Info{
		ClientID:        "sub_client2",
		ClientAddress:   "11.176.16.153:23354",
		ProtocolVersion: 4,
		KeepAlive:       60,
		Connected:       true,
		CreateTime:      1711443908331,
		ConnectTime:     1711444795304,
		CleanSession:    true,
		Subscriptions: []session.Subscription{
			{TopicFilter: "home/sun/+/", QoS: 1},
			{TopicFilter: "home/temp/+/", QoS: 1},
			{TopicFilter: "home/humidity/+/", QoS: 0},
			{TopicFilter: "home/person/+/", QoS: 2},
		},
		Connections: 1,
		History:     []session.Event{{Time: 1711444795304, Connected: true, Address: "11.176.16.153:23354"}},
	}
	c.Received.Snapshot(&info.Received)
	c.Sent.Snapshot(&info.Sent)
	return info
}

// weirdInfo is an offline persistent session with the awkward client ID and
// every native field set.
func weirdInfo() *session.Info {
	var c stats.Client
	c.Received.Add(codec.TypeConnect, 0, 50)
	c.Received.Add(codec.TypePublish, 1, 30)
	c.Sent.Add(codec.TypeConnack, 0, 4)
	c.Sent.Add(codec.TypePuback, 0, 4)
	info := &session.Info{
		ClientID:         weirdID,
		ClientAddress:    "[::1]:50123",
		ProtocolVersion:  3,
		KeepAlive:        30,
		CreateTime:       1711443908331,
		ConnectTime:      1711444795304,
		DisconnectTime:   1711444800000,
		Subscriptions:    []session.Subscription{{TopicFilter: "a/<b>/&#", QoS: 2}},
		Username:         "dev\"1",
		SessionExpiry:    3600,
		QueueLen:         2,
		QueueMax:         1000,
		QueueDropped:     7,
		InflightLen:      1,
		InflightMax:      20,
		AwaitingRel:      1,
		LastActivity:     1711444799000,
		WillTopic:        "wills/dev 1",
		Connections:      2,
		DisconnectReason: session.ReasonProtocolError,
		DisconnectDetail: "codec: PUBLISH topic name at byte 2: wildcard '+' in \"a/+\" [MQTT-3.3.2-2]",
		History: []session.Event{
			{Time: 1711443908331, Connected: true, Address: "[::1]:50000"},
			{Time: 1711444000000, Reason: session.ReasonTakenOver, Address: "[::1]:50000"},
			{Time: 1711444795304, Connected: true, Address: "[::1]:50123"},
			{Time: 1711444800000, Reason: session.ReasonProtocolError, Address: "[::1]:50123",
				Detail: "codec: PUBLISH topic name at byte 2: wildcard '+' in \"a/+\" [MQTT-3.3.2-2]"},
		},
	}
	c.Received.Snapshot(&info.Received)
	c.Sent.Snapshot(&info.Sent)
	return info
}

// Test keys. They are not secrets of anyone.
const (
	tcSecretID    = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
	tcSecretKey   = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
	alAccessKeyID = "LTAI5tEXAMPLEKEYID"
	alSecret      = "testAccessKeySecretEXAMPLE"
)

// newTestServer returns a server over b with a fixed clock and request
// IDs, and no rate limits (ratelimit_test.go tests those). mod may change
// the config first.
func newTestServer(t testing.TB, b Broker, mod func(*Config)) *Server {
	t.Helper()
	c := DefaultConfig()
	if mod != nil {
		mod(&c)
	}
	s, err := New(c, b, stats.NewBroker(2))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.now = func() time.Time { return testNow }
	s.newUUID = func() uuid.UUID { return testUUID }
	unlimited(s)
	return s
}

// withKeys configures one Tencent and one Alibaba key pair.
func withKeys(c *Config) {
	c.TencentSecretID, c.TencentSecretKey = tcSecretID, tcSecretKey
	c.AlibabaAccessKeyID, c.AlibabaAccessKeySecret = alAccessKeyID, alSecret
}

// unlimited lifts the rate limits (benchmarks, bulk tests).
func unlimited(s *Server) {
	for a := range s.limits.buckets {
		s.limits.buckets[a] = rate.NewLimiter(rate.Inf, 1)
	}
}

// tinyLimiter gives every action a burst of 1, then nothing for 1000 s.
func tinyLimiter() limiter {
	c := DefaultConfig()
	c.Limits = map[string]Limit{}
	for a := range numLimited {
		c.Limits[actionSpecs[a].name] = Limit{Rate: 0.001}
	}
	return newLimiter(&c)
}

// testReq is an HTTP request under construction, in wire terms.
type testReq struct {
	method string
	host   string
	path   string // "/" unless set
	query  string // raw query, without "?"
	header [][2]string
	body   string
}

func (r *testReq) set(name, value string) *testReq {
	for i, h := range r.header {
		if strings.EqualFold(h[0], name) {
			r.header[i][1] = value
			return r
		}
	}
	r.header = append(r.header, [2]string{name, value})
	return r
}

func (r *testReq) get(name string) string {
	for _, h := range r.header {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// raw renders r as HTTP/1.1 text.
func (r *testReq) raw() string {
	path := r.path
	if path == "" {
		path = "/"
	}
	if r.query != "" {
		path += "?" + r.query
	}
	host := r.host
	if host == "" {
		host = "127.0.0.1:8080"
	}
	var b strings.Builder
	b.WriteString(r.method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n")
	for _, h := range r.header {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if r.body != "" || r.method == "POST" {
		b.WriteString("Content-Length: " + strconv.Itoa(len(r.body)) + "\r\n")
	}
	b.WriteString("\r\n" + r.body)
	return b.String()
}

// parseRequest parses raw HTTP text as fasthttp reads it off the wire.
func parseRequest(t testing.TB, raw string) *fasthttp.Request {
	t.Helper()
	req := new(fasthttp.Request)
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("parsing request: %v\n%s", err, raw)
	}
	return req
}

// serve runs one request through the server's handler without a socket.
func serve(t testing.TB, s *Server, r *testReq) *fasthttp.Response {
	t.Helper()
	return serveRaw(t, s, r.raw())
}

func serveRaw(t testing.TB, s *Server, raw string) *fasthttp.Response {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Init(parseRequest(t, raw), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}, nil)
	s.Handler()(&ctx)
	resp := new(fasthttp.Response)
	ctx.Response.CopyTo(resp)
	return resp
}

// tencentCode returns the Error.Code of a Tencent answer, "" on success.
func tencentCode(t testing.TB, resp *fasthttp.Response) string {
	t.Helper()
	if resp.StatusCode() != 200 {
		t.Fatalf("Tencent answer status %d, want 200; body %s", resp.StatusCode(), resp.Body())
	}
	var v struct {
		Response struct {
			Error *struct {
				Code    string
				Message string
			}
			RequestID string `json:"RequestId"`
		}
	}
	if err := json.Unmarshal(resp.Body(), &v); err != nil {
		t.Fatalf("Tencent answer is not JSON: %v\n%s", err, resp.Body())
	}
	if v.Response.RequestID == "" {
		t.Fatalf("Tencent answer has no RequestId: %s", resp.Body())
	}
	if v.Response.Error == nil {
		return ""
	}
	if v.Response.Error.Message == "" {
		t.Fatalf("Tencent error %s has no Message", v.Response.Error.Code)
	}
	return v.Response.Error.Code
}

// alibabaError decodes an Alibaba error answer, checking that every field is
// a JSON string, as the classic SDK requires.
func alibabaError(t testing.TB, resp *fasthttp.Response) AlibabaError {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(resp.Body(), &raw); err != nil {
		t.Fatalf("Alibaba error is not JSON: %v\n%s", err, resp.Body())
	}
	for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
		if v, ok := raw[k].(string); !ok || v == "" {
			t.Errorf("Alibaba error field %s = %#v, want a non-empty string; body %s", k, raw[k], resp.Body())
		}
	}
	var e AlibabaError
	_ = json.Unmarshal(resp.Body(), &e)
	if got := string(resp.Header.Peek("x-acs-request-id")); got != e.RequestID {
		t.Errorf("x-acs-request-id %q, want the body's RequestId %q", got, e.RequestID)
	}
	return e
}
