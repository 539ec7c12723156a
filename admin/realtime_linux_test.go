package admin

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestRealtimeValidate: -admin-realtime-priority takes 0 (off) to 99.
func TestRealtimeValidate(t *testing.T) {
	for _, p := range []int{-1, 100} {
		c := DefaultConfig()
		c.RealtimePriority = p
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "-admin-realtime-priority "+strconv.Itoa(p)) || !strings.Contains(err.Error(), "1 to 99") {
			t.Errorf("priority %d: Validate() = %v, want a sentence naming -admin-realtime-priority, the value and 1 to 99", p, err)
		}
	}
	for _, p := range []int{0, 1, 99} {
		c := DefaultConfig()
		c.RealtimePriority = p
		if err := c.Validate(); err != nil {
			t.Errorf("priority %d: %v", p, err)
		}
	}
}

// realtimeAllowed reports whether this process may make a thread
// SCHED_FIFO, trying it (by its own system call, not setRealtime's) on a
// thread that then ends.
func realtimeAllowed() bool {
	ok := make(chan bool)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		param := struct{ priority int32 }{1}
		_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, 1 /* SCHED_FIFO */, uintptr(unsafe.Pointer(&param)))
		// Back to normal before answering, so that the thread is not
		// counted by fifoThreads while it exits.
		param.priority = 0
		syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, 0 /* SCHED_OTHER */, uintptr(unsafe.Pointer(&param)))
		ok <- e == 0
	}()
	return <-ok
}

// fifoThreads counts this process's threads scheduled SCHED_FIFO (field 41
// of /proc/self/task/*/stat).
func fifoThreads(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/stat")
		if err != nil {
			continue // the thread ended
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
		if len(f) > 38 && f[38] == strconv.Itoa(schedFIFO) {
			n++
		}
	}
	return n
}

// startRealtime serves a test server with priority 10 on a loopback port.
func startRealtime(t *testing.T) (s *Server, addr string, served chan error) {
	t.Helper()
	s = newTestServer(t, newFakeBroker(seedInfo()), func(c *Config) { c.RealtimePriority = 10 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served = make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	return s, ln.Addr().String(), served
}

// TestRealtimeServe: with -admin-realtime-priority a keep-alive connection
// is answered correctly, request after request, from a SCHED_FIFO thread
// when the process may have one, and as usual (no such thread) when it may
// not.
func TestRealtimeServe(t *testing.T) {
	allowed := realtimeAllowed()
	before := fifoThreads(t)
	s, addr, served := startRealtime(t)
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	q := url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"mqtt-local"}, "ClientId": {seedInfo().ClientID}}
	for i := range 20 {
		resp, err := httpc.Get("http://" + addr + "/?" + q.Encode())
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"OnlineStatus":true`) {
			t.Fatalf("request %d: HTTP %d %s; want 200 and OnlineStatus true", i, resp.StatusCode, body)
		}
	}
	got := fifoThreads(t) - before // the connection is still open, idle
	switch {
	case allowed && got != 1:
		t.Errorf("SCHED_FIFO threads serving one connection: %d, want 1", got)
	case !allowed && got != 0:
		t.Errorf("SCHED_FIFO threads without the privilege: %d, want 0", got)
	}
	httpc.CloseIdleConnections()
	if err := s.Shutdown(); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
}

// TestRealtimeShutdown: Shutdown ends a connection whose thread is blocked
// reading it, and Serve returns nil.
func TestRealtimeShutdown(t *testing.T) {
	s, addr, served := startRealtime(t)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("healthz: %q, %v; want HTTP/1.1 200", buf[:n], err)
	}
	// The connection is idle now: its thread waits in read.
	done := make(chan error, 1)
	go func() { done <- s.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not return within 20s with an idle connection open")
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
	if n, err := c.Read(buf); err == nil {
		t.Errorf("read after Shutdown: %q; want the connection closed", buf[:n])
	}
}

// TestBlockingConnDeadline: a read deadline on a blocking connection ends
// the read with os.ErrDeadlineExceeded, as net.Conn's does.
func TestBlockingConnDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	bc, err := newBlockingConn(c.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	defer bc.closeFD()
	if err := bc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v; want os.ErrDeadlineExceeded", err)
	}
	bc.SetReadDeadline(time.Time{})
	peer.Write([]byte("hi"))
	b := make([]byte, 16)
	if n, err := bc.Read(b); err != nil || string(b[:n]) != "hi" {
		t.Fatalf("read: %q, %v; want hi", b[:n], err)
	}
	bc.Close()
	if _, err := bc.Read(b); err == nil {
		t.Fatal("read after Close: no error")
	}
}

// TestRealtimeOverflow: connections beyond RealtimeConns are answered too,
// on the usual path: with the privilege, exactly RealtimeConns threads are
// real-time while all are open.
func TestRealtimeOverflow(t *testing.T) {
	allowed := realtimeAllowed()
	before := fifoThreads(t)
	s, addr, served := startRealtime(t)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	buf := make([]byte, 4096)
	for i := range RealtimeConns + 2 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
			t.Fatalf("connection %d: %q, %v; want HTTP/1.1 200", i, buf[:n], err)
		}
	}
	want := 0
	if allowed {
		want = RealtimeConns
	}
	if got := fifoThreads(t) - before; got != want {
		t.Errorf("SCHED_FIFO threads with %d connections open: %d, want %d", len(conns), got, want)
	}
	if err := s.Shutdown(); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
}

// TestRealtimeShutdownFirst: a Shutdown before Serve makes Serve return at
// once, with the listener closed.
func TestRealtimeShutdownFirst(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), func(c *Config) { c.RealtimePriority = 10 })
	if err := s.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after Shutdown: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		ln.Close()
		t.Fatal("Serve after Shutdown did not return")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts after Serve returned")
	}
}
