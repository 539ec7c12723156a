package cluster_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/glassmq/glassmq/internal/longtest"
)

// buildBinary builds cmd/glassmq once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "glassmq-cluster-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "glassmq")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/glassmq/glassmq/cmd/glassmq").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// freeAddr returns a loopback address whose port nobody listens on,
// picked at random below the kernel's ephemeral range (32768 and up): the
// outgoing connections of tests running beside this one take their source
// ports from that range, and one took a port picked with ":0" before the
// node bound it (a node then failed with "address already in use"). A
// port is handed out once per test binary, so process tests running in
// parallel never pick the same one before their nodes bind it (nodes
// restart on their ports, so a port stays theirs until the binary ends).
func freeAddr(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if portsGiven[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken: try another
		}
		ln.Close()
		portsGiven[port] = true
		return ln.Addr().String()
	}
	t.Fatal("no free loopback port in 20000-31999")
	return ""
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{} // ports freeAddr handed out; guarded by portsMu
)

// output collects a process's standard error while it runs.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// node is one glassmq process of a test cluster.
type node struct {
	name, mqtt, route string
	cmd               *exec.Cmd
	log               *output
}

// startCluster starts n glassmq processes on loopback ports, each routing
// to the others, and waits until every one accepts MQTT connections. Free
// ports are picked by binding and closing, so another process can take
// one first: a cluster that fails with "address already in use" is
// started again on new ports.
func startCluster(t *testing.T, n int) []*node {
	t.Helper()
	for attempt := 1; ; attempt++ {
		nodes := startClusterOnce(t, n)
		err := error(nil)
		for _, nd := range nodes {
			if err = nd.ready(60 * time.Second); err != nil {
				break
			}
		}
		if err == nil {
			return nodes
		}
		inUse := false
		for _, nd := range nodes {
			inUse = inUse || strings.Contains(nd.log.String(), "address already in use")
		}
		if !inUse || attempt == 3 {
			t.Fatal(err)
		}
		for _, nd := range nodes {
			nd.cmd.Process.Kill()
			nd.cmd.Wait()
		}
		t.Logf("attempt %d: a port was taken by another process; starting again on new ports", attempt)
	}
}

// startClusterOnce starts n glassmq processes on fresh loopback ports.
func startClusterOnce(t *testing.T, n int) []*node {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		routes[i] = freeAddr(t)
	}
	nodes := make([]*node, n)
	for i := range nodes {
		var peers []string
		for j, r := range routes {
			if j != i {
				peers = append(peers, r)
			}
		}
		nodes[i] = startNode(t, fmt.Sprintf("node-%c", 'a'+i), routes[i], peers)
	}
	return nodes
}

// startNode starts one glassmq process with route address route, dialling
// peers; it is killed when the test ends.
func startNode(t *testing.T, name, route string, peers []string) *node {
	t.Helper()
	nd := startProcess(t, name, "-cluster-listen", route, "-cluster-peers", strings.Join(peers, ","))
	nd.route = route
	return nd
}

// startProcess starts one glassmq process named name with the cluster
// flags args; it is killed when the test ends.
func startProcess(t *testing.T, name string, args ...string) *node {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	nd := &node{name: name, mqtt: freeAddr(t), log: &output{}}
	nd.cmd = exec.Command(bin, append([]string{"-listen", nd.mqtt, "-admin-listen", freeAddr(t), "-data-dir", t.TempDir(),
		"-sys-interval", "0", "-loops", "2", "-node-name", nd.name}, args...)...)
	nd.cmd.Stderr = nd.log
	dieWithTest(nd.cmd)
	if err := nd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nd.cmd.Process.Kill()
		nd.cmd.Wait()
		if t.Failed() || os.Getenv("CLUSTER_LOGS") != "" {
			t.Logf("%s log:\n%s", nd.name, nd.log)
		}
	})
	return nd
}

