package broker

import (
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// idleClients opens n MQTT clients to addr with raw blocking sockets (no Go
// heap per client, so the broker's heap is what grows), each sending a
// CONNECT with keep-alive off and reading its CONNACK. It returns the
// descriptors; the caller closes them.
func idleClients(t testing.TB, port, n int, clean bool) []int {
	t.Helper()
	fds := make([]int, 0, n)
	sa := &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	pkt := make([]byte, 0, 64)
	ack := make([]byte, 4)
	for i := range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("client %d: socket: %v", i, err)
		}
		fds = append(fds, fd)
		if err := unix.Connect(fd, sa); err != nil {
			t.Fatalf("client %d: connect: %v", i, err)
		}
		id := strconv.AppendInt(append(pkt[:0:0], "idle-"...), int64(i), 10)
		pkt = codec.AppendConnect(pkt[:0], &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4,
			CleanSession: clean, ClientID: id})
		if _, err := unix.Write(fd, pkt); err != nil {
			t.Fatalf("client %d: write CONNECT: %v", i, err)
		}
		if k, err := unix.Read(fd, ack); err != nil || k != 4 || ack[0] != 0x20 || ack[3] != 0 {
			t.Fatalf("client %d: CONNACK % x (%d bytes), err %v; want 20 02 00 00", i, ack[:max(k, 0)], k, err)
		}
	}
	return fds
}

// Heap bounds per idle connection and per offline session, at this commit
// about 957 B and 620 B (see the memory section of docs/BENCHMARKS.md:
// 1,070 B before gnet's peer address was dropped and the transport, Conn
// and ConnMeta shrank; 1,312 B and 876 B before the registry's own table
// and the smaller Session and ConnMeta; 1,638 B and 1,063 B before the
// counters' inline words). The margin is for Go's allocator, not for
// growth: a new per-connection object, or two fields that cross a size
// class, fail here.
const (
	idleConnMax       = 1000
	offlineSessionMax = 800
)

// idleCount returns how many clients a memory test opens:
// GLASSMQ_IDLE_CONNS, default 4000. It skips the test when the open-file
// limit is too low for them and their server sides.
func idleCount(t *testing.T) int {
	t.Helper()
	n := 4000
	if v := os.Getenv("GLASSMQ_IDLE_CONNS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("GLASSMQ_IDLE_CONNS %q: want a positive number", v)
		}
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil && uint64(2*n+512) > lim.Cur {
		t.Skipf("open-file limit %d is too low for %d clients and their server sides", lim.Cur, n)
	}
	return n
}

// heapNow returns the live heap after a full collection.
func heapNow() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

