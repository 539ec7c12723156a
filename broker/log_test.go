package broker

import (
	"bufio"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// logRecords decodes the JSON lines written so far.
func logRecords(t *testing.T, out *procOutput) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestClientErrorLogFields runs a real broker whose client-error log writes
// JSON, and checks that a malformed packet from a connected client and one
// from a client that never sent CONNECT each give a Warn record naming the
// client (when known), the remote address, the packet type and the reason.
func TestClientErrorLogFields(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.Loops, cfg.DataDir, cfg.SysInterval, cfg.Persistence = "127.0.0.1:0", 2, t.TempDir(), 0, "off"
	cfg.LogInterval = time.Hour // one record per packet type: exactly the two below
	out := &procOutput{}
	e := NewEngine(cfg)
	e.log.logger = slog.New(slog.NewJSONHandler(out, nil))
	s := NewServer(e)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(5 * time.Second) })

	c := dialRaw(t, s)
	c.connect("log-fields", true, false)
	c.sendHex("80 06 0001 0001 61 00") // SUBSCRIBE with flags 0000, want 0010 [MQTT-3.8.1-1]
	c.expectClosed(2 * time.Second)
	anon := dialRaw(t, s)
	anon.sendHex("30 03 0001 61")      // PUBLISH before CONNECT [MQTT-3.1.0-1]
	anon.expectClosed(2 * time.Second) // the record is written before the close

	recs := logRecords(t, out)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(recs), out)
	}
	for i, want := range []struct {
		client, remote, packet string
	}{
		{"log-fields", c.c.LocalAddr().String(), "SUBSCRIBE"},
		{"", anon.c.LocalAddr().String(), "CONNECT"},
	} {
		r := recs[i]
		if r["level"] != "WARN" || r["remote"] != want.remote {
			t.Errorf("record %d: level %v remote %v, want WARN %s: %v", i, r["level"], r["remote"], want.remote, r)
		}
		if got, _ := r["client"].(string); got != want.client {
			t.Errorf("record %d: client %q, want %q: %v", i, got, want.client, r)
		}
		if reason, _ := r["reason"].(string); reason == "" {
			t.Errorf("record %d: no reason: %v", i, r)
		}
		if i == 0 && (r["packet"] != want.packet || !strings.Contains(r["reason"].(string), "MQTT-3.8.1-1")) {
			t.Errorf("record %d: packet %v reason %v, want %s and the rule", i, r["packet"], r["reason"], want.packet)
		}
	}
}

// TestClientErrorRateLimit: within one interval only the first error of each
// packet type is written; the next record of that type, after the interval,
// says how many were skipped.
func TestClientErrorRateLimit(t *testing.T) {
	out := &procOutput{}
	now := time.Unix(1700000000, 0)
	l := &throttledLog{logger: slog.New(slog.NewJSONHandler(out, nil)), interval: time.Second,
		now: func() time.Time { return now }}
	bad := errors.New("codec: bad")
	for range 5 {
		l.clientError("10.0.0.1:1000", codec.TypePublish, bad)
		now = now.Add(100 * time.Millisecond)
	}
	l.clientErrorFor("c1", "10.0.0.2:1000", codec.TypeSubscribe, bad) // another kind: not limited by PUBLISH's
	if recs := logRecords(t, out); len(recs) != 2 {
		t.Fatalf("%d records after 5 PUBLISH and 1 SUBSCRIBE errors in 0.5s, want 2:\n%s", len(recs), out)
	}
	now = now.Add(time.Second)
	l.clientError("10.0.0.1:1000", codec.TypePublish, bad)
	recs := logRecords(t, out)
	if len(recs) != 3 {
		t.Fatalf("%d records after the interval, want 3:\n%s", len(recs), out)
	}
	if r := recs[2]; r["packet"] != "PUBLISH" || r["skipped"] != 4.0 {
		t.Errorf("record after the interval: packet %v skipped %v, want PUBLISH 4: %v", r["packet"], r["skipped"], r)
	}
	if _, ok := recs[0]["skipped"]; ok {
		t.Errorf("first record has a skipped count: %v", recs[0])
	}
}

// TestClientErrorLevelOff: with Warn disabled nothing is written and
// nothing is counted as skipped.
func TestClientErrorLevelOff(t *testing.T) {
	out := &procOutput{}
	l := &throttledLog{logger: slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelError})),
		interval: time.Second, now: time.Now}
	l.clientError("10.0.0.1:1000", codec.TypePublish, errors.New("codec: bad"))
	if out.String() != "" {
		t.Errorf("wrote %q at level error, want nothing", out)
	}
}
