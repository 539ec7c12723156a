package cluster_test

import (
	"fmt"
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
const failLease = 4 * time.Second

// TestClusterKillUnderLoad kills one of three nodes with SIGKILL while
// publishers on every node send QoS 1 and QoS 2 messages and persistent
// subscribers on the other two receive them: the survivors keep
// acknowledging, every acknowledged message reaches both subscribers,
// QoS 2 ones exactly once (the dead node's publisher, which sends its
// in-flight message again to another node, excepted); then the node
// restarts on its data directory and rejoins.
func TestClusterKillUnderLoad(t *testing.T) {
	longtest.Skip(t, "runs three broker processes under load and kills one")
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
		l.startPublisher(t, c, a, "kill-pub-a", "load/a", 5*time.Millisecond),
		l.startPublisher(t, c, b, "kill-pub-b", "load/b", 5*time.Millisecond),
		l.startPublisher(t, c, cc, "kill-pub-c", "load/c", 5*time.Millisecond),
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
