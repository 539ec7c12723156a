package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/cluster"
)

// The failure harness runs glassmq nodes as real processes that a test can
// kill (SIGKILL), freeze (SIGSTOP, SIGCONT), stop (SIGTERM) and restart on
// the same data directory and ports, and paho clients that know every
// node's address. A ledger accounts for every QoS 1/2 message: which were
// acknowledged to their publisher, which each subscriber received and how
// often.

// fnode is one glassmq process of a failure-test cluster; it keeps its
// name, ports and data directory across restarts.
type fnode struct {
	name, mqtt, admin, route, dir string
	args                          []string
	log                           *output // every run's standard error, in turn

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current run has exited
	runs   int
}

// fcluster is a cluster of fnodes on loopback.
type fcluster struct {
	name  string
	nodes []*fnode
}

// startFailCluster starts n glassmq nodes with ownership lease lease and
// -fsync always, and waits until every node's admin API lists them all as
// alive. The processes are killed when the test ends. Ports are picked
// free, but another process may take one before a node binds it: then the
// cluster starts again on new ports, up to three times.
func startFailCluster(t *testing.T, n int, lease time.Duration) *fcluster {
	t.Helper()
	for attempt := 1; ; attempt++ {
		c := tryFailCluster(t, n, lease)
		var taken *fnode
		for _, nd := range c.nodes {
			if !nd.waitMQTTOrExit(30 * time.Second) {
				taken = nd
				break
			}
		}
		if taken == nil {
			for _, nd := range c.nodes {
				c.waitJoined(t, nd)
			}
			return c
		}
		for _, nd := range c.nodes {
			nd.kill(t)
		}
		if attempt == 3 || !strings.Contains(taken.log.String(), "address already in use") {
			t.Fatalf("%s did not start:\n%s", taken.name, taken.log)
		}
		t.Logf("%s lost a port to another process; starting the cluster again", taken.name)
	}
}

// tryFailCluster starts the processes of a cluster on free ports.
func tryFailCluster(t *testing.T, n int, lease time.Duration) *fcluster {
	t.Helper()
	c := &fcluster{name: "fail"}
	addrs := freeAddrs(t, 3*n)
	routes := addrs[2*n:]
	for i := range n {
		var peers []string
		for j, r := range routes {
			if j != i {
				peers = append(peers, r)
			}
		}
		nd := &fnode{name: fmt.Sprintf("f%c", 'a'+i), mqtt: addrs[i], admin: addrs[n+i], route: routes[i],
			dir: t.TempDir(), log: &output{}}
		nd.args = []string{"-listen", nd.mqtt, "-admin-listen", nd.admin, "-data-dir", nd.dir,
			"-sys-interval", "0", "-loops", "2", "-fsync", "always", "-cluster-name", c.name, "-node-name", nd.name,
			"-cluster-listen", nd.route, "-cluster-peers", strings.Join(peers, ","), "-cluster-lease", lease.String()}
		c.nodes = append(c.nodes, nd)
		t.Cleanup(func() {
			nd.signal(syscall.SIGCONT)
			nd.signal(syscall.SIGKILL)
			nd.wait(time.Minute)
			if t.Failed() || os.Getenv("CLUSTER_LOGS") != "" {
				t.Logf("%s log:\n%s", nd.name, nd.log)
			}
		})
	}
	for _, nd := range c.nodes {
		nd.start(t)
	}
	return c
}

// waitMQTTOrExit waits up to d until nd accepts MQTT connections; false
// if its process exited or d passed first.
func (nd *fnode) waitMQTTOrExit(d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		if strings.Contains(nd.log.String(), "address already in use") {
			return false // whoever answers on the port is not this node
		}
		if c, err := net.Dial("tcp", nd.mqtt); err == nil {
			c.Close()
			if !strings.Contains(nd.log.String(), "address already in use") {
				return true
			}
		}
		if nd.wait(50 * time.Millisecond) {
			return false
		}
	}
	return false
}

