//go:build unix

package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
	"github.com/glassmq/glassmq/session"
)

// mqttJSBundle is MQTT.js's browser bundle as `make browser-deps` installs
// it from web/package-lock.json.
const mqttJSBundle = "../web/node_modules/mqtt/dist/mqtt.min.js"

// browserReport is what testdata/browser/index.html POSTs to /result and /done.
type browserReport struct {
	OK       bool `json:"ok"`
	Received []struct {
		Topic   string    `json:"topic"`
		Payload string    `json:"payload"`
		QoS     int       `json:"qos"`
		Props   *struct { // protocol version 5 only
			User          map[string]any `json:"user"`
			ContentType   string         `json:"contentType"`
			ResponseTopic string         `json:"responseTopic"`
			Correlation   string         `json:"correlation"`
			SubID         any            `json:"subId"`
		} `json:"props"`
	} `json:"received"`
	Errors []string `json:"errors"`
}

// browserPost is one POST from the page, with the broker's view of the
// client taken before the test answered it.
type browserPost struct {
	path   string
	report browserReport
	err    error // decoding the body
	info   session.Info
	found  bool
}

// TestBrowserMQTTJS runs the QoS 0/1/2 round trip of TestTransports from
// MQTT.js in Debian's headless Chromium over the WebSocket listener: the
// page subscribes at QoS 2, publishes to itself, reports what came back,
// and disconnects when the test has looked at its session.
func TestBrowserMQTTJS(t *testing.T) { browserRoundTrip(t, 4) }

// TestBrowserMQTTJSV5 is TestBrowserMQTTJS with MQTT.js at protocolVersion
// 5: the subscription has identifier 9, and each message's user property,
// content type, response topic and correlation data come back unchanged
// with that identifier [MQTT5-3.3.2-15], [MQTT5-3.3.2-20], [MQTT5-3.3.4-3].
func TestBrowserMQTTJSV5(t *testing.T) { browserRoundTrip(t, 5) }

