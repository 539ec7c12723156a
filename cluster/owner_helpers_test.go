package cluster_test

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/cluster"
	"github.com/glassmq/glassmq/codec"
)

// testNode is one node of an in-process cluster: a real nats-server with
// JetStream, routed to its peers, and a real broker engine with a TCP
// listener that claims client IDs through cluster.Owners.
type testNode struct {
	name   string
	node   *cluster.Node
	nc     *nats.Conn
	js     jetstream.JetStream
	eng    *broker.Engine
	router *cluster.Router
	srv    *broker.Server
	owners *cluster.Owners
	ca     *cluster.Admin
	adm    *admin.Server
	http   string // the admin API's host:port
}

func (n *testNode) addr() string { return n.srv.Addr().String() }

// startOwnedCluster starts n nodes (cluster.Start: embedded nats-servers routed
// to each other on loopback, JetStream), each with a broker engine routing
// through cluster.Router and claiming client IDs through cluster.Owners,
// and stops everything when the test ends.
func startOwnedCluster(t testing.TB, n int, mods ...func(*cluster.OwnersConfig)) []*testNode {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = ln.Addr().String()
		ln.Close()
	}
	nodes := make([]*testNode, n)
	for i := range n {
		var peers []string
		for j, a := range addrs {
			if j != i {
				peers = append(peers, a)
			}
		}
		name := fmt.Sprintf("node-%c", 'a'+i)
		nd, err := cluster.Start(cluster.Config{Name: "glassmq-test", NodeName: name, Listen: addrs[i], Peers: peers,
			DataDir: t.TempDir()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes[i] = &testNode{name: name, node: nd, nc: nd.NC(), js: nd.JS()}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range nodes {
		cfg := broker.DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.Loops = 1
		cfg.DataDir = t.TempDir()
		cfg.SysInterval = 0
		cfg.LogInterval = time.Hour
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		nd.eng = broker.NewEngine(cfg)
		r, err := cluster.NewRouter(nd.node, nd.eng)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		nd.router = r
		nd.eng.UseCluster(r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			oc := cluster.OwnersConfig{NC: nd.nc, JS: nd.js, Node: nd.name, Replicas: nd.node.Replicas(),
				Timeout: 10 * time.Second}
			for _, m := range mods {
				m(&oc)
			}
			nd.owners, errs[i] = cluster.StartOwners(oc, nd.eng)
		}()
	}
	wg.Wait()
	for i, nd := range nodes {
		if errs[i] != nil {
			t.Fatalf("%s: %v", nd.name, errs[i])
		}
		t.Cleanup(func() { nd.owners.Close() })
		nd.eng.SetOwners(nd.owners)
		nd.srv = broker.NewServer(nd.eng)
		if err := nd.srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.srv.Shutdown(5 * time.Second) })
		startAdmin(t, nd)
	}
	waitUntil(t, "every node hears every other", func() bool {
		for _, nd := range nodes {
			if nd.ca.LiveNodes() != n {
				return false
			}
		}
		return true
	})
	return nodes
}

// startAdmin starts the node's cluster-wide admin and a real admin API
// server on a loopback port, reading through it.
func startAdmin(t testing.TB, nd *testNode) {
	t.Helper()
	var err error
	var shared atomic.Pointer[admin.Server]
	nd.ca, err = cluster.StartAdmin(cluster.AdminConfig{NC: nd.nc, Name: "glassmq-test", Node: nd.name,
		Address: nd.addr(), Stats: nd.eng.Stats(), Owners: nd.owners, Server: nd.node.Server(),
		HelloInterval: 200 * time.Millisecond, Timeout: 10 * time.Second,
		OnNodes: func(n int) {
			if adm := shared.Load(); adm != nil {
				adm.ShareLimits(n)
			}
		}}, nd.eng)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.ca.Close() })
	acfg := admin.DefaultConfig()
	acfg.Listen = "127.0.0.1:0"
	adm, err := admin.New(acfg, nd.ca, nd.eng.Stats())
	if err != nil {
		t.Fatal(err)
	}
	shared.Store(adm)
	adm.ShareLimits(nd.ca.LiveNodes())
	adm.UseCluster(clusterView{nd.ca})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go adm.Serve(ln)
	t.Cleanup(func() { adm.Shutdown() })
	nd.adm, nd.http = adm, ln.Addr().String()
}

