package broker

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/session/store"
)

// TestStoreFailureWithholdsAcks runs a broker with -fsync always on a real
// store whose writes are then made to fail, with the admin server wired to
// the store as cmd/glassmq wires it. A QoS 1 PUBLISH whose message cannot
// be stored gets no PUBACK and its connection is closed (reason
// store_error), so the client will send it again; /healthz answers 503
// meanwhile. Once writes succeed again /healthz answers 200, a new PUBLISH
// is acknowledged, and after a restart every acknowledged message is in the
// store (the failed one too: the store retries it).
func TestStoreFailureWithholdsAcks(t *testing.T) {
	dir := t.TempDir()
	var failWrites atomic.Bool
	db, err := store.Open(store.Options{Dir: dir, Fsync: store.FsyncAlways, Hook: func(op string) error {
		if op == store.OpWrite && failWrites.Load() {
			return errors.New("injected I/O error")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Listen, cfg.Loops, cfg.DataDir, cfg.SysInterval, cfg.LogInterval = "127.0.0.1:0", 2, dir, 0, time.Hour
	cfg.Fsync = "always"
	e := NewEngine(cfg)
	if err := e.UseStore(db); err != nil {
		t.Fatal(err)
	}
	s := NewServer(e)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	adm, err := admin.New(admin.DefaultConfig(), e, e.Stats())
	if err != nil {
		t.Fatal(err)
	}
	adm.WatchStore(db)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go adm.Serve(ln)
	defer adm.Shutdown()
	healthz := func() (int, string) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	pub := dialRaw(t, s)
	pub.connect("pub", false, false)
	pub.publish("r/1", "stored", 1, true, 1)
	pub.expectPacket("40 02 0001")
	if code, body := healthz(); code != 200 {
		t.Fatalf("healthy: /healthz %d %s, want 200", code, body)
	}

	failWrites.Store(true)
	pub.publish("r/2", "not stored yet", 1, true, 2)
	pub.expectClosed(5 * time.Second) // no PUBACK first
	var info session.Info
	if !e.SessionInfo("pub", &info) || info.DisconnectReason != session.ReasonStoreError || !strings.Contains(info.DisconnectDetail, "injected I/O error") {
		t.Fatalf("session after the failure: reason %v detail %q, want store_error with the store's error", info.DisconnectReason, info.DisconnectDetail)
	}
	code, body := healthz()
	var h admin.Health
	if err := json.Unmarshal([]byte(body), &h); code != 503 || err != nil || h.Status != "unavailable" || !strings.Contains(h.Store, "injected I/O error") {
		t.Fatalf("failing store: /healthz %d %s, want 503 with the store's error", code, body)
	}

	failWrites.Store(false)
	waitFor(t, "/healthz 200 after recovery", func() bool { code, _ := healthz(); return code == 200 })
	pub = dialRaw(t, s)
	pub.connect("pub", false, true)
	pub.publish("r/3", "stored after recovery", 1, true, 3)
	pub.expectPacket("40 02 0003")

	if err := s.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, retained, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range retained {
		got = append(got, string(m.Topic)+"="+string(m.Payload))
	}
	sort.Strings(got)
	if want := "[r/1=stored r/2=not stored yet r/3=stored after recovery]"; strings.Join([]string{"[", strings.Join(got, " "), "]"}, "") != want {
		t.Fatalf("stored retained %v, want %s", got, want)
	}
}
