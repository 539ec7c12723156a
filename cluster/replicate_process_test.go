package cluster_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/internal/longtest"
)

// startDurableCluster starts n glassmq processes routed to each other,
// each with -fsync always, and waits until every one accepts MQTT.
func startDurableCluster(t *testing.T, n int) []*node {
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
		nodes[i] = startProcess(t, fmt.Sprintf("node-%c", 'a'+i), "-fsync", "always",
			"-cluster-listen", routes[i], "-cluster-peers", strings.Join(peers, ","))
		nodes[i].route = routes[i]
	}
	for _, nd := range nodes {
		nd.waitReady(t)
	}
	return nodes
}

// acked is one message the publisher's node acknowledged.
type acked struct {
	payload string
	at      time.Time
}

// TestClusterSessionSurvivesNodeDeath: a persistent subscriber (QoS 1 and
// QoS 2 subscriptions) on node A, a publisher on node B, -fsync always
// everywhere. A is killed with SIGKILL while messages flow. The subscriber
// reconnects to node C (paho with both addresses), which rebuilds its
// session from JetStream: it receives every message B acknowledged before
// A died, QoS 2 ones at most once apart from DUP resends with the same
// packet ID (which an MQTT receiver discards), without subscribing again;
// the survivors keep serving; and a retained message set on A just before
// it died is found on C. Every message B acknowledged after A died, while
// nobody held the session, arrives too (B kept them for A's sessions and C
// replayed them), QoS 2 once.
func TestClusterSessionSurvivesNodeDeath(t *testing.T) {
	longtest.Skip(t, "starts three broker processes and kills one")
	t.Parallel() // ports and data directories of its own (main_test.go)
	nodes := startDurableCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	type got struct {
		payload string
		id      uint16
		dup     bool
	}
	var mu sync.Mutex
	var msgs []got
	var connects atomic.Int32
	var resumed atomic.Int64    // unix nanos of the reconnection
	gate := make(chan struct{}) // closed once node A is killed
	handler := func(_ mqtt.Client, m mqtt.Message) {
		var n int
		if _, err := fmt.Sscanf(string(m.Payload()), "m%d", &n); err == nil && n >= 40 && connects.Load() == 1 {
			// A consumer stuck on node A from the 40th message on: its
			// session there holds a backlog of queued and in-flight
			// messages when A dies.
			<-gate
		}
		mu.Lock()
		msgs = append(msgs, got{string(m.Payload()), m.MessageID(), m.Duplicate()})
		mu.Unlock()
	}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + a.mqtt).AddBroker("tcp://" + c.mqtt).
		SetClientID("survivor sub@1").SetCleanSession(false).SetOrderMatters(true).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(500 * time.Millisecond).SetConnectTimeout(90 * time.Second).
		SetKeepAlive(5 * time.Second).SetDefaultPublishHandler(handler).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { t.Logf("subscriber lost its connection: %v", err) }).
		SetOnConnectHandler(func(cl mqtt.Client) {
			r := cl.OptionsReader()
			t.Logf("subscriber connected (%d), servers %v", connects.Load()+1, r.Servers())
			if connects.Add(1) > 1 {
				resumed.Store(time.Now().UnixNano())
			}
		})
	sub := mqtt.NewClient(o)
	if tok := sub.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect subscriber to node-a: %v", tok.Error())
	}
	t.Cleanup(func() { sub.Disconnect(0) })
	for _, s := range []struct {
		filter string
		qos    byte
	}{{"surv/1", 1}, {"surv/2", 2}} {
		if tok := sub.Subscribe(s.filter, s.qos, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %q: %v", s.filter, tok.Error())
		}
	}
	received := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		n := map[string]int{}
		for _, m := range msgs {
			n[m.payload]++
		}
		return n
	}
	pub := client(t, b, "survivor-pub", nil)
	// Wait until the subscriber's interest crossed to node B.
	waitFor(t, "the subscription on node-a to reach node-b", func() bool {
		publish(t, pub, "surv/1", 0, false, "probe")
		time.Sleep(50 * time.Millisecond)
		return received()["probe"] > 0
	})

	// The retained message, set on A and acknowledged there.
	setter := client(t, a, "survivor-retain", nil)
	publish(t, setter, "surv/ret", 1, true, "kept")

	// Publish in a steady stream; kill A mid-stream.
	var acks []acked
	var killed time.Time
	publishOne := func(i int) {
		topic, qos := "surv/1", byte(1)
		if i%2 == 1 {
			topic, qos = "surv/2", 2
		}
		p := fmt.Sprintf("m%d", i)
		tok := pub.Publish(topic, qos, false, p)
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s on node-b: %v", p, tok.Error())
		}
		acks = append(acks, acked{p, time.Now()})
	}
	i := 0
	for ; i < 200; i++ {
		if i == 120 {
			killed = time.Now()
			if err := a.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			a.cmd.Wait()
			close(gate)
		}
		publishOne(i)
	}
	// The subscriber comes back on C once C has waited out A's lease and
	// rebuilt the session.
	deadline := time.Now().Add(90 * time.Second)
	for resumed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the subscriber did not reconnect to node-c")
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := 0
	for _, m := range acks {
		if m.at.Before(killed) {
			before++
		}
	}
	deadlineAll := time.Now().Add(30 * time.Second)
	for {
		n := received()
		missing := []string{}
		for _, m := range acks {
			if m.at.Before(killed) && n[m.payload] == 0 {
				missing = append(missing, m.payload)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadlineAll) {
			t.Fatalf("%d of the %d messages node-b acknowledged before node-a died never arrived: %v", len(missing), before, missing)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// QoS 2: a payload seen twice must be a DUP resend with the packet ID
	// of the first delivery, which a receiver discards [MQTT-4.3.3-2].
	qos2Once := func() {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		first := map[string]got{}
		for _, m := range msgs {
			var n int
			if _, err := fmt.Sscanf(m.payload, "m%d", &n); err != nil || n%2 == 0 {
				continue
			}
			if f, ok := first[m.payload]; ok && (!m.dup || m.id != f.id) {
				t.Fatalf("QoS 2 message %s delivered twice: first with packet ID %d, then %d (DUP %v)", m.payload, f.id, m.id, m.dup)
			} else if !ok {
				first[m.payload] = m
			}
		}
	}
	qos2Once()

	// The survivors keep serving, and the rebuilt session routes from C
	// without the client subscribing again.
	waitFor(t, "the rebuilt subscription on node-c to reach node-b", func() bool {
		publish(t, pub, "surv/1", 0, false, "probe-c")
		time.Sleep(50 * time.Millisecond)
		return received()["probe-c"] > 0
	})
	after := len(acks)
	for ; i < 260; i++ {
		publishOne(i)
	}
	waitFor(t, "messages published after the session moved to node-c", func() bool {
		n := received()
		for _, m := range acks[after:] {
			if n[m.payload] == 0 {
				return false
			}
		}
		return true
	})
	// And every message acknowledged while no node held the session: node
	// B kept them for node A's sessions, and C replayed them to the
	// rebuilt session (orphan.go).
	var gap []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		gap = gap[:0]
		n := received()
		for _, m := range acks[:after] {
			if !m.at.Before(killed) && n[m.payload] == 0 {
				gap = append(gap, m.payload)
			}
		}
		if len(gap) == 0 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("acknowledged before the kill: %d, all received; acknowledged while no node held the session: %d, not received: %d",
		before, after-before, len(gap))
	if len(gap) > 0 {
		t.Fatalf("%d messages node-b acknowledged while node-a's session had no owner never arrived: %v", len(gap), gap)
	}
	qos2Once()
	// Node C rebuilt the session with the backlog: at least the messages
	// from the 40th to the last acknowledged before the kill, less those
	// the client had in its socket when A died (C resends those with DUP).
	rebuilt := regexp.MustCompile(`session rebuilt from its replica" client="survivor sub@1" messages=(\d+)`).FindStringSubmatch(c.log.String())
	if rebuilt == nil {
		t.Fatalf("node-c did not log the session rebuilt from its replica")
	}
	if n, _ := strconv.Atoi(rebuilt[1]); n == 0 {
		t.Fatalf("node-c rebuilt the session with no message; the backlog on node-a was lost")
	}
	t.Logf("node-c rebuilt the session with %s messages", rebuilt[1])

	// The retained message set on A before it died, from C.
	var ret inbox
	subscribe(t, client(t, c, "survivor-ret", nil), "surv/ret", 1, &ret)
	waitFor(t, "the retained message set on node-a, on node-c", func() bool {
		for _, m := range ret.received() {
			if string(m.Payload()) == "kept" && m.Retained() {
				return true
			}
		}
		return false
	})
}

// TestClusterOrphanSessionsAdopted: a persistent session whose client is
// offline when its node dies, with a message queued, is adopted by a
// survivor once the dead node's lease has run out, so messages published
// afterwards queue for it; the client then connects to a third node and
// resumes the session (present) with the queued message and every one
// published since.
func TestClusterOrphanSessionsAdopted(t *testing.T) {
	longtest.Skip(t, "starts three broker processes, kills one and waits out its lease")
	t.Parallel() // ports and data directories of its own (main_test.go)
	nodes := startDurableCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	var in inbox
	persistent := func(o *mqtt.ClientOptions) {
		o.SetCleanSession(false).SetDefaultPublishHandler(in.handler).SetConnectTimeout(60 * time.Second)
	}
	sub := client(t, a, "orphan sub", persistent)
	if tok := sub.Subscribe("orph/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	sub.Disconnect(100) // offline, its session on node-a
	// A message queued for it while offline, acknowledged by node-a: with
	// -fsync always its PUBACK waits until it, and the session record
	// written before it, are replicated.
	publish(t, client(t, a, "orphan-pre", nil), "orph/x", 1, false, "pre")
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.cmd.Wait()
	deadline := time.Now().Add(120 * time.Second)
	for !strings.Contains(b.log.String()+c.log.String(), `sessions adopted" node=`) {
		if time.Now().After(deadline) {
			t.Fatal("no survivor adopted node-a's sessions")
		}
		time.Sleep(100 * time.Millisecond)
	}
	pub := client(t, b, "orphan-pub", nil)
	const n = 20
	for i := range n {
		publish(t, pub, "orph/x", 1, false, fmt.Sprint(i))
	}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + c.mqtt).SetClientID("orphan sub").SetCleanSession(false).
		SetAutoReconnect(false).SetOrderMatters(true).SetConnectTimeout(60 * time.Second).SetDefaultPublishHandler(in.handler)
	back := mqtt.NewClient(o)
	tok := back.Connect()
	if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
		t.Fatalf("reconnect to node-c: %v", tok.Error())
	}
	t.Cleanup(func() { back.Disconnect(0) })
	if !tok.(*mqtt.ConnectToken).SessionPresent() {
		t.Fatal("CONNACK on node-c: session present 0, want 1 [MQTT-3.2.2-2]")
	}
	waitFor(t, "every message queued before node-a died and published after the adoption", func() bool {
		return len(in.received()) >= n+1
	})
	seen := map[string]bool{}
	for _, m := range in.received() {
		seen[string(m.Payload())] = true
	}
	if !seen["pre"] {
		t.Fatal("the message queued on node-a before it died never arrived")
	}
	for i := range n {
		if !seen[fmt.Sprint(i)] {
			t.Fatalf("message %d, published on node-b after node-a's session was adopted, never arrived", i)
		}
	}
}

// TestClusterPublisherNodeDies: with -fsync always, every QoS 1 and QoS 2
// message whose PUBACK/PUBREC the publisher received from node B reaches
// a persistent subscriber on node A, although B is killed with SIGKILL
// mid-stream; the subscriber's node keeps serving.
func TestClusterPublisherNodeDies(t *testing.T) {
	longtest.Skip(t, "starts three broker processes and kills one")
	t.Parallel() // ports and data directories of its own (main_test.go)
	nodes := startDurableCluster(t, 3)
	a, b := nodes[0], nodes[1]
	var in inbox
	sub := client(t, a, "pubdies sub", func(o *mqtt.ClientOptions) {
		o.SetCleanSession(false).SetDefaultPublishHandler(in.handler)
	})
	for f, qos := range map[string]byte{"pd/1": 1, "pd/2": 2} {
		if tok := sub.Subscribe(f, qos, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %q: %v", f, tok.Error())
		}
	}
	pub := client(t, b, "pubdies pub", nil)
	probe(t, pub, "pd/1", &in)
	var mu sync.Mutex
	var acks []string
	done := make(chan struct{})
	go func() { // publishes until its node dies
		defer close(done)
		for i := 0; ; i++ {
			topic, qos := "pd/1", byte(1)
			if i%2 == 1 {
				topic, qos = "pd/2", 2
			}
			p := fmt.Sprintf("p%d", i)
			tok := pub.Publish(topic, qos, false, p)
			if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
				return
			}
			mu.Lock()
			acks = append(acks, p)
			mu.Unlock()
		}
	}()
	waitFor(t, "100 messages acknowledged by node-b", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acks) >= 100
	})
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	b.cmd.Wait()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the publisher still gets acknowledgements from a killed node")
	}
	mu.Lock()
	acked := append([]string(nil), acks...)
	mu.Unlock()
	waitFor(t, "every message node-b acknowledged, on node-a", func() bool {
		seen := map[string]bool{}
		for _, m := range in.received() {
			seen[string(m.Payload())] = true
		}
		for _, p := range acked {
			if !seen[p] {
				return false
			}
		}
		return true
	})
	count := map[string]int{}
	for _, m := range in.received() {
		count[string(m.Payload())]++
	}
	for p, n := range count {
		var i int
		if _, err := fmt.Sscanf(p, "p%d", &i); err == nil && i%2 == 1 && n > 1 {
			t.Fatalf("QoS 2 message %s delivered %d times", p, n)
		}
	}
	t.Logf("%d messages acknowledged by node-b before it died, all on node-a", len(acked))
	// The subscriber's node keeps serving.
	local := client(t, a, "pubdies local", nil)
	publish(t, local, "pd/1", 1, false, "after")
	waitFor(t, "a message published on node-a after node-b died", func() bool {
		for _, m := range in.received() {
			if string(m.Payload()) == "after" {
				return true
			}
		}
		return false
	})
}