// browserRoundTrip runs the page at protocol version (4 or 5).
func browserRoundTrip(t *testing.T, version int) {
	longtest.Skip(t, "drives headless Chromium")
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed; run make browser-deps")
	}
	bundle, err := os.ReadFile(mqttJSBundle)
	if err != nil {
		t.Skipf("MQTT.js not installed (%v); run make browser-deps", err)
	}
	page, err := os.ReadFile("testdata/browser/index.html")
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	id := fmt.Sprintf("browser-%d", version)
	s, ns := startNetBroker(t, makeCerts(t, "unused"), false)

	posts := make(chan browserPost, 4)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.HandleFunc("GET /mqtt.min.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Write(bundle)
	})
	for _, path := range []string{"/result", "/done"} {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			p := browserPost{path: path}
			p.err = json.NewDecoder(r.Body).Decode(&p.report)
			p.found = s.Engine().SessionInfo(id, &p.info) // the page waits for this answer to disconnect
			posts <- p
			w.WriteHeader(http.StatusNoContent)
		})
	}
	web := httptest.NewServer(mux) // on 127.0.0.1
	defer web.Close()

	q := url.Values{"ws": {"ws://" + ns.Addr("ws").String() + "/mqtt"}, "id": {id}, "n": {fmt.Sprint(n)}, "v": {fmt.Sprint(version)}}
	out, exited := startChromium(t, chromium, web.URL+"/?"+q.Encode())

	next := func(want string, timeout time.Duration) browserPost {
		t.Helper()
		select {
		case p := <-posts:
			if p.path != want || p.err != nil {
				t.Fatalf("page posted %s (body error %v), want %s; chromium output:\n%s", p.path, p.err, want, out.tail())
			}
			return p
		case <-exited:
			t.Fatalf("chromium exited before %s; output:\n%s", want, out.tail())
		case <-time.After(timeout):
			t.Fatalf("no %s from the page within %v; chromium output:\n%s", want, timeout, out.tail())
		}
		panic("unreachable")
	}

	res := next("/result", 30*time.Second)
	for _, e := range res.report.Errors {
		t.Errorf("page: %s", e)
	}
	if len(res.report.Received) != 3*n {
		t.Errorf("page received %d messages, want %d", len(res.report.Received), 3*n)
	}
	for k, m := range res.report.Received {
		qos, i := k/n, k%n
		if want := fmt.Sprintf("%d-%d", qos, i); m.Topic != id+"/rt" || m.Payload != want || m.QoS != qos {
			t.Errorf("message %d: got %s %q qos %d, want %s/rt %q qos %d", k, m.Topic, m.Payload, m.QoS, id, want, qos)
		}
		if version == 5 {
			p := m.Props
			if p == nil || fmt.Sprint(p.User) != fmt.Sprintf("map[i:%d]", i) || p.ContentType != "text/plain" ||
				p.ResponseTopic != id+"/rt/r" || p.Correlation != fmt.Sprintf("c-%d-%d", qos, i) || p.SubID != float64(9) {
				t.Errorf("message %d: properties %+v, want user i=%d, text/plain, %s/rt/r, c-%d-%d, subscription identifier 9", k, p, i, id, qos, i)
			}
		}
	}
	if !res.report.OK && !t.Failed() {
		t.Errorf("page reported ok false with no errors")
	}
	if !res.found || !res.info.Connected || res.info.Listener != "ws" || res.info.ProtocolVersion != version || !res.info.CleanSession {
		t.Errorf("while the page was connected: found %v connected %v listener %q protocol %d clean %v; want true true \"ws\" %d true",
			res.found, res.info.Connected, res.info.Listener, res.info.ProtocolVersion, res.info.CleanSession, version)
	}

	done := next("/done", 10*time.Second)
	if errs := done.report.Errors; len(errs) > len(res.report.Errors) { // the page's list only grows
		for _, e := range errs[len(res.report.Errors):] {
			t.Errorf("page, disconnecting: %s", e)
		}
	}
	// The page's DISCONNECT went over the WebSocket: the broker should
	// record it as the client's own, not a network error.
	var info session.Info
	deadline := time.Now().Add(5 * time.Second)
	for s.Engine().SessionInfo(id, &info) && info.Connected && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Engine().SessionInfo(id, &info) && (info.Connected || info.DisconnectReason != session.ReasonClient) {
		t.Errorf("after the page disconnected: connected %v reason %q; want false %q",
			info.Connected, info.DisconnectReason, session.ReasonClient)
	}
	if want := (session.DisconnectCode{By: session.SentByClient, Code: 0}); version == 5 &&
		(!s.Engine().SessionInfo(id, &info) || info.DisconnectCode != want) { // a 5.0 session with an expiry interval outlives its connection
		t.Errorf("after the page disconnected: DISCONNECT %+v, want the client's normal disconnection %+v", info.DisconnectCode, want)
	}
	if t.Failed() {
		t.Logf("chromium output:\n%s", out.tail())
	}
}

// startChromium runs headless Chromium at pageURL in its own process group
// with a fresh profile, and stops the whole group when the test ends.
// exited is closed when the browser process has exited.
func startChromium(t *testing.T, chromium, pageURL string) (out *lockedBuffer, exited <-chan struct{}) {
	t.Helper()
	profile := t.TempDir() // removed after the cleanup below has stopped the browser
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0",
		"--user-data-dir="+profile, pageURL)
	out = new(lockedBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // renderers and zygote share the group
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	ch := make(chan struct{})
	go func() { cmd.Wait(); close(ch) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // lets Chromium stop its children
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Logf("chromium ignored SIGTERM for 5s; killing its process group")
		}
		cancel() // SIGKILLs the group if anything is left
		<-ch
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // children that outlived the browser
	})
	return out, ch
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last 4 KiB written, less Chromium's complaints about
// the D-Bus that a container has not got.
func (b *lockedBuffer) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var keep []string
	for line := range strings.Lines(b.buf.String()) {
		if l := strings.ToLower(line); !strings.Contains(l, "dbus") && !strings.Contains(l, "d-bus") {
			keep = append(keep, line)
		}
	}
	s := strings.Join(keep, "")
	if len(s) > 4<<10 {
		s = s[len(s)-4<<10:]
	}
	return s
}