// TestIdleConnectionHeap opens idle clients against a real one-loop broker
// and bounds the Go heap each one holds once connected (clean session,
// keep-alive off, nothing subscribed): the broker's Conn, its session and
// gnet's connection together. GLASSMQ_IDLE_CONNS sets how many (default
// 4000); GLASSMQ_IDLE_HEAPPROFILE names a file for an in-use heap profile
// taken while they are open.
func TestIdleConnectionHeap(t *testing.T) {
	n := idleCount(t)
	profile := os.Getenv("GLASSMQ_IDLE_HEAPPROFILE")
	if profile != "" {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1 // every allocation, for exact bytes per site
		defer func() { runtime.MemProfileRate = old }()
	}
	s := startBroker(t, func(c *Config) { c.Loops = 1; c.MaxConnections = n + 16 })
	portNum := s.Addr().(*net.TCPAddr).Port

	before := heapNow()
	fds := idleClients(t, portNum, n, true)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for s.Engine().Stats().Sessions.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if k := s.Engine().Stats().Sessions.Load(); k != int64(n) {
		t.Fatalf("%d sessions for %d connected clients", k, n)
	}
	after := heapNow()
	if profile != "" {
		w, err := os.Create(profile)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(w, 0); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	live := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	alloc := float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
	objs := float64(int64(after.HeapObjects)-int64(before.HeapObjects)) / float64(n)
	t.Logf("%d idle connections: live heap %.0f B and %.1f objects per connection; %.0f B allocated per connection in all", n, live, objs, alloc)
	if live > idleConnMax {
		t.Fatalf("an idle connection holds %.0f B of heap, want at most %d", live, idleConnMax)
	}
}

// TestOfflineSessionHeap measures the Go heap each offline persistent
// session holds (CleanSession 0, connected once, then the network closed):
// the session, its last connection's description and its two history
// events, with no subscriptions or queued messages, and no store.
// GLASSMQ_IDLE_CONNS sets how many (default 4000).
func TestOfflineSessionHeap(t *testing.T) {
	n := idleCount(t)
	s := startBroker(t, func(c *Config) { c.Loops = 1; c.MaxConnections = n + 16 })
	port := s.Addr().(*net.TCPAddr).Port
	before := heapNow()
	fds := idleClients(t, port, n, false)
	for _, fd := range fds {
		unix.Close(fd)
	}
	deadline := time.Now().Add(10 * time.Second)
	st := s.Engine().Stats()
	for (st.Connections.Load() > 0 || st.Sessions.Load() < int64(n)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if c, k := st.Connections.Load(), st.Sessions.Load(); c != 0 || k != int64(n) {
		t.Fatalf("%d connections and %d sessions after closing, want 0 and %d", c, k, n)
	}
	after := heapNow()
	live := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	t.Logf("%d offline persistent sessions: live heap %.0f B per session", n, live)
	if live > offlineSessionMax {
		t.Fatalf("an offline persistent session holds %.0f B of heap, want at most %d", live, offlineSessionMax)
	}
}

// TestGnetRemoteAddr: the address a gnet connection reports for its client
// (formatted without net.TCPAddr.String's garbage) is the client's own
// ip:port, for IPv4 and, where the host has it, IPv6.
func TestGnetRemoteAddr(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0"} {
		if listen[0] == '[' {
			if ln, err := net.Listen("tcp", listen); err != nil {
				t.Logf("no IPv6 loopback here (%v): IPv4 only", err)
				continue
			} else {
				ln.Close()
			}
		}
		s := startBroker(t, func(c *Config) { c.Listen = listen })
		c := dialRaw(t, s)
		c.connect("addr-"+listen, true, false)
		var info session.Info
		if !s.Engine().SessionInfo("addr-"+listen, &info) {
			t.Fatalf("%s: no session", listen)
		}
		if want := c.c.LocalAddr().String(); info.ClientAddress != want {
			t.Fatalf("%s: ClientAddress %q, want %q", listen, info.ClientAddress, want)
		}
	}
}

// TestGnetPeerAddrFields: the gnet this module pins keeps the peer's
// address where dropPeerAddr looks for it, and a connected client's gnet
// connection holds neither copy once opened, while the broker still knows
// the address. A gnet upgrade that moves the fields fails here instead of
// quietly keeping 80 more bytes per connection.
func TestGnetPeerAddrFields(t *testing.T) {
	s := startBroker(t, nil)
	c := dialRaw(t, s)
	c.connect("peer-addr", true, false)
	sess := s.Engine().reg.Lookup("peer-addr")
	if sess == nil || sess.Owner() == nil {
		t.Fatal("no attached session for the client")
	}
	conn := sess.Owner()
	gt, ok := conn.t.(*gnetTransport)
	if !ok {
		t.Fatalf("transport %T, want *gnetTransport", conn.t)
	}
	if _, _, ok := peerAddrFields(gt.c); !ok {
		t.Fatalf("gnet's %T has no remote unix.Sockaddr and remoteAddr net.Addr fields: revisit gnetaddr.go", gt.c)
	}
	done := make(chan net.Addr, 1)
	conn.ls.loop.Execute(func() { done <- gt.c.RemoteAddr() })
	if ra := <-done; ra != nil {
		t.Fatalf("gnet still holds the peer address %v after Open", ra)
	}
	if want := c.c.LocalAddr().String(); conn.addr != want {
		t.Fatalf("Conn.addr %q, want %q", conn.addr, want)
	}
}