// clusterView adapts cluster.Admin to admin.Cluster, as cmd/glassmq does.
type clusterView struct{ a *cluster.Admin }

func (v clusterView) ClusterCounters() admin.ClusterCounters {
	o, s := v.a.Counters()
	return admin.ClusterCounters{LiveNodes: v.a.LiveNodes(), Claims: o.Claims, RemoteRequests: s.Requests,
		RemoteServed: s.Served, RemoteErrors: s.Errors, Gathers: s.Gathers}
}

func (v clusterView) ClusterStatus() admin.ClusterStatus {
	st := v.a.Status()
	out := admin.ClusterStatus{Name: st.Name, Node: st.Node, Counters: v.ClusterCounters(),
		JetStream: admin.ClusterJetStream{MetaLeader: st.JetStream.MetaLeader, MetaSize: st.JetStream.MetaSize,
			Bucket: st.JetStream.Bucket, BucketLeader: st.JetStream.BucketLeader}}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, admin.ClusterNode{Name: n.Name, Address: n.Address, Alive: n.Alive, Connections: n.Connections})
	}
	for _, r := range st.Routes {
		out.Routes = append(out.Routes, admin.ClusterRoute{Remote: r.Remote, Address: r.Address})
	}
	for _, r := range st.JetStream.BucketReplicas {
		out.JetStream.BucketReplicas = append(out.JetStream.BucketReplicas, admin.ClusterReplica{Name: r.Name, Current: r.Current})
	}
	return out
}

// raw is an MQTT client speaking hand-made packets; a goroutine reads its
// frames into frames until the connection ends, then closes gone.
type raw struct {
	t      testing.TB
	c      net.Conn
	frames chan []byte
	gone   chan struct{}
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := &raw{t: t, c: c, frames: make(chan []byte, 1024), gone: make(chan struct{})}
	t.Cleanup(func() { c.Close() })
	go r.read()
	return r
}

func (r *raw) read() {
	defer close(r.gone)
	var buf []byte
	tmp := make([]byte, 64<<10)
	for {
		for {
			n, err := codec.Frame(buf, 1<<20)
			if err != nil || n == 0 {
				break
			}
			select {
			case r.frames <- append([]byte(nil), buf[:n]...):
			default: // nobody reads: drop
			}
			buf = buf[n:]
		}
		n, err := r.c.Read(tmp)
		if n > 0 {
			buf = append(buf, tmp[:n]...)
		}
		if err != nil {
			return // io.EOF or a reset: the broker closed it
		}
	}
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame, failing the test after a generous wait.
func (r *raw) next() []byte {
	r.t.Helper()
	select {
	case f := <-r.frames:
		return f
	case <-time.After(20 * time.Second):
		r.t.Fatal("no packet within 20s")
		return nil
	}
}

// expectType returns the next frame, which must be of type want.
func (r *raw) expectType(want codec.Type) []byte {
	r.t.Helper()
	f := r.next()
	if got := codec.PacketType(f); got != want {
		r.t.Fatalf("got %v % x, want %v", got, f, want)
	}
	return f
}

// closed reports whether the broker closed the connection.
func (r *raw) closed() bool {
	select {
	case <-r.gone:
		return true
	default:
		return false
	}
}

func (r *raw) waitClosed() {
	r.t.Helper()
	select {
	case <-r.gone:
	case <-time.After(20 * time.Second):
		r.t.Fatal("connection still open after 20s")
	}
}

func connectPacket(id string, level byte, clean bool) []byte {
	p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: level, CleanSession: clean, KeepAlive: 60,
		ClientID: []byte(id)}
	if level == codec.ProtocolLevel5 && !clean {
		p.Props.SessionExpiry = 3600
		p.Props.Set(codec.PropSessionExpiry)
	}
	return codec.AppendConnect(nil, p)
}

// connect sends CONNECT and returns the CONNACK's session-present flag and
// return code.
func (r *raw) connect(id string, level byte, clean bool) (present bool, code byte) {
	r.t.Helper()
	r.write(connectPacket(id, level, clean))
	f := r.expectType(codec.TypeConnack)
	return f[2]&1 != 0, f[3]
}

func (r *raw) subscribe(filter string, qos byte) {
	r.t.Helper()
	r.write(codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte(filter), QoS: qos}}))
	r.expectType(codec.TypeSuback)
}

// waitUntil polls cond until it holds, failing after a generous deadline.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
