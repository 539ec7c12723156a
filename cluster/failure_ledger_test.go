package cluster_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ledger accounts for every QoS 1/2 message of a failure test: each
// publish with the times it was sent and acknowledged, each delivery to
// each subscriber. Safe for concurrent use.
type ledger struct {
	mu   sync.Mutex
	msgs map[string]*sentMsg // by payload
	subs map[string]*subscriber
}

// sentMsg is one publish.
type sentMsg struct {
	id           string // the payload: publisher/sequence
	pub          *publisher
	qos          byte
	start, acked time.Time // acked is zero when the publisher got no PUBACK/PUBCOMP
	// resent: the publisher's connection broke while the message was in
	// flight, so it was sent again, possibly to another node.
	resent bool
}

func newLedger() *ledger {
	return &ledger{msgs: make(map[string]*sentMsg), subs: make(map[string]*subscriber)}
}

// subscriber is a persistent paho subscriber of filter at QoS 2; it
// subscribes again on every connection (a session that did not survive
// has no subscription).
type subscriber struct {
	name, filter string
	node         *fnode // its node when pinned, nil when it knows every node
	c            mqtt.Client
	got          map[string]int // payload -> deliveries; guarded by the ledger's mu
	// firstConn is the connection (count of connects) of a payload's
	// first delivery; resumed counts later deliveries that came with DUP
	// on a later connection: the broker sent the message again after the
	// subscriber resumed its session without its PUBREC, and paho, which
	// keeps no QoS 2 receive state, delivers it again. Both guarded by the
	// ledger's mu.
	firstConn map[string]int64
	resumed   map[string]int
	probes    atomic.Int64
	ready     time.Time // its subscription is known to cross from every node; guarded by mu
	connects  atomic.Int64
}

// startSubscriber connects a subscriber to first. Pinned, it knows only
// first's address (and returns to it after a restart); else every node's.
func (l *ledger) startSubscriber(t *testing.T, c *fcluster, first *fnode, name, filter string, pinned bool) *subscriber {
	t.Helper()
	s := &subscriber{name: name, filter: filter, got: make(map[string]int), firstConn: make(map[string]int64),
		resumed: make(map[string]int)}
	o := c.pahoOptions(first, name)
	if pinned {
		s.node = first
		o.Servers = o.Servers[:1]
	}
	handler := func(_ mqtt.Client, m mqtt.Message) {
		id := string(m.Payload())
		if strings.HasPrefix(id, "probe") {
			s.probes.Add(1)
			return
		}
		conn := s.connects.Load()
		l.mu.Lock()
		if s.got[id] == 0 {
			s.firstConn[id] = conn
		} else if m.Duplicate() && conn > s.firstConn[id] {
			s.resumed[id]++
		}
		s.got[id]++
		l.mu.Unlock()
	}
	o.SetDefaultPublishHandler(handler)
	o.SetOnConnectHandler(func(cl mqtt.Client) {
		s.connects.Add(1)
		cl.Subscribe(filter, 2, handler) // paho waits for the SUBACK on its own; a failure shows as lost messages
	})
	s.c = mqtt.NewClient(o)
	if tok := s.c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", name, tok.Error())
	}
	t.Cleanup(func() { s.c.Disconnect(0) })
	l.mu.Lock()
	l.subs[name] = s
	l.mu.Unlock()
	return s
}

// probeFrom publishes QoS 0 probes on topic from a clean client on each
// of nodes until s receives one from each: its subscription then crosses
// the cluster from every one of them.
func (s *subscriber) probeFrom(t *testing.T, topic string, nodes ...*fnode) {
	t.Helper()
	for _, nd := range nodes {
		pc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + nd.mqtt).
			SetClientID(fmt.Sprintf("probe-%s-%s-%d", s.name, nd.name, time.Now().UnixNano())).SetCleanSession(true).
			SetConnectTimeout(10 * time.Second))
		waitLong(t, "a probe client on "+nd.name, 2*time.Minute, func() bool {
			tok := pc.Connect()
			return tok.WaitTimeout(10*time.Second) && tok.Error() == nil
		})
		before := s.probes.Load()
		waitLong(t, "a probe from "+nd.name+" to reach "+s.name, 2*time.Minute, func() bool {
			pc.Publish(topic, 0, false, "probe").WaitTimeout(5 * time.Second)
			time.Sleep(100 * time.Millisecond)
			return s.probes.Load() > before
		})
		pc.Disconnect(0)
	}
}

