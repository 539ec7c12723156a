package main

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// syncBuffer is the stderr that run writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// records decodes every JSON line written so far; a line that is not a
// JSON object fails the test.
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("stderr line %q is not a JSON object: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// waitRecord waits up to 10 s for a record with message msg.
func (s *syncBuffer) waitRecord(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, r := range s.records(t) {
			if r["msg"] == msg {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q record in 10s; stderr:\n%s", msg, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJSONLogRecords runs the command with -log-format json, breaks the
// protocol from a real TCP client and stops it with SIGINT: every stderr line
// is a JSON record, the start record gives the addresses, the client error
// names client, remote, packet and reason, and -log-level debug lets all
// of them through.
func TestJSONLogRecords(t *testing.T) {
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-data-dir", t.TempDir(),
			"-persistence", "off", "-sys-interval", "0", "-log-format", "json", "-log-level", "debug"}, stderr)
	}()
	start := stderr.waitRecord(t, "glassmq started")
	addr, _ := start["mqtt"].(string)
	if start["level"] != "INFO" || addr == "" || start["admin"] == nil {
		t.Fatalf("start record %v, want level INFO with mqtt and admin addresses", start)
	}

	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4,
		CleanSession: true, ClientID: []byte("json-log")}))
	c.Write([]byte{0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}) // SUBSCRIBE with flags 0000 [MQTT-3.8.1-1]
	closed := stderr.waitRecord(t, "client connection closed")
	if closed["level"] != "WARN" || closed["client"] != "json-log" || closed["remote"] != c.LocalAddr().String() ||
		closed["packet"] != "SUBSCRIBE" || !strings.Contains(closed["reason"].(string), "MQTT-3.8.1-1") {
		t.Errorf("client error record %v, want WARN, client json-log, remote %s, packet SUBSCRIBE and a reason citing the rule",
			closed, c.LocalAddr())
	}

	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after SIGINT, want 0; stderr:\n%s", code, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("run did not return after SIGINT; stderr:\n%s", stderr)
	}
	if r := stderr.waitRecord(t, "shutting down"); r["signal"] != "interrupt" {
		t.Errorf("shutdown record %v, want signal interrupt", r)
	}
}

// TestLogLevelFilters: newLogger's level drops less severe records.
func TestLogLevelFilters(t *testing.T) {
	out := &syncBuffer{}
	l, err := newLogger(out, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("dropped")
	l.Warn("kept", "client", "c1")
	recs := out.records(t)
	if len(recs) != 1 || recs[0]["msg"] != "kept" || recs[0]["client"] != "c1" {
		t.Errorf("records %v, want only the WARN one with its client field", recs)
	}
	out = &syncBuffer{}
	if l, err = newLogger(out, "debug", "text"); err != nil {
		t.Fatal(err)
	}
	l.Debug("shown", "remote", "10.0.0.1:5")
	if got := out.String(); !strings.Contains(got, `level=DEBUG msg=shown remote=10.0.0.1:5`) {
		t.Errorf("text record %q, want level=DEBUG msg=shown remote=10.0.0.1:5", got)
	}
}