// start runs the node's process (again).
func (nd *fnode) start(t *testing.T) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	nd.mu.Lock()
	defer nd.mu.Unlock()
	nd.runs++
	fmt.Fprintf(nd.log, "--- run %d of %s\n", nd.runs, nd.name)
	cmd := exec.Command(bin, nd.args...)
	cmd.Stderr, cmd.Stdout = nd.log, nd.log
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	nd.cmd, nd.exited = cmd, exited
}

// signal sends sig to the node's process, if it runs.
func (nd *fnode) signal(sig syscall.Signal) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd != nil {
		nd.cmd.Process.Signal(sig)
	}
}

// wait waits up to d for the current run to exit and reports whether it did.
func (nd *fnode) wait(d time.Duration) bool {
	nd.mu.Lock()
	exited := nd.exited
	nd.mu.Unlock()
	if exited == nil {
		return true
	}
	select {
	case <-exited:
		return true
	case <-time.After(d):
		return false
	}
}

// kill kills the node with SIGKILL and waits until it is gone.
func (nd *fnode) kill(t *testing.T) {
	t.Helper()
	nd.signal(syscall.SIGCONT) // a frozen process dies of SIGKILL too; resume it so that it exits at once
	nd.signal(syscall.SIGKILL)
	if !nd.wait(time.Minute) {
		t.Fatalf("%s did not die on SIGKILL", nd.name)
	}
}

// stop stops the node gracefully (SIGTERM) and waits for it to exit; a
// node still running after two minutes fails the test.
func (nd *fnode) stop(t *testing.T) {
	t.Helper()
	nd.signal(syscall.SIGTERM)
	if !nd.wait(2 * time.Minute) {
		t.Fatalf("%s did not exit on SIGTERM", nd.name)
	}
}

// freeze stops the node's process with SIGSTOP; thaw resumes it.
func (nd *fnode) freeze() { nd.signal(syscall.SIGSTOP) }
func (nd *fnode) thaw()   { nd.signal(syscall.SIGCONT) }

// nodeView is the part of /api/v1/cluster the harness reads.
type nodeView struct {
	Node  string `json:"node"`
	Nodes []struct {
		Name        string `json:"name"`
		Alive       bool   `json:"alive"`
		Connections int    `json:"connections"`
	} `json:"nodes"`
	Counters struct {
		LiveNodes int    `json:"live_nodes"`
		Takeovers uint64 `json:"takeovers"`
		Fenced    uint64 `json:"fenced"`
		// replicated wills
		WillsWritten   uint64 `json:"wills_written"`
		WillsPublished uint64 `json:"wills_published"`
	} `json:"counters"`
}

// view reads the node's /api/v1/cluster.
func (nd *fnode) view() (nodeView, error) {
	var v nodeView
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + nd.admin + "/api/v1/cluster")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("%s: /api/v1/cluster: %s", nd.name, resp.Status)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// connections is how many MQTT connections nd itself holds, as its own
// admin API reports; -1 when it does not answer.
func (nd *fnode) connections() int {
	v, err := nd.view()
	if err != nil {
		return -1
	}
	for _, n := range v.Nodes {
		if n.Name == nd.name {
			return n.Connections
		}
	}
	return -1
}

// waitJoined waits until nd accepts MQTT connections and its admin API
// lists every node of the cluster as alive: it has (re)joined.
func (c *fcluster) waitJoined(t *testing.T, nd *fnode) {
	t.Helper()
	nd.waitMQTT(t)
	waitLong(t, nd.name+" to see all "+fmt.Sprint(len(c.nodes))+" nodes alive", 3*time.Minute, func() bool {
		v, err := nd.view()
		if err != nil || v.Counters.LiveNodes != len(c.nodes) {
			return false
		}
		for _, n := range v.Nodes {
			if !n.Alive {
				return false
			}
		}
		return true
	})
}

// waitMQTT waits until nd accepts MQTT connections.
func (nd *fnode) waitMQTT(t *testing.T) {
	t.Helper()
	(&node{name: nd.name, mqtt: nd.mqtt, log: nd.log}).waitReady(t)
}

