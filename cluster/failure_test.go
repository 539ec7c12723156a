package cluster_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/internal/longtest"
)

// failLease is the ownership lease of the failure tests: short, so that a
// takeover from a dead or frozen node waits seconds rather than 30 s, and
// long enough that a loaded machine does not fence healthy nodes.
const failLease = 8 * time.Second

// TestClusterKillUnderLoad kills one of three nodes with SIGKILL while
// publishers on every node send QoS 1 and QoS 2 messages and persistent
// subscribers on the other two receive them: the survivors keep
// acknowledging, every acknowledged message reaches both subscribers,
// QoS 2 ones exactly once (the dead node's publisher, which sends its
// in-flight message again to another node, excepted); then the node
// restarts on its data directory and rejoins.
func TestClusterKillUnderLoad(t *testing.T) {
	longtest.Skip(t, "runs three broker processes under load and kills one")
	t.Parallel() // ports and data directories of its own (main_test.go)
	c := startFailCluster(t, 3, failLease)
	a, b, cc := c.nodes[0], c.nodes[1], c.nodes[2]
	l := newLedger()
	subs := []*subscriber{
		l.startSubscriber(t, c, b, "kill-sub-b", "load/#", true),
		l.startSubscriber(t, c, cc, "kill-sub-c", "load/#", true),
	}
	for _, s := range subs {
		s.probeFrom(t, "load/probe", a, b, cc)
		l.markReady(s)
	}
	pubs := []*publisher{
		l.startPublisher(t, c, a, "kill-pub-a", "load/a", 5*time.Millisecond, false),
		l.startPublisher(t, c, b, "kill-pub-b", "load/b", 5*time.Millisecond, false),
		l.startPublisher(t, c, cc, "kill-pub-c", "load/c", 5*time.Millisecond, false),
	}
	acked := func(p *publisher, after time.Time) int {
		l.mu.Lock()
		defer l.mu.Unlock()
		n := 0
		for _, m := range l.msgs {
			if m.pub == p && m.acked.After(after) {
				n++
			}
		}
		return n
	}
	start := time.Now()
	waitLong(t, "load before the kill", 2*time.Minute, func() bool {
		return acked(pubs[0], start) >= 50 && acked(pubs[1], start) >= 50 && acked(pubs[2], start) >= 50
	})

	killed := time.Now()
	a.kill(t)
	t.Logf("killed %s", a.name)
	for _, p := range pubs {
		waitLong(t, p.name+" to be acknowledged 100 times after the kill", 3*time.Minute, func() bool { return acked(p, killed) >= 100 })
	}

	a.start(t)
	for _, nd := range c.nodes {
		c.waitJoined(t, nd)
	}
	rejoined := time.Now()
	for _, p := range pubs {
		waitLong(t, p.name+" to be acknowledged after the restart", 2*time.Minute, func() bool { return acked(p, rejoined) >= 20 })
	}
	stopPublishers(pubs...)
	l.settle()
	tl := l.account(func(*subscriber, *sentMsg) bool { return true })
	t.Logf("kill -9 of %s under load:\n%s", a.name, tl)
	if tl.Acked[1] == 0 || tl.Acked[2] == 0 {
		t.Fatalf("no QoS 1 or QoS 2 message acknowledged:\n%s", tl)
	}
	if v := tl.violations(); v != 0 {
		t.Fatalf("%d broken guarantees:\n%s", v, tl)
	}
}

