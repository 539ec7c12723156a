package sdktest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Client IDs: one with characters that every signature scheme must
// escape, and the one in Tencent's documented DescribeMQTTClient example.
const (
	oddClientID  = "GID_test@@@dev 1*~/é+&="
	seedClientID = "sub_client2"
)

// subscription is one topic filter and its requested QoS.
type subscription struct {
	Filter string
	QoS    byte
}

// seedSubscriptions are the filters of Tencent's documented example, in order.
var seedSubscriptions = []subscription{
	{"home/sun/+/", 1},
	{"home/temp/+/", 1},
	{"home/humidity/+/", 0},
	{"home/person/+/", 2},
}

// ---- MQTT 3.1.1 encoding, enough for the packets the tests send ----

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// frame prefixes body with the fixed header: first byte and remaining length.
func frame(first byte, body []byte) []byte {
	out := []byte{first}
	n := len(body)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		out = append(out, d)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

func connectPacket(clientID, username, password string, clean bool, keepAlive uint16) []byte {
	var flags byte
	if clean {
		flags |= 0x02
	}
	if username != "" {
		flags |= 0x80
	}
	if password != "" {
		flags |= 0x40
	}
	body := appendString(nil, "MQTT")
	body = append(body, 4, flags)
	body = binary.BigEndian.AppendUint16(body, keepAlive)
	body = appendString(body, clientID)
	if username != "" {
		body = appendString(body, username)
	}
	if password != "" {
		body = appendString(body, password)
	}
	return frame(0x10, body)
}

func subscribePacket(packetID uint16, subs ...subscription) []byte {
	body := binary.BigEndian.AppendUint16(nil, packetID)
	for _, s := range subs {
		body = appendString(body, s.Filter)
		body = append(body, s.QoS)
	}
	return frame(0x82, body)
}

func subackPacket(packetID uint16, granted ...byte) []byte {
	body := binary.BigEndian.AppendUint16(nil, packetID)
	return frame(0x90, append(body, granted...))
}

func publishPacket(topic, payload string, qos byte, packetID uint16) []byte {
	body := appendString(nil, topic)
	if qos > 0 {
		body = binary.BigEndian.AppendUint16(body, packetID)
	}
	return frame(0x30|qos<<1, append(body, payload...))
}

var (
	connackAccepted = []byte{0x20, 0x02, 0x00, 0x00}
	pingreq         = []byte{0xc0, 0x00}
	pingresp        = []byte{0xd0, 0x00}
	disconnect      = []byte{0xe0, 0x00}
)

// ackLen is the size of CONNACK, PUBACK, PUBREC, PUBREL and PUBCOMP.
const ackLen = 4

// ---- raw TCP client, for exact byte counts ----

// rawClient is an MQTT connection driven byte by byte.
type rawClient struct {
	t    *testing.T
	conn net.Conn
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial MQTT %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn}
}

func (r *rawClient) LocalAddr() string { return r.conn.LocalAddr().String() }

func (r *rawClient) send(what string, b []byte) {
	r.t.Helper()
	r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatalf("write %s % x: %v", what, b, err)
	}
}

// expect reads exactly len(want) bytes and fails unless they equal want.
func (r *rawClient) expect(what string, want []byte) {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	if n, err := io.ReadFull(r.conn, got); err != nil {
		r.t.Fatalf("read %s: got % x then %v; want % x", what, got[:n], err, want)
	}
	if !bytes.Equal(got, want) {
		r.t.Fatalf("read %s: got % x, want % x", what, got, want)
	}
}

// connect sends CONNECT and expects CONNACK accepted without session present.
func (r *rawClient) connect(clientID, username, password string, clean bool, keepAlive uint16) {
	r.t.Helper()
	r.send("CONNECT", connectPacket(clientID, username, password, clean, keepAlive))
	r.expect("CONNACK", connackAccepted)
}

// ---- paho client ----

// pahoClient is a paho connection that remembers its local address and
// queues every message it receives.
type pahoClient struct {
	paho.Client
	ID   string
	msgs chan paho.Message

	mu    sync.Mutex
	local string
}