// waitReady waits until nd accepts MQTT connections.
func (nd *node) waitReady(t *testing.T) {
	t.Helper()
	if err := nd.ready(60 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// ready waits up to within until nd accepts MQTT connections (a node
// listens once a majority of its cluster runs, which a loaded machine can
// make slow), or its log says a port was taken.
func (nd *node) ready(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.Dial("tcp", nd.mqtt)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || strings.Contains(nd.log.String(), "address already in use") {
			return fmt.Errorf("%s did not start: %s", nd.name, nd.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// client connects a paho client with clientID to nd.
func client(t *testing.T, nd *node, clientID string, mod func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + nd.mqtt).SetClientID(clientID).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).SetOrderMatters(true)
	if mod != nil {
		mod(o)
	}
	// A node refuses CONNECTs (server unavailable) while it cannot write the
	// client's ownership claim, as when the ownership bucket elects a new
	// leader after a node's death; a real client connects again, and so
	// does this one, for up to a minute.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		c := mqtt.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			t.Fatalf("connect %s to %s: no CONNACK within 10s", clientID, nd.name)
		}
		err := tok.Error()
		if errors.Is(err, packets.ErrorRefusedServerUnavailable) && time.Now().Before(deadline) {
			t.Logf("connect %s to %s: %v; connecting again", clientID, nd.name, err)
			continue
		}
		if err != nil {
			t.Fatalf("connect %s to %s: %v", clientID, nd.name, err)
		}
		t.Cleanup(func() { c.Disconnect(0) })
		return c
	}
}

// inbox collects the messages one subscription receives.
type inbox struct {
	mu   sync.Mutex
	msgs []mqtt.Message
}

func (b *inbox) handler(_ mqtt.Client, m mqtt.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

// received returns what arrived so far, leaving out probes.
func (b *inbox) received() []mqtt.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []mqtt.Message
	for _, m := range b.msgs {
		if !strings.HasPrefix(string(m.Payload()), "probe") {
			out = append(out, m)
		}
	}
	return out
}

func (b *inbox) probes() int {
	b.mu.Lock()
	n := len(b.msgs)
	b.mu.Unlock()
	return n - len(b.received())
}

// waitFor polls until cond holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func subscribe(t *testing.T, c mqtt.Client, filter string, qos byte, b *inbox) {
	t.Helper()
	if tok := c.Subscribe(filter, qos, b.handler); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %q: %v", filter, tok.Error())
	}
}

func publish(t *testing.T, c mqtt.Client, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	if tok := c.Publish(topic, qos, retain, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %q: %v", topic, tok.Error())
	}
}