// TestClusterRetainedBeforeKill sets retained messages on a node and kills
// it (SIGKILL) right after the last PUBACK: a subscriber on each surviving
// node receives every one of them, with its last value.
func TestClusterRetainedBeforeKill(t *testing.T) {
	longtest.Skip(t, "runs three broker processes and kills one")
	t.Parallel() // ports and data directories of its own (main_test.go)
	c := startFailCluster(t, 3, failLease)
	a := c.nodes[0]
	for _, nd := range c.nodes {
		waitLong(t, nd.name+" to load the cluster's retained messages", 2*time.Minute, func() bool {
			return strings.Contains(nd.log.String(), "retained messages loaded")
		})
	}
	pub := client(t, &node{name: a.name, mqtt: a.mqtt}, "ret-kill-pub", nil)
	const n = 20
	for i := range n {
		publish(t, pub, fmt.Sprintf("rk/%d", i), 1, true, "old")
		publish(t, pub, fmt.Sprintf("rk/%d", i), 1, true, fmt.Sprintf("v%d", i))
	}
	publish(t, pub, "rk/cleared", 1, true, "gone soon")
	publish(t, pub, "rk/cleared", 1, true, "")
	a.kill(t)
	for _, nd := range c.nodes[1:] {
		sub := client(t, &node{name: nd.name, mqtt: nd.mqtt}, "ret-kill-sub-"+nd.name, nil)
		var mu sync.Mutex
		got := map[string]string{}
		if tok := sub.Subscribe("rk/#", 1, func(_ mqtt.Client, m mqtt.Message) {
			if m.Retained() {
				mu.Lock()
				got[m.Topic()] = string(m.Payload())
				mu.Unlock()
			}
		}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe on %s: %v", nd.name, tok.Error())
		}
		waitLong(t, fmt.Sprintf("%d retained messages on %s", n, nd.name), time.Minute, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) >= n
		})
		time.Sleep(200 * time.Millisecond) // a stray one would arrive now
		mu.Lock()
		for i := range n {
			topic := fmt.Sprintf("rk/%d", i)
			if got[topic] != fmt.Sprintf("v%d", i) {
				t.Errorf("%s: retained %s is %q, want %q", nd.name, topic, got[topic], fmt.Sprintf("v%d", i))
			}
		}
		if v, ok := got["rk/cleared"]; ok {
			t.Errorf("%s: rk/cleared is retained as %q, want cleared", nd.name, v)
		}
		if len(got) != n {
			t.Errorf("%s: %d retained messages under rk/#, want %d", nd.name, len(got), n)
		}
		mu.Unlock()
	}
}