// urls returns the nodes' MQTT addresses, first's first.
func (c *fcluster) urls(first *fnode) []string {
	out := []string{"tcp://" + first.mqtt}
	for _, nd := range c.nodes {
		if nd != first {
			out = append(out, "tcp://"+nd.mqtt)
		}
	}
	return out
}

// waitLong polls cond every 50 ms until it holds, failing the test after
// d: deadlines are generous, since the machine may be loaded.
func waitLong(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// observer is a nats-server of the test's own, without JetStream, routed
// into the cluster, so that the test can read the ownership bucket as
// every node sees it.
type observer struct {
	ns *server.Server
	nc *nats.Conn
	kv jetstream.KeyValue
}

// observe routes an observer into c and opens the ownership bucket.
func observe(t *testing.T, c *fcluster) *observer {
	t.Helper()
	var routes []*url.URL
	for _, nd := range c.nodes {
		routes = append(routes, &url.URL{Scheme: "nats", Host: nd.route})
	}
	ns, err := server.NewServer(&server.Options{ServerName: "observer", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		NoSigs: true, NoLog: true, Cluster: server.ClusterOpts{Name: c.name, Host: "127.0.0.1", Port: server.RANDOM_PORT},
		Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(30 * time.Second) {
		t.Fatal("observer nats-server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	o := &observer{ns: ns, nc: nc}
	waitLong(t, "the observer to open the ownership bucket", 2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		o.kv, err = js.KeyValue(ctx, "glassmq_owners")
		return err == nil
	})
	return o
}

// claim is one entry of a client ID's ownership history.
type claim struct {
	node  string
	epoch uint64
}

// history returns the ownership claims of clientID kept in the bucket,
// oldest first.
func (o *observer) history(clientID string) ([]claim, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	es, err := o.kv.History(ctx, cluster.OwnerKey(clientID))
	if err != nil {
		return nil, err
	}
	var out []claim
	for _, e := range es {
		if e.Operation() == jetstream.KeyValuePut {
			out = append(out, claim{node: string(e.Value()), epoch: e.Revision()})
		}
	}
	return out, nil
}

// pahoOptions returns options for a client with clientID that knows every
// node, first's first, reconnects by itself within a second or so, and
// keeps its session (CleanSession false).
func (c *fcluster) pahoOptions(first *fnode, clientID string) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().SetClientID(clientID).SetCleanSession(false).SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(250 * time.Millisecond).SetMaxReconnectInterval(time.Second).
		SetKeepAlive(2 * time.Second).SetPingTimeout(2 * time.Second).SetConnectTimeout(5 * time.Second).
		SetWriteTimeout(5 * time.Second).SetOrderMatters(false)
	for _, u := range c.urls(first) {
		o.AddBroker(u)
	}
	return o
}

// leadOn makes nd the JetStream leader of every stream the cluster keeps
// (ownership and lease buckets, session records and queues, retained
// messages), so that freezing or killing nd leaves each of them to elect a
// new leader at once, the worst case for the survivors. It asks each
// stream's leader to step down in nd's favour until the stream names nd;
// a stream that does not exist yet is skipped.
func (o *observer) leadOn(t *testing.T, nd *fnode) {
	t.Helper()
	js, err := jetstream.New(o.nc)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": nd.name}})
	for _, name := range []string{"KV_glassmq_owners_leases", "KV_glassmq_owners", "KV_glassmq_sessions", "GLASSMQ_QUEUE", "GLASSMQ_RETAINED"} {
		var leader string
		waitLong(t, nd.name+" to lead "+name, 2*time.Minute, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			s, err := js.Stream(ctx, name)
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				leader = "(none)"
				return true
			}
			if err != nil {
				return false
			}
			info, err := s.Info(ctx)
			if err != nil || info.Cluster == nil {
				return false
			}
			if leader = info.Cluster.Leader; leader == nd.name {
				return true
			}
			o.nc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+name, req)
			time.Sleep(500 * time.Millisecond)
			return false
		})
		t.Logf("%s leads %s", leader, name)
	}
}
