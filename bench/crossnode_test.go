package bench

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
)

// crossConfig is a crossnode run small and short enough for a test: a few
// pairs, a bounded count, and a long drain so a loaded machine loses nothing.
func crossConfig(target string, qos byte) Config {
	c := DefaultConfig()
	c.Target, c.QoS = target, qos
	c.Pairs = 4
	c.Count = 2000
	c.Duration = 500 * time.Millisecond
	c.Drain = 30 * time.Second
	c.Window = 16
	return c
}

// startCluster starts t for one test and stops it at the test's end.
func startCluster(t *testing.T, ct ClusterTarget) *cluster {
	t.Helper()
	base := DefaultConfig()
	cl, err := ct.start(t.TempDir(), "", &base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.stop)
	return cl
}

// checkCrossNode runs crossnode at each QoS on cl and checks that every
// message crossed exactly once: QoS 0 on loopback with a bounded backlog
// loses nothing either, so all three are held to it.
func checkCrossNode(t *testing.T, cl *cluster, name string, qoss ...byte) {
	t.Helper()
	for _, q := range qoss {
		r, err := RunCrossNode(crossConfig(name, q), cl.addrs())
		if err != nil {
			t.Fatalf("%s qos%d: %v", name, q, err)
		}
		if err := cl.alive(); err != nil {
			t.Fatalf("%s qos%d: %v", name, q, err)
		}
		if len(r.Errors) > 0 || r.Expected == 0 || r.Delivered != r.Expected || r.Lost != 0 || r.Duplicates != 0 {
			for i, p := range cl.nodes {
				t.Logf("node %d log: %s", i, p.tail())
			}
			t.Fatalf("%s qos%d: expected %d, delivered %d, lost %d, duplicates %d, errors %q; want all delivered once",
				name, q, r.Expected, r.Delivered, r.Lost, r.Duplicates, r.Errors)
		}
		if r.Scenario != "crossnode" || r.Nodes != len(cl.nodes) || r.Publishers != 4 || r.Subscribers != 4 || r.Rate <= 0 || r.P50 <= 0 {
			t.Fatalf("%s qos%d: result %+v: want crossnode over %d nodes, 4 pairs, a rate and latencies", name, q, r, len(cl.nodes))
		}
		t.Logf("%s qos%d: %d delivered, %s msg/s, p50 %.0fµs p99 %.0fµs", name, q, r.Delivered, si(r.Rate), r.P50, r.P99)
	}
}

func TestCrossNodeMosquittoBridge(t *testing.T) {
	longtest.Skip(t, "starts three mosquitto processes")
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		t.Skip("mosquitto not installed (apt-get install mosquitto)")
	}
	cl := startCluster(t, MosquittoBridgeTarget(bin, 3, Limits{Inflight: 32, Queued: 100_000}))
	checkCrossNode(t, cl, "mosquitto-bridge", 0, 1, 2)
}

func TestCrossNodeNATSMQTT(t *testing.T) {
	longtest.Skip(t, "builds nats-server and starts a three-node JetStream cluster")
	bin := build(t, "github.com/nats-io/nats-server/v2")
	cl := startCluster(t, NATSMQTTTarget(bin, 3, 3, false))
	checkCrossNode(t, cl, "nats-mqtt", 0, 1)
}

func TestCrossNodeGlassmqSingle(t *testing.T) {
	longtest.Skip(t, "starts the broker binary")
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq")
	cl := startCluster(t, SingleNode(GlassmqTarget(bin, false, Limits{Inflight: 32, Queued: 100_000})))
	checkCrossNode(t, cl, "glassmq", 1)
	c := crossConfig("glassmq", 1)
	c.Rate, c.Count = 2000, 400
	r, err := RunCrossNodeLatency(c, cl.addrs())
	if err != nil {
		t.Fatal(err)
	}
	if r.Scenario != "crossnode-latency" || r.Publishers != 1 || r.Sent != 400 || r.Delivered != 400 || r.Lost != 0 || len(r.Errors) > 0 || r.P50 <= 0 {
		t.Fatalf("crossnode-latency: %+v; want 400 of 400 delivered by one pair, with latencies", r)
	}
}

func TestCrossNodeGlassmqCluster(t *testing.T) {
	longtest.Skip(t, "starts three broker processes")
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq")
	if !HasClusterFlags(bin) {
		t.Skip("this glassmq has no -cluster-listen/-cluster-peers yet: the glassmq-cluster target waits for the cluster")
	}
	cl := startCluster(t, GlassmqClusterTarget(bin, 3, false, Limits{Inflight: 32, Queued: 100_000}))
	checkCrossNode(t, cl, "glassmq-cluster", 0, 1, 2)
}

