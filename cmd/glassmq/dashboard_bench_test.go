package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/session/store"
)

// BenchmarkDashboardList times the dashboard's client list requests
// through the real admin port with 100k sessions (restored from a store,
// as after a restart): one page of 50 in ID order, by ID prefix, by user
// name, sorted by traffic and by connect time, and the overview.
func BenchmarkDashboardList(b *testing.B) {
	const sessions = 100000
	dir := b.TempDir()
	db, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for i := 0; i < sessions; i++ {
		id := fmt.Sprintf("GID_fleet@@@device-%06d", i)
		db.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: &session.Record{ClientID: id,
			CreateTime: now, ConnectTime: now - int64(i), DisconnectTime: now, Expiry: 7200,
			Subscriptions: []session.Subscription{{TopicFilter: "fleet/" + id + "/cmd", QoS: 1}}}})
	}
	db.Close()
	if db, err = store.Open(store.Options{Dir: dir}); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	cfg := broker.DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.SysInterval = "127.0.0.1:0", dir, 0
	eng := broker.NewEngine(cfg)
	if err := eng.UseStore(db); err != nil {
		b.Fatal(err)
	}
	acfg := admin.DefaultConfig()
	adm, err := admin.New(acfg, eng, eng.Stats())
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go adm.Serve(ln)
	defer adm.Shutdown()
	base := "http://" + ln.Addr().String()
	for _, q := range []struct{ name, path string }{
		{"id", "/api/v1/clients?limit=50"},
		{"prefix", "/api/v1/clients?limit=50&prefix=GID_fleet@@@device-09"},
		{"username", "/api/v1/clients?limit=50&username=nobody"},
		{"traffic", "/api/v1/clients?limit=50&sort=traffic"},
		{"connect_time", "/api/v1/clients?limit=50&sort=connect_time"},
		{"overview", "/api/v1/overview"},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := http.Get(base + q.path)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", q.path, resp.StatusCode)
				}
			}
		})
	}
}
