package cluster_test

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/internal/longtest"
)

// The outage tests: a persistent subscriber's node is killed with SIGKILL
// while a publisher on another node keeps publishing QoS 1 and QoS 2
// messages. Nobody holds the subscriber's session until it resumes on a
// survivor (takeover through the replica) or a survivor adopts it after
// the dead node's lease. Every message whose PUBACK/PUBREC the publisher
// received must reach the subscriber once it is back, QoS 2 once (a resend
// with DUP and the first delivery's packet ID excepted, which a receiver
// that keeps its QoS 2 state discards [MQTT-4.3.3-2], and a message the
// publisher sent twice).
//
// GLASSMQ_TEST_NO_ORPHANS=1 in the environment starts the nodes without
// keeping messages for dead nodes' sessions: the tests then fail, which
// shows they measure the guarantee.

// outageDelivery is one message the subscriber received.
type outageDelivery struct {
	payload string
	id      uint16
	dup     bool
	conn    int32 // which connection of the subscriber: 1 before the kill, 2 after
}

// TestClusterOutageTakeover: the subscriber reconnects to node c 4 s after
// node a died, before a's lease (8 s) ran out; c's claim waits out the
// lease and rebuilds the session from the replica.
func TestClusterOutageTakeover(t *testing.T) {
	longtest.Skip(t, "starts three broker processes and kills one")
	t.Parallel() // ports and data directories of its own (main_test.go)
	runOutage(t, false, false)
}

// TestClusterOutageAdopted: the subscriber stays away until node b (the
// first live node, and the publisher's) has adopted a's sessions after
// the lease, then connects to node c.
func TestClusterOutageAdopted(t *testing.T) {
	longtest.Skip(t, "starts three broker processes, kills one and waits out its lease")
	t.Parallel() // ports and data directories of its own (main_test.go)
	runOutage(t, true, false)
}

// TestClusterOutageBlindWatch is TestClusterOutageAdopted with node b (the
// publisher's, which adopts) frozen twice for 3 s after the kill, as a
// loaded machine stalls a process: each time, b's lease watch has not
// shown its own renewal for more than a quarter lease when it runs again.
// That spell must neither keep a's lease from running out nor move the
// time the replay reads a's records from past the death: a first merged
// build moved a's last renewal to the end of the second spell, and the
// replay skipped the records of the first seconds after the kill.
func TestClusterOutageBlindWatch(t *testing.T) {
	longtest.Skip(t, "starts three broker processes, kills one, freezes another and waits out a lease")
	if !*stressFlag {
		t.Skip("a known loss while the adopted session moves to c, which the freezes make likelier (docs/CLUSTER.md); run with make test-cluster-stress (-cluster.stress)")
	}
	t.Parallel() // ports and data directories of its own (main_test.go)
	runOutage(t, true, true)
}

