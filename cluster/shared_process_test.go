package cluster_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
)

// sharedLedger records which member received each message.
type sharedLedger struct {
	mu  sync.Mutex
	got map[string][]string // payload → members that received it, in order
	by  map[string]int      // member → messages received, probes left out
}

func (l *sharedLedger) add(member, payload string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got[payload] = append(l.got[payload], member)
	if !strings.HasPrefix(payload, "probe") {
		l.by[member]++
	}
}

// has reports whether member received payload.
func (l *sharedLedger) has(member, payload string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.got[payload], member)
}

// count returns how many payloads starting with prefix arrived, at least
// once, and the payloads that arrived more than once, with their members.
func (l *sharedLedger) count(prefix string) (distinct int, dups []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, ms := range l.got {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		distinct++
		if len(ms) > 1 {
			dups = append(dups, fmt.Sprintf("%q to %v", p, ms))
		}
	}
	return distinct, dups
}

func (l *sharedLedger) received(member string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.by[member]
}

// v5Member is an MQTT 5.0 client written with the codec, which
// acknowledges every QoS 1 and 2 delivery and records it in the ledger.
func v5Member(t *testing.T, addr, clientID, filter string, l *sharedLedger) *raw {
	t.Helper()
	r := dialRaw(t, addr)
	if _, code := r.connect(clientID, codec.ProtocolLevel5, true); code != 0 {
		t.Fatalf("CONNECT %s: reason %#x", clientID, code)
	}
	r.write(codec.AppendSubscribeV5(nil, 1, nil, []codec.Subscription{{TopicFilter: []byte(filter), QoS: 2}}))
	if f := r.expectType(codec.TypeSuback); f[len(f)-1] != 2 {
		t.Fatalf("SUBACK % x, want granted QoS 2", f)
	}
	go func() {
		var p codec.Publish
		for {
			var f []byte
			select {
			case f = <-r.frames:
			case <-r.gone:
				return
			}
			switch codec.PacketType(f) {
			case codec.TypePublish:
				if _, err := p.DecodeFromServer(f, codec.ProtocolLevel5); err != nil {
					l.add(clientID, "undecodable: "+err.Error())
					continue
				}
				l.add(clientID, string(p.Payload))
				switch p.QoS {
				case 1:
					r.c.Write(codec.AppendPuback(nil, p.PacketID))
				case 2:
					r.c.Write(codec.AppendPubrec(nil, p.PacketID))
				}
			case codec.TypePubrel:
				r.c.Write(codec.AppendPubcomp(nil, uint16(f[2])<<8|uint16(f[3])))
			}
		}
	}()
	return r
}