// TestClusterFrozenNode freezes a node (SIGSTOP) for two and a half
// ownership leases while it holds a connection, connects the same client ID to
// another node meanwhile, then resumes it (SIGCONT). The ownership
// bucket's epochs for the client grow and end with the new node; the
// frozen node closes its stale connection once it runs again and delivers
// on it nothing published after the new connection was accepted; its
// admin API then reports no connection; and an online subscriber on a
// surviving node receives every acknowledged QoS 1/2 message published
// on the third node throughout.
func TestClusterFrozenNode(t *testing.T) {
	longtest.Skip(t, "runs three broker processes and freezes one for 2.5 leases")
	t.Parallel() // ports and data directories of its own (main_test.go)
	c := startFailCluster(t, 3, failLease)
	a, b, cc := c.nodes[0], c.nodes[1], c.nodes[2]
	obs := observe(t, c)
	// a leads every stream, so freezing it leaves the lease bucket without
	// a leader: b and c fence themselves (their connections closed) while
	// it elects another, the case that lost messages under load. Moving
	// the leaders may fence the nodes too, before any client connects.
	obs.leadOn(t, a)
	l := newLedger()
	sub := l.startSubscriber(t, c, b, "frozen-sub-b", "load/#", true)
	sub.probeFrom(t, "load/probe", a, b, cc)
	l.markReady(sub)

	const id = "GID_frozen@@@device 1"
	type delivery struct {
		id string
		at time.Time
	}
	var mu sync.Mutex
	var stale []delivery
	var staleLost time.Time
	old := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + a.mqtt).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(false).SetKeepAlive(0).SetConnectTimeout(30 * time.Second).
		SetConnectionLostHandler(func(mqtt.Client, error) {
			mu.Lock()
			staleLost = time.Now()
			mu.Unlock()
		}))
	waitLong(t, fmt.Sprintf("%q to connect to %s", id, a.name), 2*time.Minute, func() bool {
		tok := old.Connect() // refused while a node is fenced after the leaders moved
		return tok.WaitTimeout(30*time.Second) && tok.Error() == nil
	})
	t.Cleanup(func() { old.Disconnect(0) })
	if tok := old.Subscribe("load/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		if s := string(m.Payload()); !strings.HasPrefix(s, "probe") {
			mu.Lock()
			stale = append(stale, delivery{s, time.Now()})
			mu.Unlock()
		}
	}); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe on %s: %v", a.name, tok.Error())
	}
	var before []claim
	waitLong(t, "the claim of "+a.name+" in the bucket", time.Minute, func() bool {
		h, err := obs.history(id)
		if err != nil || len(h) == 0 || h[len(h)-1].node != a.name {
			return false
		}
		before = h
		return true
	})

	pub := l.startPublisher(t, c, cc, "frozen-pub-c", "load/c", 5*time.Millisecond, true)
	frozen := time.Now()
	a.freeze()
	t.Logf("froze %s", a.name)
	thawed := false
	t.Cleanup(func() {
		if !thawed {
			a.thaw()
		}
	})

	// The same client ID connects to b while a is frozen: b waits for a's
	// answer, then for a's lease, before it accepts.
	fresh := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + b.mqtt).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(false).SetConnectTimeout(2 * time.Minute))
	refused := 0 // CONNACK 0x03 while the bucket elects a leader in a's place
	waitLong(t, fmt.Sprintf("%q to be accepted on %s", id, b.name), 3*time.Minute, func() bool {
		tok := fresh.Connect()
		if tok.WaitTimeout(2*time.Minute) && tok.Error() == nil {
			return true
		}
		refused++
		return false
	})
	takenOver := time.Now()
	t.Cleanup(func() { fresh.Disconnect(0) })
	t.Logf("%q accepted on %s %v after the freeze (refused %d times before)", id, b.name, takenOver.Sub(frozen).Round(time.Millisecond), refused)
	for time.Since(frozen) < 5*failLease/2 {
		time.Sleep(100 * time.Millisecond)
	}
	a.thaw()
	thawed = true
	thaw := time.Now()
	when := "while it was frozen"
	if !takenOver.Before(thaw) {
		when = "only once it ran again (the bucket could not elect a leader without it)"
	}
	t.Logf("thawed %s after %v; %s accepted %q %s", a.name, thaw.Sub(frozen).Round(time.Millisecond), b.name, id, when)

	waitLong(t, a.name+" to close its stale connection", 2*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !staleLost.IsZero()
	})
	mu.Lock()
	t.Logf("%s closed the stale connection %v after SIGCONT", a.name, staleLost.Sub(thaw).Round(time.Millisecond))
	for _, d := range stale {
		if d.at.After(takenOver) {
			l.mu.Lock()
			m := l.msgs[d.id]
			l.mu.Unlock()
			if m != nil && m.start.After(takenOver) {
				t.Errorf("two live owners: %s delivered %s, published %v after %s accepted %q, on its stale connection",
					a.name, d.id, m.start.Sub(takenOver).Round(time.Millisecond), b.name, id)
			}
		}
	}
	mu.Unlock()
	if !fresh.IsConnectionOpen() {
		t.Errorf("the connection of %q on %s was closed; want it kept", id, b.name)
	}
	var lastView nodeView
	var lastErr error
	deadline := time.Now().Add(2 * time.Minute)
	for a.connections() != 0 {
		if time.Now().After(deadline) {
			lastView, lastErr = a.view()
			var list string
			if resp, err := http.Get("http://" + a.admin + "/api/v1/clients"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				list = string(b)
			}
			t.Fatalf("%s's admin API still reports connections after 2m: %+v %v; clients: %s", a.name, lastView, lastErr, list)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.waitJoined(t, a)
	// Every node's admin API says the client is online (on b, its only
	// connection left). A node may first answer from what it knew before
	// the freeze (a recent list, a lagging replica): poll.
	for _, nd := range c.nodes {
		var first, last string
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var st struct {
				Status string `json:"status"`
			}
			resp, err := http.Get("http://" + nd.admin + "/api/v1/clients/" + url.PathEscape(id))
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				last = string(body)
				err = json.Unmarshal(body, &st)
			}
			if err == nil && st.Status == "online" {
				break
			}
			if first == "" {
				first = last
				t.Logf("%s's admin API first answered for %q: %s (%v)", nd.name, id, last, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's admin API does not report %q online after 2m: %s", nd.name, id, last)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	// A replica that was frozen may answer for a moment with what it had:
	// read until the bucket's history ends with b's claim.
	var after []claim
	deadline = time.Now().Add(2 * time.Minute)
	for {
		h, err := obs.history(id)
		if err == nil && len(h) >= 2 && h[len(h)-1].node == b.name {
			after = h
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ownership history of %q is %v (%v), want it to end with %s", id, h, err, b.name)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for i := 1; i < len(after); i++ {
		if after[i].epoch <= after[i-1].epoch {
			t.Errorf("ownership epochs of %q do not grow: %v", id, after)
		}
	}
	if last := before[len(before)-1]; after[len(after)-1].epoch <= last.epoch {
		t.Errorf("%s's epoch %d is not above %s's %d", b.name, after[len(after)-1].epoch, a.name, last.epoch)
	}

	stopPublishers(pub)
	l.settle()
	tl := l.account(func(*subscriber, *sentMsg) bool { return true })
	t.Logf("%s frozen for %v:\n%s", a.name, thaw.Sub(frozen).Round(time.Millisecond), tl)
	if tl.Acked[1] == 0 || tl.Acked[2] == 0 {
		t.Fatalf("no QoS 1 or QoS 2 message acknowledged:\n%s", tl)
	}
	if v := tl.violations(); v != 0 {
		t.Fatalf("%d broken guarantees:\n%s", v, tl)
	}
}

// downWindow is when a node was restarting, from its SIGTERM until it had
// rejoined and its pinned subscriber received probes from every node again.
type downWindow struct{ from, to time.Time }

// overlaps reports whether a message sent at start and acknowledged at
// acked was in flight during w.
func (w downWindow) overlaps(start, acked time.Time) bool {
	return !w.from.IsZero() && !start.After(w.to) && !acked.Before(w.from)
}

// rollingRestart restarts the nodes of c one at a time (SIGTERM, start on
// the same data directory, wait until every node sees all the others and
// the node's pinned subscriber, in pinned, received probes from every
// node again); pause is the load between restarts.
func rollingRestart(t *testing.T, c *fcluster, pinned map[*fnode]*subscriber, pause time.Duration) {
	t.Helper()
	for _, nd := range c.nodes {
		time.Sleep(pause)
		from := time.Now()
		s := pinned[nd]
		connects := s.connects.Load()
		nd.stop(t)
		nd.start(t)
		for _, other := range c.nodes {
			c.waitJoined(t, other)
		}
		waitLong(t, s.name+" to reconnect to "+nd.name, 2*time.Minute, func() bool { return s.connects.Load() > connects })
		s.probeFrom(t, "load/probe", c.nodes...)
		t.Logf("restarted %s in %v", nd.name, time.Since(from).Round(time.Millisecond))
	}
}

// TestClusterRollingRestart restarts all three nodes one at a time
// (SIGTERM, then start on the same data directory) while publishers on
// every node send QoS 1 and QoS 2 messages. Each node has a persistent
// subscriber pinned to it, and one persistent subscriber knows every node
// and follows its session from node to node. Every pinned subscriber
// receives every acknowledged message, QoS 2 exactly once (a message the
// broker sent again with DUP after the subscriber resumed its session
// excepted), including those published while its own node was down: the
// stopping node says so, the others keep what it did not take, and the
// node replays it once restarted (docs/CLUSTER.md, "A node that stops
// gracefully"). The roaming subscriber's losses are counted and logged,
// not asserted: a replay to its rebuilt session that ends after that
// node's SIGTERM is missing from the session the next node rebuilds
// (docs/CLUSTER.md, "What does not hold yet").
func TestClusterRollingRestart(t *testing.T) {
	longtest.Skip(t, "runs three broker processes under load and restarts each")
	t.Parallel() // ports and data directories of its own (main_test.go)
	c := startFailCluster(t, 3, failLease)
	l := newLedger()
	pinned := make(map[*fnode]*subscriber)
	for _, nd := range c.nodes {
		pinned[nd] = l.startSubscriber(t, c, nd, "roll-sub-"+nd.name, "load/#", true)
	}
	roaming := l.startSubscriber(t, c, c.nodes[0], "roll-roaming", "load/#", false)
	for _, s := range l.subs {
		s.probeFrom(t, "load/probe", c.nodes...)
		l.markReady(s)
	}
	var pubs []*publisher
	for _, nd := range c.nodes {
		pubs = append(pubs, l.startPublisher(t, c, nd, "roll-pub-"+nd.name, "load/"+nd.name, 5*time.Millisecond, false))
	}
	rollingRestart(t, c, pinned, 2*time.Second)
	time.Sleep(2 * time.Second)
	stopPublishers(pubs...)
	l.settle()
	tl := l.account(func(s *subscriber, _ *sentMsg) bool { return s != roaming })
	t.Logf("rolling restart of %d nodes under load:\n%s", len(c.nodes), tl)
	roamOnly := newLedger()
	roamOnly.msgs, roamOnly.subs = l.msgs, map[string]*subscriber{roaming.name: roaming}
	t.Logf("of which the roaming persistent subscriber (not yet guaranteed):\n%s", roamOnly.account(func(*subscriber, *sentMsg) bool { return true }))
	if tl.Acked[1] == 0 || tl.Acked[2] == 0 {
		t.Fatalf("no QoS 1 or QoS 2 message acknowledged:\n%s", tl)
	}
	if v := tl.violations(); v != 0 {
		t.Fatalf("%d broken guarantees:\n%s", v, tl)
	}
}
