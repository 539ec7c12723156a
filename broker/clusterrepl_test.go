package broker

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/glassmq/glassmq/session/store"
)

// TestWhenRemoteDurable: with -fsync always, a message another node
// forwarded into a persistent session is handed over at once
// (DeliverRemote does not wait for the disk), and WhenRemoteDurable calls
// back only once the store has made it durable: not while the store's
// writes are held, soon after they go on.
func TestWhenRemoteDurable(t *testing.T) {
	dir := t.TempDir()
	var held atomic.Pointer[chan struct{}]
	db, err := store.Open(store.Options{Dir: dir, Fsync: store.FsyncAlways, Hook: func(op string) error {
		if ch := held.Load(); ch != nil && op == store.OpWrite {
			<-*ch
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := DefaultConfig()
	cfg.Listen, cfg.Loops, cfg.DataDir, cfg.SysInterval, cfg.LogInterval = "127.0.0.1:0", 2, dir, 0, time.Hour
	cfg.Fsync = "always"
	e := NewEngine(cfg)
	if err := e.UseStore(db); err != nil {
		t.Fatal(err)
	}
	e.UseCluster(&recordingCluster{})
	s := NewServer(e)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(5 * time.Second) })
	release := make(chan struct{})
	released := false
	open := func() {
		if !released {
			released = true
			close(release)
		}
	}
	t.Cleanup(open) // before the server's shutdown: a held writer would stall it

	sub := dialRaw(t, s)
	sub.connect("durable-sub", false, false) // persistent: messages for it are stored
	sub.subscribe(1, "r/#", 1)
	synced := make(chan struct{})
	e.WhenRemoteDurable(func() { close(synced) }) // nothing from other nodes yet: at once
	select {
	case <-synced:
	case <-time.After(20 * time.Second):
		t.Fatal("WhenRemoteDurable with nothing delivered did not call back")
	}

	held.Store(&release)
	delivered := make(chan struct{})
	go func() {
		e.DeliverRemote(func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64)) {
			deliver([]byte("r/1"), []byte("from another node"), nil, 1, false, 0)
		})
		close(delivered)
	}()
	select {
	case <-delivered:
	case <-time.After(20 * time.Second):
		t.Fatal("DeliverRemote waited for the store")
	}
	e.foreign.Lock()
	ticket := e.foreignLS.ticket
	e.foreign.Unlock()
	if ticket == 0 {
		t.Fatal("the message for a persistent session was not stored")
	}
	var durableAt atomic.Uint64
	called := make(chan struct{})
	e.WhenRemoteDurable(func() {
		durableAt.Store(db.Durable())
		close(called)
	})
	select {
	case <-called:
		t.Fatal("WhenRemoteDurable called back while the store's writes were held")
	case <-time.After(300 * time.Millisecond):
	}
	open()
	select {
	case <-called:
	case <-time.After(20 * time.Second):
		t.Fatal("WhenRemoteDurable did not call back once the store wrote again")
	}
	if d := durableAt.Load(); d < ticket {
		t.Fatalf("called back with the store durable up to %d, below the delivery's ticket %d", d, ticket)
	}
	if p := sub.readPublish(); string(p.TopicName) != "r/1" {
		t.Fatalf("subscriber got %q, want r/1", p.TopicName)
	}
}