// TestClusterSharedSubscriptions runs three glassmq processes with members
// of one shared subscription group on every node (MQTT 3.1.1 clients on a
// and c, an MQTT 5.0 client on b), a publisher on every node and a plain
// subscriber of the same filter on b: each message reaches exactly one
// member cluster-wide, at every QoS, the members on more than one node
// share the work, the plain subscriber gets everything once, and once a
// member leaves the others get its share [MQTT5-4.8.2-4].
func TestClusterSharedSubscriptions(t *testing.T) {
	longtest.Skip(t, "starts three broker processes")
	t.Parallel() // ports and data directories of its own (main_test.go)
	nodes := startCluster(t, 3)
	const filter, shared = "sh/#", "$share/workers/sh/#"
	members := &sharedLedger{got: map[string][]string{}, by: map[string]int{}}
	plain := &sharedLedger{got: map[string][]string{}, by: map[string]int{}}
	memberHandler := func(id string) mqtt.MessageHandler {
		return func(_ mqtt.Client, m mqtt.Message) { members.add(id, string(m.Payload())) }
	}
	memberA := client(t, nodes[0], "member-a", nil)
	if tok := memberA.Subscribe(shared, 2, memberHandler("member-a")); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	v5Member(t, nodes[1].mqtt, "member-b", shared, members)
	memberC := client(t, nodes[2], "member-c", nil)
	if tok := memberC.Subscribe(shared, 2, memberHandler("member-c")); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	sub := client(t, nodes[1], "plain-b", nil)
	if tok := sub.Subscribe(filter, 2, func(_ mqtt.Client, m mqtt.Message) { plain.add("plain-b", string(m.Payload())) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pubs := make([]mqtt.Client, len(nodes))
	for i, nd := range nodes {
		pubs[i] = client(t, nd, "pub-"+nd.name, nil)
	}

	// Wait until every node sees every member's and the plain subscriber's
	// interest: a probe from each node has reached each member (NATS picks
	// a node at random, so a few probes do) and the plain subscriber.
	everyone := []string{"member-a", "member-b", "member-c"}
	for i, nd := range nodes {
		deadline := time.Now().Add(30 * time.Second)
		for k := 0; ; k++ {
			tag := fmt.Sprintf("probe %s", nd.name)
			done := plainSaw(plain, tag)
			for _, m := range everyone {
				done = done && sawPrefix(members, m, tag)
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("probes from %s did not reach every member and the plain subscriber", nd.name)
			}
			publish(t, pubs[i], "sh/probe", 0, false, fmt.Sprintf("%s %d", tag, k))
			time.Sleep(20 * time.Millisecond)
		}
	}

	const n = 100
	for qos := byte(0); qos <= 2; qos++ {
		prefix := fmt.Sprintf("q%d ", qos)
		sendAll(t, pubs, nodes, qos, prefix, n)
		waitFor(t, fmt.Sprintf("%d QoS %d messages at the members", 3*n, qos), func() bool {
			got, _ := members.count(prefix)
			return got == 3*n
		})
		waitFor(t, fmt.Sprintf("%d QoS %d messages at the plain subscriber", 3*n, qos), func() bool {
			got, _ := plain.count(prefix)
			return got == 3*n
		})
	}
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	for qos := byte(0); qos <= 2; qos++ {
		prefix := fmt.Sprintf("q%d ", qos)
		if _, dups := members.count(prefix); len(dups) > 0 {
			t.Errorf("QoS %d: %d messages reached more than one member or one twice, such as %s", qos, len(dups), dups[0])
		}
		if _, dups := plain.count(prefix); len(dups) > 0 {
			t.Errorf("QoS %d: the plain subscriber got %d messages twice, such as %s", qos, len(dups), dups[0])
		}
	}
	spread := 0
	for _, m := range everyone {
		t.Logf("%s received %d of %d", m, members.received(m), 9*n)
		if members.received(m) > 0 {
			spread++
		}
	}
	if spread < 2 {
		t.Errorf("the members of one node received everything; want the group's messages spread over the nodes")
	}

	// member-c leaves: once no probe is lost to it, its share goes to a and b.
	if tok := memberC.Unsubscribe(shared); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("unsubscribe: %v", tok.Error())
	}
	left := members.received("member-c")
	for i, nd := range nodes {
		inRow := 0
		deadline := time.Now().Add(60 * time.Second)
		for k := 0; inRow < 20; k++ {
			if time.Now().After(deadline) {
				t.Fatalf("probes from %s still lost after member-c left", nd.name)
			}
			p := fmt.Sprintf("probe2 %s %d", nd.name, k)
			publish(t, pubs[i], "sh/probe", 1, false, p)
			arrived := waitBriefly(func() bool { return members.has("member-a", p) || members.has("member-b", p) })
			if arrived {
				inRow++
			} else {
				inRow = 0
			}
		}
	}
	sendAll(t, pubs, nodes, 1, "after ", n)
	waitFor(t, "the messages published after member-c left, at member-a and member-b", func() bool {
		got, _ := members.count("after ")
		return got == 3*n
	})
	if _, dups := members.count("after "); len(dups) > 0 {
		t.Errorf("after member-c left: %d messages reached more than one member, such as %s", len(dups), dups[0])
	}
	if got := members.received("member-c"); got != left {
		t.Errorf("member-c received %d messages after it left", got-left)
	}
}

// sendAll publishes n messages at qos from each publisher, payloads
// prefix, node name and number, and waits for every acknowledgement.
func sendAll(t *testing.T, pubs []mqtt.Client, nodes []*node, qos byte, prefix string, n int) {
	t.Helper()
	var toks []mqtt.Token
	for k := range n {
		for i, p := range pubs {
			toks = append(toks, p.Publish("sh/work", qos, false, fmt.Sprintf("%s%s %d", prefix, nodes[i].name, k)))
		}
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
}

func plainSaw(l *sharedLedger, prefix string) bool { return sawPrefix(l, "plain-b", prefix) }

// sawPrefix reports whether member received a payload starting with prefix.
func sawPrefix(l *sharedLedger, member, prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, ms := range l.got {
		if strings.HasPrefix(p, prefix) && slices.Contains(ms, member) {
			return true
		}
	}
	return false
}

// waitBriefly polls cond for up to two seconds.
func waitBriefly(cond func() bool) bool {
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