// runOutage runs an outage test: adopt waits for the adoption before the
// subscriber returns; blind freezes node b twice after the kill.
func runOutage(t *testing.T, adopt, blind bool) {
	c := startFailCluster(t, 3, 8*time.Second)
	a, b, cn := c.nodes[0], c.nodes[1], c.nodes[2]

	var mu sync.Mutex
	var got []outageDelivery
	var conn atomic.Int32
	handler := func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		got = append(got, outageDelivery{string(m.Payload()), m.MessageID(), m.Duplicate(), conn.Load()})
		mu.Unlock()
	}
	received := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		n := map[string]int{}
		for _, d := range got {
			n[d.payload]++
		}
		return n
	}
	// A node may fence itself for a moment while JetStream elects leaders
	// after the kill (the 8 s lease is short, docs/CLUSTER.md): clients
	// then reconnect to the same node.
	subOpts := func(nd *fnode) *mqtt.ClientOptions {
		return mqtt.NewClientOptions().AddBroker("tcp://" + nd.mqtt).SetClientID("outage sub").SetCleanSession(false).
			SetAutoReconnect(nd != a).SetMaxReconnectInterval(time.Second).SetOrderMatters(true).SetConnectTimeout(60 * time.Second).
			SetKeepAlive(5 * time.Second).SetDefaultPublishHandler(handler)
	}
	conn.Store(1)
	sub := mqtt.NewClient(subOpts(a))
	if tok := sub.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect the subscriber to %s: %v", a.name, tok.Error())
	}
	for _, s := range []struct {
		filter string
		qos    byte
	}{{"out/1", 1}, {"out/2", 2}} {
		if tok := sub.Subscribe(s.filter, s.qos, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %q: %v", s.filter, tok.Error())
		}
	}
	po := mqtt.NewClientOptions().AddBroker("tcp://" + b.mqtt).SetClientID("outage pub").SetCleanSession(true).
		SetAutoReconnect(true).SetMaxReconnectInterval(time.Second).SetOrderMatters(true).
		SetConnectTimeout(30 * time.Second).SetWriteTimeout(30 * time.Second)
	var acks []acked
	var acksMu sync.Mutex
	resent := map[string]bool{} // published again: a QoS 2 duplicate of it is the publisher's
	var flight string           // the message being published; guarded by acksMu
	// paho sends a QoS 2 PUBLISH left unanswered by a lost connection again
	// (DUP) on its next connection, clean session or not, and completes
	// the first one's token without an error: on a new session the broker
	// rightly takes it for a new message (b fencing itself for a moment
	// after the kill closes the publisher's connection).
	po.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		acksMu.Lock()
		p := flight
		if p != "" {
			resent[p] = true
		}
		acksMu.Unlock()
		t.Logf("the publisher's connection to %s was lost with %q in flight: %v", b.name, p, err)
	})
	pub := mqtt.NewClient(po)
	if tok := pub.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect the publisher to %s: %v", b.name, tok.Error())
	}
	t.Cleanup(func() { pub.Disconnect(0) })
	waitLong(t, "the subscription on "+a.name+" to reach "+b.name, 30*time.Second, func() bool {
		pub.Publish("out/1", 0, false, "probe").WaitTimeout(time.Second)
		time.Sleep(50 * time.Millisecond)
		return received()["probe"] > 0
	})

	// Publish one message at a time, each waiting for its ack, until told
	// to stop.
	stop := make(chan struct{})
	stopped := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				stopped <- nil
				return
			default:
			}
			topic, qos := "out/1", byte(1)
			if i%2 == 1 {
				topic, qos = "out/2", 2
			}
			p := fmt.Sprintf("m%d", i)
			// Not acknowledged is not owed: a publish the node refused
			// (fenced for a moment) is sent again.
			acksMu.Lock()
			flight = p
			acksMu.Unlock()
			for deadline := time.Now().Add(time.Minute); ; {
				tok := pub.Publish(topic, qos, false, p)
				if tok.WaitTimeout(30*time.Second) && tok.Error() == nil {
					break
				} else if time.Now().After(deadline) {
					stopped <- fmt.Errorf("publish %s on %s: %v", p, b.name, tok.Error())
					return
				}
				acksMu.Lock()
				resent[p] = true
				acksMu.Unlock()
				time.Sleep(250 * time.Millisecond)
			}
			acksMu.Lock()
			acks = append(acks, acked{p, time.Now()})
			flight = ""
			acksMu.Unlock()
			// Paced so that what queues for the offline session stays
			// under -max-queued (1,000), past which its oldest messages
			// are dropped by design.
			time.Sleep(40 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second)
	killed := time.Now()
	a.kill(t)
	sub.Disconnect(0) // its connection died with node a; stop paho's side
	if blind {
		for _, at := range []time.Duration{2 * time.Second, 7 * time.Second} {
			time.Sleep(time.Until(killed.Add(at)))
			b.freeze()
			time.Sleep(3 * time.Second)
			b.thaw()
		}
		waitLong(t, b.name+" to say its lease watch was blind", time.Minute, func() bool {
			return strings.Contains(b.log.String(), "lease watch showed nothing for a while")
		})
	}
	if adopt {
		waitLong(t, "a survivor to adopt "+a.name+"'s sessions", 2*time.Minute, func() bool {
			return strings.Contains(b.log.String()+cn.log.String(), `sessions adopted" node=`+a.name)
		})
		time.Sleep(2 * time.Second)
	} else {
		time.Sleep(4 * time.Second)
	}
	conn.Store(2)
	back := mqtt.NewClient(subOpts(cn))
	t.Cleanup(func() { back.Disconnect(0) })
	var tok mqtt.Token
	for deadline := time.Now().Add(90 * time.Second); ; {
		tok = back.Connect()
		ok := tok.WaitTimeout(90 * time.Second)
		if ok && tok.Error() == nil {
			break
		}
		// Refused while the node fenced itself for a moment (JetStream
		// electing leaders after the kill): try again, as a client would.
		if !ok || !strings.Contains(tok.Error().Error(), "Unavailable") || time.Now().After(deadline) {
			t.Fatalf("reconnect the subscriber to %s: %v", cn.name, tok.Error())
		}
		t.Logf("the subscriber's CONNECT on %s refused (%v); trying again", cn.name, tok.Error())
		time.Sleep(250 * time.Millisecond)
	}
	if !tok.(*mqtt.ConnectToken).SessionPresent() {
		t.Fatalf("CONNACK on %s: session present 0, want 1", cn.name)
	}
	resumed := time.Now()
	time.Sleep(3 * time.Second)
	close(stop)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}

	acksMu.Lock()
	all := append([]acked(nil), acks...)
	acksMu.Unlock()
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := received()
		missing = missing[:0]
		for _, m := range all {
			if n[m.payload] == 0 {
				missing = append(missing, m.payload)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	inWindow := 0
	for _, m := range all {
		if m.at.After(killed) && m.at.Before(resumed) {
			inWindow++
		}
	}
	for _, nd := range []*fnode{b, cn} {
		for _, l := range regexp.MustCompile(`.*(kept for a dead node's sessions replayed|QoS 1/2 messages for its sessions are kept).*`).FindAllString(nd.log.String(), -1) {
			t.Logf("%s: %s", nd.name, l)
		}
	}
	t.Logf("acknowledged: %d, of which %d between the kill and the subscriber's return; missing: %d", len(all), inWindow, len(missing))
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged messages never reached the subscriber: %v", len(missing), len(all), missing)
	}

	// QoS 2 once: a second delivery only as a DUP resend with the first's
	// packet ID.
	mu.Lock()
	defer mu.Unlock()
	first := map[string]outageDelivery{}
	// The documented window at the kill (docs/CLUSTER.md, "Two narrow
	// duplicate windows"): a QoS 2 message the dead node had delivered on
	// the subscriber's first connection, and whose QoS 2 exchange had
	// finished, before it answered the marker behind it, is replayed on
	// the second. Only the last messages the first connection received
	// can be such a message.
	const atKill = 10
	tail := map[string]bool{}
	for i := len(got) - 1; i >= 0 && len(tail) < atKill; i-- {
		if got[i].conn == 1 {
			tail[got[i].payload] = true
		}
	}
	dups, excused, again := 0, 0, 0
	for _, d := range got {
		var i int
		if _, err := fmt.Sscanf(d.payload, "m%d", &i); err != nil {
			continue
		}
		f, seen := first[d.payload]
		switch {
		case !seen:
			first[d.payload] = d
		case i%2 == 1 && (!d.dup || d.id != f.id) && !resent[d.payload] && f.conn == 1 && d.conn == 2 && tail[d.payload]:
			excused++
			t.Logf("QoS 2 message %s delivered on the first connection just before the kill and replayed on the second: the documented window at the kill",
				d.payload)
		case i%2 == 1 && (!d.dup || d.id != f.id) && !resent[d.payload]:
			t.Errorf("QoS 2 message %s delivered twice: first with packet ID %d on connection %d, then %d (DUP %v) on connection %d",
				d.payload, f.id, f.conn, d.id, d.dup, d.conn)
		case i%2 == 1 && (!d.dup || d.id != f.id):
			again++
			t.Logf("QoS 2 message %s delivered twice (packet IDs %d and %d): the publisher sent it again", d.payload, f.id, d.id)
		default:
			dups++
		}
	}
	t.Logf("QoS 1 duplicates and QoS 2 DUP resends: %d; QoS 2 duplicates in the window at the kill: %d; sent again by the publisher: %d", dups, excused, again)
}