// probe publishes probes to topic through pub until b receives one: the
// subscriber's interest has then crossed the cluster.
func probe(t *testing.T, pub mqtt.Client, topic string, b *inbox) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; b.probes() == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no probe on %q crossed the cluster", topic)
		}
		publish(t, pub, topic, 0, false, fmt.Sprintf("probe %d", i))
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterProcesses starts three glassmq processes joined by
// -cluster-* flags and checks, with paho clients on different nodes, that
// messages cross: every QoS, wildcards (the parent level of '#' too),
// awkward topics, retained messages and wills.
func TestClusterProcesses(t *testing.T) {
	longtest.Skip(t, "starts three broker processes")
	t.Parallel() // ports and data directories of its own (main_test.go)
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			topic := fmt.Sprintf("q/%d", qos)
			var in inbox
			sub := client(t, b, fmt.Sprintf("sub-q%d", qos), nil)
			subscribe(t, sub, topic, qos, &in)
			pub := client(t, a, fmt.Sprintf("pub-q%d", qos), nil)
			probe(t, pub, topic, &in)
			const n = 200
			for i := range n {
				publish(t, pub, topic, qos, false, fmt.Sprint(i))
			}
			waitFor(t, fmt.Sprintf("%d QoS %d messages on %s", n, qos, b.name), func() bool { return len(in.received()) >= n })
			time.Sleep(100 * time.Millisecond) // a duplicate would arrive now
			got := in.received()
			if len(got) != n {
				t.Fatalf("received %d messages, want exactly %d", len(got), n)
			}
			for i, m := range got {
				if string(m.Payload()) != fmt.Sprint(i) || m.Qos() != qos || m.Retained() {
					t.Fatalf("message %d: payload %q QoS %d retain %v; want %q QoS %d retain false (in order, once)", i, m.Payload(), m.Qos(), m.Retained(), fmt.Sprint(i), qos)
				}
			}
		})
	}

	t.Run("wildcards", func(t *testing.T) {
		// paho would hand a message to the handler of every filter it
		// matches; with one default handler, each PUBLISH the broker sends
		// is seen once.
		var in inbox
		sub := client(t, c, "sub-wild", func(o *mqtt.ClientOptions) { o.SetDefaultPublishHandler(in.handler) })
		for _, f := range []string{"w/+/t", "w/#"} { // overlapping: still one delivery
			if tok := sub.Subscribe(f, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe %q: %v", f, tok.Error())
			}
		}
		pub := client(t, a, "pub-wild", nil)
		probe(t, pub, "w/probe", &in)
		for _, topic := range []string{"w", "w/a/t", "w/x/y/z", "wx/a/t", "v/a/t", "w/", "end/x"} {
			publish(t, pub, topic, 1, false, topic)
		}
		var end inbox
		sub2 := client(t, c, "sub-wild-end", nil)
		subscribe(t, sub2, "end/x", 1, &end)
		probe(t, pub, "end/x", &end) // after every message above, on the same stream
		waitFor(t, "the wildcard messages", func() bool { return len(in.received()) >= 4 })
		time.Sleep(100 * time.Millisecond)
		var got []string
		for _, m := range in.received() {
			got = append(got, m.Topic())
		}
		want := []string{"w", "w/a/t", "w/x/y/z", "w/"} // w is the parent level of w/# [MQTT-4.7.1-2]
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("received topics %q, want %q", got, want)
		}
	})

	t.Run("awkward topics", func(t *testing.T) {
		topics := []string{"odd/with space", "odd/a.b", "odd/*", "odd/>", "odd/$x", "odd/température/温度",
			"odd//empty", "odd/", "odd/GID_test@@@device-1", "odd/a_2Eb", "odd/="}
		var in, exact inbox
		sub := client(t, b, "sub odd@@@", nil)
		subscribe(t, sub, "odd/#", 2, &in)
		subscribe(t, sub, "odd/a.b", 2, &exact)
		pub := client(t, c, "pub.odd*>", nil)
		probe(t, pub, "odd/probe", &in)
		probe(t, pub, "odd/a.b", &exact)
		for _, topic := range topics {
			publish(t, pub, topic, 2, false, topic)
		}
		waitFor(t, "the awkward topics", func() bool { return len(in.received()) >= len(topics) && len(exact.received()) >= 1 })
		time.Sleep(100 * time.Millisecond)
		got := in.received()
		if len(got) != len(topics) {
			t.Fatalf("received %d messages, want %d", len(got), len(topics))
		}
		for i, m := range got {
			if m.Topic() != topics[i] || string(m.Payload()) != topics[i] {
				t.Errorf("message %d: topic %q payload %q, want %q", i, m.Topic(), m.Payload(), topics[i])
			}
		}
		if e := exact.received(); len(e) != 1 || e[0].Topic() != "odd/a.b" {
			t.Errorf("exact filter odd/a.b received %d messages, want one on odd/a.b", len(e))
		}
	})

	t.Run("retained", func(t *testing.T) {
		pubA := client(t, a, "pub-ret-a", nil)
		publish(t, pubA, "ret/1", 1, true, "from a")
		sub := client(t, c, "sub-ret", nil)
		// The retained message reaches node c on its own schedule: subscribe
		// again until it comes with the SUBSCRIBE.
		retained := func(filter string) []mqtt.Message {
			var in inbox
			subscribe(t, sub, filter, 1, &in)
			time.Sleep(100 * time.Millisecond)
			if tok := sub.Unsubscribe(filter); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("unsubscribe: %v", tok.Error())
			}
			var kept []mqtt.Message // live forwards while subscribed carry RETAIN 0
			for _, m := range in.received() {
				if m.Retained() {
					kept = append(kept, m)
				}
			}
			return kept
		}
		var got []mqtt.Message
		waitFor(t, "the retained message set on a to be seen on c", func() bool { got = retained("ret/#"); return len(got) > 0 })
		if len(got) != 1 || got[0].Topic() != "ret/1" || string(got[0].Payload()) != "from a" || !got[0].Retained() {
			t.Fatalf("got %d retained messages, first %q %q retain %v; want ret/1 \"from a\" retained", len(got), got[0].Topic(), got[0].Payload(), got[0].Retained())
		}
		pubB := client(t, b, "pub-ret-b", nil)
		publish(t, pubB, "ret/1", 1, true, "") // clears it everywhere
		publish(t, pubB, "ret/2", 1, true, "from b")
		waitFor(t, "ret/2 set on b to be seen on c", func() bool {
			got = retained("ret/#")
			return len(got) > 0 && got[len(got)-1].Topic() == "ret/2"
		})
		if len(got) != 1 {
			t.Fatalf("got %d retained messages after clearing ret/1, want only ret/2", len(got))
		}
	})

	t.Run("retained on a node that joins later", func(t *testing.T) {
		for _, nd := range nodes {
			waitFor(t, nd.name+" to load the cluster's retained messages", func() bool {
				return strings.Contains(nd.log.String(), "retained messages loaded")
			})
		}
		pub := client(t, a, "pub-late", nil)
		publish(t, pub, "late/1", 1, true, "before d")
		publish(t, pub, "late/2", 1, true, "cleared before d")
		publish(t, pub, "late/2", 1, true, "")
		var peers []string
		for _, nd := range nodes {
			peers = append(peers, nd.route)
		}
		d := startNode(t, "node-d", freeAddr(t), peers)
		d.waitReady(t)
		waitFor(t, "node-d to load the cluster's retained messages", func() bool {
			return strings.Contains(d.log.String(), "retained messages loaded")
		})
		var in inbox
		sub := client(t, d, "sub-late", nil)
		subscribe(t, sub, "late/#", 1, &in)
		waitFor(t, "the retained message on node-d", func() bool { return len(in.received()) > 0 })
		time.Sleep(100 * time.Millisecond)
		got := in.received()
		if len(got) != 1 || got[0].Topic() != "late/1" || string(got[0].Payload()) != "before d" || !got[0].Retained() {
			t.Fatalf("node-d has %d retained messages under late/#, first %q %q; want only late/1 \"before d\"", len(got), got[0].Topic(), got[0].Payload())
		}
	})

	t.Run("will", func(t *testing.T) {
		var in inbox
		sub := client(t, b, "sub-will", nil)
		subscribe(t, sub, "will/#", 1, &in)
		pub := client(t, a, "pub-will", nil)
		probe(t, pub, "will/probe", &in)
		var conn net.Conn
		client(t, a, "dies", func(o *mqtt.ClientOptions) {
			o.SetWill("will/dies", "gone", 1, false)
			o.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
				c, err := net.Dial("tcp", u.Host)
				conn = c
				return c, err
			})
		})
		conn.Close() // no DISCONNECT: node a publishes the will
		waitFor(t, "the will published on a to reach b", func() bool { return len(in.received()) > 0 })
		if m := in.received()[0]; m.Topic() != "will/dies" || string(m.Payload()) != "gone" {
			t.Fatalf("got %q %q, want the will", m.Topic(), m.Payload())
		}
	})
}