func connectPaho(t *testing.T, b *broker, id string, clean bool, keepAlive time.Duration) *pahoClient {
	t.Helper()
	pc := &pahoClient{ID: id, msgs: make(chan paho.Message, 64)}
	opts := paho.NewClientOptions().
		AddBroker("tcp://" + b.MQTT).
		SetClientID(id).
		SetCleanSession(clean).
		SetKeepAlive(keepAlive).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { pc.msgs <- m }).
		SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
			if err == nil {
				pc.mu.Lock()
				pc.local = conn.LocalAddr().String()
				pc.mu.Unlock()
			}
			return conn, err
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

// LocalAddr is the client side ip:port of the current connection.
func (pc *pahoClient) LocalAddr() string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.local
}

func wait(t *testing.T, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(15 * time.Second) {
		t.Fatalf("%s: no answer within 15s", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// subscribe sends one SUBSCRIBE per filter, in order, and checks the
// granted QoS.
func (pc *pahoClient) subscribe(t *testing.T, subs ...subscription) {
	t.Helper()
	for _, s := range subs {
		tok := pc.Subscribe(s.Filter, s.QoS, nil)
		wait(t, fmt.Sprintf("SUBSCRIBE %q qos %d", s.Filter, s.QoS), tok)
		if got := tok.(*paho.SubscribeToken).Result()[s.Filter]; got != s.QoS {
			t.Fatalf("SUBSCRIBE %q qos %d: granted %d", s.Filter, s.QoS, got)
		}
	}
}

func (pc *pahoClient) publish(t *testing.T, topic string, qos byte, payload string) {
	t.Helper()
	wait(t, fmt.Sprintf("PUBLISH %q qos %d", topic, qos), pc.Publish(topic, qos, false, payload))
}

// receive waits for n messages and returns them by topic.
func (pc *pahoClient) receive(t *testing.T, n int) map[string]paho.Message {
	t.Helper()
	got := make(map[string]paho.Message)
	timeout := time.After(15 * time.Second)
	for len(got) < n {
		select {
		case m := <-pc.msgs:
			got[m.Topic()] = m
		case <-timeout:
			t.Fatalf("%s received %d of %d messages within 15s", pc.ID, len(got), n)
		}
	}
	return got
}

// ---- expected traffic counters ----

// traffic is what Inbound or OutBound should report: whole-packet bytes and
// packet counts keyed "TYPE/qos".
type traffic struct {
	Bytes int64
	Items map[string]int64
}

func (tr *traffic) add(typ string, qos byte, packet []byte) {
	tr.addN(typ, qos, len(packet))
}

func (tr *traffic) addN(typ string, qos byte, size int) {
	if tr.Items == nil {
		tr.Items = make(map[string]int64)
	}
	tr.Items[fmt.Sprintf("%s/%d", typ, qos)]++
	tr.Bytes += int64(size)
}

func (tr traffic) String() string {
	keys := make([]string, 0, len(tr.Items))
	for k := range tr.Items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	fmt.Fprintf(&sb, "Bytes %d", tr.Bytes)
	for _, k := range keys {
		fmt.Fprintf(&sb, ", %s:%d", k, tr.Items[k])
	}
	return sb.String()
}

// diff describes how got differs from want, or returns "". With
// allowPings, PINGREQ/PINGRESP items that want lacks are accepted (paho
// pings when it likes), and their 2 bytes each are expected in Bytes.
func (want traffic) diff(got traffic, allowPings bool) string {
	var problems []string
	extraBytes := int64(0)
	for k, n := range got.Items {
		if allowPings && want.Items[k] == 0 && (k == "PINGREQ/0" || k == "PINGRESP/0") {
			extraBytes += 2 * n
			continue
		}
		if want.Items[k] != n {
			problems = append(problems, fmt.Sprintf("%s: got %d, want %d", k, n, want.Items[k]))
		}
	}
	for k, n := range want.Items {
		if _, ok := got.Items[k]; !ok {
			problems = append(problems, fmt.Sprintf("%s: missing, want %d", k, n))
		}
	}
	if got.Bytes != want.Bytes+extraBytes {
		problems = append(problems, fmt.Sprintf("Bytes: got %d, want %d", got.Bytes, want.Bytes+extraBytes))
	}
	if len(problems) == 0 {
		return ""
	}
	sort.Strings(problems)
	return fmt.Sprintf("%s (got {%v}, want {%v})", strings.Join(problems, "; "), got, want)
}
