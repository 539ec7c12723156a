package broker

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// threadsAtNice returns the IDs of this process's threads whose nice value
// is nice.
func threadsAtNice(t *testing.T, nice int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatalf("listing threads: %v", err)
	}
	var tids []int
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if n, err := threadNice(tid); err == nil && n == nice {
			tids = append(tids, tid)
		}
	}
	return tids
}

// TestLoopNiceThreads: with -loop-nice 13 and two loops, exactly two
// threads of the process run at nice 13 once each loop has a client (the
// loops' own, locked to them), the clients are served, and Shutdown puts
// both threads back at 0. 13 is used by no other test, so brokers started
// by parallel tests do not count.
func TestLoopNiceThreads(t *testing.T) {
	const nice = 13
	if n := len(threadsAtNice(t, nice)); n != 0 {
		t.Fatalf("%d threads at nice %d before the broker started; want 0", n, nice)
	}
	cfg := DefaultConfig()
	cfg.Listen, cfg.Loops, cfg.DataDir, cfg.SysInterval = "127.0.0.1:0", 2, t.TempDir(), 0
	cfg.Persistence = "off"
	cfg.LoopNice = nice
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := NewServer(NewEngine(cfg))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = s.Shutdown(5 * time.Second)
		}
	}()

	// gnet hands new connections to the loops in turn, so four clients
	// reach both.
	var clients []*rawClient
	for i := range 4 {
		c := dialRaw(t, s)
		c.connect("nice-"+strconv.Itoa(i), true, false)
		clients = append(clients, c)
	}
	deadline := time.Now().Add(20 * time.Second)
	var tids []int
	for {
		tids = threadsAtNice(t, nice)
		if len(tids) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(tids) != 2 {
		t.Fatalf("threads at nice %d: %v; want one per loop (2)", nice, tids)
	}
	for _, c := range clients {
		c.sendHex("c0 00") // PINGREQ
		c.expectPacket("d0 00")
	}
	if err := s.Shutdown(5 * time.Second); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	stopped = true
	for _, tid := range tids {
		n, err := threadNice(tid)
		if err != nil {
			continue // the thread has exited
		}
		if n != 0 {
			t.Errorf("thread %d at nice %d after Shutdown; want 0", tid, n)
		}
	}
}