// TestClusterExternalNATS: two glassmq processes joined through a NATS
// server they do not embed (-nats-url) route a QoS 1 message and share a
// retained message, including with a node that starts after it was set.
func TestClusterExternalNATS(t *testing.T) {
	longtest.Skip(t, "starts a nats-server and three broker processes")
	t.Parallel() // ports and data directories of its own (main_test.go)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(20 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	url := ns.ClientURL()
	a := startProcess(t, "ext-a", "-nats-url", url)
	b := startProcess(t, "ext-b", "-nats-url", url)
	a.waitReady(t)
	b.waitReady(t)
	var in inbox
	sub := client(t, b, "ext-sub", nil)
	subscribe(t, sub, "ext/#", 1, &in)
	pub := client(t, a, "ext-pub", nil)
	probe(t, pub, "ext/probe", &in)
	publish(t, pub, "ext/x y", 1, false, "crossed")
	waitFor(t, "the message from ext-a on ext-b", func() bool { return len(in.received()) > 0 })
	if m := in.received()[0]; m.Topic() != "ext/x y" || string(m.Payload()) != "crossed" || m.Qos() != 1 {
		t.Fatalf("got %q %q QoS %d, want \"ext/x y\" \"crossed\" QoS 1", m.Topic(), m.Payload(), m.Qos())
	}
	for _, nd := range []*node{a, b} {
		waitFor(t, nd.name+" to load the cluster's retained messages", func() bool {
			return strings.Contains(nd.log.String(), "retained messages loaded")
		})
	}
	publish(t, pub, "ext/state", 1, true, "kept")
	c := startProcess(t, "ext-c", "-nats-url", url)
	c.waitReady(t)
	waitFor(t, "ext-c to load the cluster's retained messages", func() bool {
		return strings.Contains(c.log.String(), "retained messages loaded")
	})
	var late inbox
	subscribe(t, client(t, c, "ext-late", nil), "ext/state", 1, &late)
	waitFor(t, "the retained message on ext-c", func() bool { return len(late.received()) > 0 })
	if m := late.received()[0]; string(m.Payload()) != "kept" || !m.Retained() {
		t.Fatalf("ext-c: got %q retain %v, want \"kept\" retained", m.Payload(), m.Retained())
	}
}