func TestClusterConfigs(t *testing.T) {
	ports := []NodePorts{{MQTT: 1881, Route: 7221, Client: 4221}, {MQTT: 1882, Route: 7222, Client: 4222}, {MQTT: 1883, Route: 7223, Client: 4223}}
	l := Limits{Inflight: 32, Queued: 1000}
	hub := mosquittoBridgeConf(0, ports, l)
	if strings.Contains(hub, "connection ") || !strings.Contains(hub, "listener 1881 127.0.0.1") {
		t.Errorf("hub configuration:\n%s\nwant listener 1881 and no bridge", hub)
	}
	leaf := mosquittoBridgeConf(2, ports, l)
	for _, want := range []string{"listener 1883 127.0.0.1", "address 127.0.0.1:1881", "topic # both 1", "max_inflight_messages 32"} {
		if !strings.Contains(leaf, want) {
			t.Errorf("node 2 configuration:\n%s\nwant %q", leaf, want)
		}
	}
	n := natsConf(1, ports, 3, "/tmp/x")
	for _, want := range []string{"server_name: bench-n1", "listen: 127.0.0.1:4222", "listen: 127.0.0.1:1882", "stream_replicas: 3",
		"listen: 127.0.0.1:7222", "nats-route://127.0.0.1:7221, nats-route://127.0.0.1:7223", `store_dir: "/tmp/x/jetstream"`} {
		if !strings.Contains(n, want) {
			t.Errorf("nats node 1 configuration:\n%s\nwant %q", n, want)
		}
	}
	if strings.Contains(natsConf(0, ports[:1], 1, "/tmp/x"), "cluster {") {
		t.Error("a one-node nats configuration has a cluster block")
	}
	g := GlassmqClusterTarget("glassmq", 3, true, l)
	args, env, err := g.Args(2, ports, "/tmp/x")
	got := strings.Join(args, " ")
	if err != nil || !strings.Contains(got, "-node-name n2 -cluster-listen 127.0.0.1:7223 -cluster-peers 127.0.0.1:7221,127.0.0.1:7222") ||
		!strings.Contains(got, "-listen 127.0.0.1:1883") || len(env) != 1 {
		t.Errorf("glassmq node 2: %q %q %v; want its ports, the other two as peers, GOMAXPROCS=1", got, env, err)
	}
	for i, want := range []int{1, 2, 1, 2, 1} { // B, C, B ...
		if got := subNode(i, 3); got != want {
			t.Errorf("subNode(%d, 3) = %d, want %d", i, got, want)
		}
	}
	if got := subNode(5, 1); got != 0 {
		t.Errorf("subNode(5, 1) = %d, want 0", got)
	}
}

func TestWriteClusterSummary(t *testing.T) {
	var rs []Result
	for rep, rate := range []float64{100, 300, 200} {
		rs = append(rs, Result{Mode: "pinned", Target: "glassmq", Scenario: "crossnode", QoS: 1, Payload: 16, Rep: rep + 1, Nodes: 1,
			Rate: rate, Delivered: 10, Expected: 10, P50: 10, P99: 20},
			Result{Mode: "pinned", Target: "nats-mqtt", Scenario: "crossnode", QoS: 1, Payload: 16, Rep: rep + 1, Nodes: 3,
				Rate: rate / 10, Delivered: 9, Expected: 10, Lost: 1, P50: 100, P99: 200})
	}
	rs = append(rs, Result{Mode: "pinned", Target: "glassmq", Scenario: "crossnode-latency", QoS: 1, Payload: 16, Nodes: 1, P50: 50, P99: 90, P999: 95, Max: 99})
	rs = append(rs, Result{Mode: "pinned", Target: "nats-mqtt", Scenario: "connections", Nodes: 3, Connections: 1000, RSSPerConnB: 35 * 1024})
	var b bytes.Buffer
	WriteClusterSummary(&b, rs, []string{"glassmq", "nats-mqtt", "mosquitto"}, "glassmq")
	out := b.String()
	for _, want := range []string{
		"| 1 | 16 B | glassmq | 1 | 200 (100–300) | 1× |",
		"| 1 | 16 B | nats-mqtt | 3 | 20 (10–30) | 0.1× | 100.0 (100.0–100.0) | 200.0 (200.0–200.0) | 3 (10%) | 0 |",
		"| nats-mqtt | 3 | 1000 |", "35.0 KiB",
		"| 1 | glassmq | 1 | 50.0 | 90.0 | 95.0 | 99.0 | 0 | 0 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary:\n%s\nwant a line with %q", out, want)
		}
	}
	if strings.Contains(out, "mosquitto") {
		t.Errorf("summary:\n%s\nhas a row for mosquitto, which did not run", out)
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ps, err := freePorts(40)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ps {
		if p <= 0 || seen[p] {
			t.Fatalf("freePorts(40) = %v: port %d repeated or invalid", ps, p)
		}
		seen[p] = true
	}
}