// markReady notes that from now on s is owed every acknowledged message.
func (l *ledger) markReady(s *subscriber) {
	l.mu.Lock()
	s.ready = time.Now()
	l.mu.Unlock()
}

// tally is the accounting of a run, per QoS (index 1 and 2).
type tally struct {
	Sent, Acked, Delivered [3]int
	// Lost: acknowledged, owed to a subscriber and never delivered to it.
	// LostExcused: acknowledged and never delivered, where the test does
	// not claim a guarantee (see the test's owed function).
	Lost, LostExcused [3]int
	// Dup: deliveries beyond the first; DupExcused: of those, QoS 2 ones
	// whose publisher had to send the message again after its connection
	// broke, that were not owed to the subscriber, or that the broker sent
	// again with DUP after the subscriber resumed its session (DupResumed).
	Dup, DupExcused [3]int
	// DupResumed: of the excused QoS 2 duplicates, those sent again with
	// DUP after the subscriber resumed its session (the client's to drop).
	DupResumed int
	Examples   []string // a few violations, for the failure message
}

// account counts everything; owed says whether s must have received the
// acknowledged message m exactly as its QoS promises (at least once for
// QoS 1, exactly once for QoS 2).
func (l *ledger) account(owed func(s *subscriber, m *sentMsg) bool) tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	var tl tally
	var subs []*subscriber
	for _, s := range l.subs {
		subs = append(subs, s)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].name < subs[j].name })
	ids := make([]string, 0, len(l.msgs))
	for id := range l.msgs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	example := func(format string, a ...any) {
		if len(tl.Examples) < 10 {
			tl.Examples = append(tl.Examples, fmt.Sprintf(format, a...))
		}
	}
	for _, id := range ids {
		m := l.msgs[id]
		tl.Sent[m.qos]++
		if !m.acked.IsZero() {
			tl.Acked[m.qos]++
		}
		for _, s := range subs {
			n := s.got[id]
			if n > 0 {
				tl.Delivered[m.qos]++
			}
			if n > 1 {
				tl.Dup[m.qos] += n - 1
				switch {
				case m.qos != 2:
				case m.resent || !owed(s, m):
					tl.DupExcused[2] += n - 1
				default:
					tl.DupExcused[2] += s.resumed[id]
					tl.DupResumed += s.resumed[id]
					if n-1 > s.resumed[id] {
						example("%s received QoS 2 message %s %d times", s.name, id, n)
					}
				}
			}
			if n == 0 && !m.acked.IsZero() && !s.ready.IsZero() && m.start.After(s.ready) {
				if owed(s, m) {
					tl.Lost[m.qos]++
					example("%s never received acknowledged QoS %d message %s (sent %s, acked %s)", s.name, m.qos, id,
						m.start.Format("15:04:05.000"), m.acked.Format("15:04:05.000"))
				} else {
					tl.LostExcused[m.qos]++
				}
			}
		}
	}
	return tl
}

// violations is how many broken guarantees tl counts: QoS 1/2 messages
// lost where owed, and QoS 2 duplicates that are not excused.
func (tl tally) violations() int {
	return tl.Lost[1] + tl.Lost[2] + tl.Dup[2] - tl.DupExcused[2]
}

func (tl tally) String() string {
	var b strings.Builder
	for q := 1; q <= 2; q++ {
		fmt.Fprintf(&b, "QoS %d: sent %d, acknowledged %d, deliveries %d, lost %d, lost where not guaranteed %d, duplicates %d",
			q, tl.Sent[q], tl.Acked[q], tl.Delivered[q], tl.Lost[q], tl.LostExcused[q], tl.Dup[q])
		if q == 2 {
			fmt.Fprintf(&b, " (excused %d: resent by a publisher that lost its node, not guaranteed to the subscriber, or sent again with DUP after the subscriber resumed its session, %d)",
				tl.DupExcused[2], tl.DupResumed)
		}
		b.WriteString("\n")
	}
	for _, e := range tl.Examples {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// settle waits until the subscribers' deliveries stop growing for a few
// seconds (up to two minutes), so that the accounting sees all of them.
func (l *ledger) settle() {
	count := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		n := 0
		for _, s := range l.subs {
			for _, k := range s.got {
				n += k
			}
		}
		return n
	}
	last, since := count(), time.Now()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 5*time.Second {
			return
		}
	}
}
