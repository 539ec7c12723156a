package admin

import (
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/session/store"
)

// TestHealthzStore: with a real on-disk store whose syncs are made to
// fail, /healthz answers 503 with a JSON body giving the store's error and
// /metrics counts the failure and shows the store unhealthy; once a write
// and sync succeed again, /healthz answers 200 {"status":"ok"}.
func TestHealthzStore(t *testing.T) {
	var failSync atomic.Bool
	db, err := store.Open(store.Options{Dir: t.TempDir(), Fsync: store.FsyncAlways, Hook: func(op string) error {
		if op == store.OpSync && failSync.Load() {
			return errors.New("injected I/O error")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := newTestServer(t, newFakeBroker(), nil)
	s.WatchStore(db)
	put := func() <-chan error {
		ch := make(chan error, 1)
		t := db.Apply(session.Op{Kind: session.OpPutRetained, Msg: &session.Message{Topic: []byte("a"), Retain: true}})
		db.WhenDurable(t, func(err error) { ch <- err })
		return ch
	}
	healthz := func() (int, Health) {
		resp := serve(t, s, &testReq{method: "GET", path: "/healthz"})
		var h Health
		if err := json.Unmarshal(resp.Body(), &h); err != nil {
			t.Fatalf("/healthz body %q: %v", resp.Body(), err)
		}
		return resp.StatusCode(), h
	}
	metric := func(line string) bool {
		return strings.Contains("\n"+string(serve(t, s, &testReq{method: "GET", path: "/metrics"}).Body()), "\n"+line+"\n")
	}

	if err := <-put(); err != nil {
		t.Fatal(err)
	}
	if code, h := healthz(); code != 200 || h.Status != "ok" || !metric("glassmq_store_healthy 1") {
		t.Fatalf("healthy store: /healthz %d %+v, want 200 ok and glassmq_store_healthy 1", code, h)
	}
	failSync.Store(true)
	if err := <-put(); err == nil {
		t.Fatal("failed sync: WhenDurable got nil")
	}
	code, h := healthz()
	if code != 503 || h.Status != "unavailable" || !strings.Contains(h.Store, "syncing") || !strings.Contains(h.Store, "injected I/O error") {
		t.Fatalf("failing store: /healthz %d %+v, want 503 unavailable with the sync error", code, h)
	}
	if !metric(`glassmq_store_errors_total{op="sync"} 1`) || !metric("glassmq_store_healthy 0") {
		t.Fatalf("failing store: metrics lack the sync error count or health 0:\n%s", serve(t, s, &testReq{method: "GET", path: "/metrics"}).Body())
	}
	failSync.Store(false)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if code, _ := healthz(); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/healthz still 503 after the store recovered")
		}
	}
	if !metric("glassmq_store_healthy 1") {
		t.Fatal("recovered store: glassmq_store_healthy not 1")
	}
}
