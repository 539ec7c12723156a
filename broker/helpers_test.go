package broker

import (
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// startBroker runs a real broker (gnet server and engine) on a free loopback
// port; mod adjusts the configuration. It stops when the test ends.
func startBroker(t testing.TB, mod func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.DataDir = t.TempDir()
	cfg.SysInterval = 0
	cfg.LogInterval = time.Hour
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	s := NewServer(NewEngine(cfg))
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

func brokerAddr(s *Server) string { return s.Addr().String() }

// rawClient speaks MQTT with hand-made packets, so tests control every byte.
type rawClient struct {
	t   testing.TB
	c   net.Conn
	buf []byte
}

func dialRaw(t testing.TB, s *Server) *rawClient {
	t.Helper()
	return dialAddr(t, brokerAddr(s))
}

func dialAddr(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c}
}

// unhex decodes hex with spaces between groups.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("unhex %q: %v", s, err)
	}
	return b
}

func (r *rawClient) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawClient) sendHex(s string) { r.t.Helper(); r.send(unhex(r.t, s)) }

// next reads one whole packet, failing the test after timeout.
func (r *rawClient) next(timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		if n, err := codec.Frame(r.buf, 0); err != nil {
			return nil, err
		} else if n > 0 {
			p := append([]byte(nil), r.buf[:n]...)
			r.buf = r.buf[n:]
			return p, nil
		}
		r.c.SetReadDeadline(deadline)
		tmp := make([]byte, 64<<10)
		n, err := r.c.Read(tmp)
		r.buf = append(r.buf, tmp[:n]...)
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

func (r *rawClient) read() []byte {
	r.t.Helper()
	p, err := r.next(20 * time.Second) // long only when the machine is loaded: a broken broker fails either way
	if err != nil {
		r.t.Fatalf("read packet: %v", err)
	}
	return p
}

// expectPacket reads one packet and compares it with want (hex).
func (r *rawClient) expectPacket(want string) {
	r.t.Helper()
	got := r.read()
	if w := unhex(r.t, want); string(got) != string(w) {
		r.t.Fatalf("got packet % x, want % x", got, w)
	}
}

// expectClosed waits for the broker to close the connection, failing if a
// packet arrives first.
func (r *rawClient) expectClosed(within time.Duration) {
	r.t.Helper()
	p, err := r.next(within)
	if err == nil {
		r.t.Fatalf("got packet % x, want the connection closed", p)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatalf("connection still open after %v", within)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		r.t.Fatalf("got %v, want EOF", err)
	}
}

// expectSilence checks that no packet arrives within d.
func (r *rawClient) expectSilence(d time.Duration) {
	r.t.Helper()
	p, err := r.next(d)
	if err == nil {
		r.t.Fatalf("got packet % x, want nothing", p)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		r.t.Fatalf("got %v, want a read timeout", err)
	}
	r.c.SetReadDeadline(time.Time{})
}

// connectPacket builds a CONNECT for id with the given clean flag and
// keep-alive, protocol level 4.
func connectPacket(id string, clean bool, keepAlive uint16) []byte {
	return codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4,
		CleanSession: clean, KeepAlive: keepAlive, ClientID: []byte(id)})
}

// connect sends CONNECT and expects CONNACK with code 0 and the given
// session-present flag.
func (r *rawClient) connect(id string, clean bool, present bool) {
	r.t.Helper()
	r.send(connectPacket(id, clean, 0))
	sp := "00"
	if present {
		sp = "01"
	}
	r.expectPacket("20 02 " + sp + " 00")
}

func (r *rawClient) subscribe(id uint16, filter string, qos byte) {
	r.t.Helper()
	r.send(codec.AppendSubscribe(nil, id, []codec.Subscription{{TopicFilter: []byte(filter), QoS: qos}}))
	var s codec.Suback
	p := r.read()
	if _, err := s.Decode(p); err != nil || s.PacketID != id || len(s.ReturnCodes) != 1 || s.ReturnCodes[0] != qos {
		r.t.Fatalf("SUBACK % x (err %v), want id %d code %d", p, err, id, qos)
	}
}

func (r *rawClient) publish(topic string, payload string, qos byte, retain bool, id uint16) {
	r.t.Helper()
	r.send(codec.AppendPublish(nil, &codec.Publish{QoS: qos, Retain: retain, TopicName: []byte(topic),
		PacketID: id, Payload: []byte(payload)}))
}

// readPublish reads one packet and decodes it as a PUBLISH.
func (r *rawClient) readPublish() codec.Publish {
	r.t.Helper()
	p := r.read()
	var pub codec.Publish
	if _, err := pub.Decode(p); err != nil {
		r.t.Fatalf("got % x, want PUBLISH: %v", p, err)
	}
	return pub.Clone()
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