// TestClusterNodeDies: when one node is killed (SIGKILL), the others keep
// routing between themselves, in order and complete at QoS 1, and a node
// started afterwards joins them.
func TestClusterNodeDies(t *testing.T) {
	longtest.Skip(t, "starts four broker processes")
	t.Parallel() // ports and data directories of its own (main_test.go)
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	var onB inbox
	subscribe(t, client(t, b, "dies-sub-b", nil), "f/#", 1, &onB)
	var in inbox
	subscribe(t, client(t, c, "dies-sub-c", nil), "f/#", 1, &in)
	pub := client(t, a, "dies-pub", nil)
	probe(t, pub, "f/probe", &in)
	probe(t, pub, "f/probe", &onB)
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	b.cmd.Wait()
	const n = 100
	for i := range n {
		publish(t, pub, "f/x", 1, false, fmt.Sprint(i))
	}
	waitFor(t, "every message on node-c after node-b died", func() bool { return len(in.received()) >= n })
	for i, m := range in.received() {
		if string(m.Payload()) != fmt.Sprint(i) {
			t.Fatalf("message %d on node-c is %q, want %d (in order, once)", i, m.Payload(), i)
		}
	}
	d := startNode(t, "node-d", freeAddr(t), []string{a.route, c.route})
	d.waitReady(t)
	var onD inbox
	subscribe(t, client(t, d, "dies-sub-d", nil), "f/#", 1, &onD)
	probe(t, pub, "f/probe", &onD)
}

// TestClusterNodeRestarts: a node restarted on its data directory reports
// the filters of its restored persistent sessions as interest, so messages
// published on another node while the client is offline are queued for it.
func TestClusterNodeRestarts(t *testing.T) {
	longtest.Skip(t, "starts and restarts broker processes")
	t.Parallel() // ports and data directories of its own (main_test.go)
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	dir, route := t.TempDir(), freeAddr(t)
	args := []string{"-data-dir", dir, "-cluster-listen", route, "-cluster-peers", a.route + "," + b.route}
	c := startProcess(t, "node-c", args...)
	c.waitReady(t)
	var in inbox
	persistent := func(o *mqtt.ClientOptions) { o.SetCleanSession(false).SetDefaultPublishHandler(in.handler) }
	keeper := client(t, c, "keeper", persistent)
	if tok := keeper.Subscribe("keep/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	keeper.Disconnect(100)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()

	c = startProcess(t, "node-c", args...)
	c.waitReady(t)
	pub := client(t, a, "keep-pub", nil)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; len(in.received()) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("no message published on node-a reached the restored session on node-c")
		}
		publish(t, pub, "keep/x", 1, false, fmt.Sprint(i)) // while keeper is offline
		k := client(t, c, "keeper", persistent)            // collects what was queued
		time.Sleep(200 * time.Millisecond)
		k.Disconnect(100)
	}
	if m := in.received()[0]; m.Topic() != "keep/x" {
		t.Fatalf("got %q, want keep/x", m.Topic())
	}
}
