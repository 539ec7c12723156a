package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// probePublisher is the publisher index in the payload of crossnode's
// readiness probes; subscribers drop such messages.
const probePublisher = ^uint32(0)

// probeRound is how long a readiness round waits for its probes to cross.
const probeRound = 300 * time.Millisecond

// CrossNodeReady is how long RunCrossNode waits, at most, for every
// subscription to be reachable from the publishers' node.
const CrossNodeReady = 60 * time.Second

// RunCrossNode runs the crossnode scenario against the brokers at nodes
// (MQTT host:port each, nodes of one cluster): c.Pairs publisher and
// subscriber pairs, one topic each, the publishers on nodes[0] and
// subscriber i on nodes[1+i%(len(nodes)-1)], so that every message crosses
// from one node to another; with one node, everyone connects to it. Before
// timing, each publisher sends QoS 0 probes to its topic until its
// subscriber has one (interest takes a while to spread across nodes), so a
// message is never lost to a subscription still on its way. Then it runs as
// pairs does, at c.QoS, for c.Duration, and counts delivered msg/s, lost,
// duplicate and reordered messages and end-to-end latency under that load.
// It sets c.Addr and c.Scenario itself.
func RunCrossNode(c Config, nodes []string) (Result, error) {
	return runCrossNode(c, nodes, "crossnode")
}

// RunCrossNodeLatency is the latency of crossnode: one publisher on
// nodes[0] sending c.Rate messages per second, its subscriber on nodes[1]
// (nodes[0] if alone), so that the percentiles measure a message crossing
// nodes rather than the queues of a saturated run. Its scenario is
// "crossnode-latency".
func RunCrossNodeLatency(c Config, nodes []string) (Result, error) {
	c.Pairs = 1
	return runCrossNode(c, nodes, "crossnode-latency")
}

// RunCrossNodePersistent is crossnode with every client connecting with
// clean session 0 (c.Persistent), so the broker keeps, and a glassmq
// cluster replicates, the subscribers' sessions and what is queued for
// them. Its scenario is "crossnode-persistent".
func RunCrossNodePersistent(c Config, nodes []string) (Result, error) {
	c.Persistent = true
	return runCrossNode(c, nodes, "crossnode-persistent")
}

func runCrossNode(c Config, nodes []string, scenario string) (Result, error) {
	if len(nodes) == 0 {
		return Result{}, errors.New("bench: -nodes: want at least one host:port")
	}
	c.Addr = nodes[0]
	c.Scenario = "pairs" // the settings pairs checks are the ones used here
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	if c.Relay {
		return Result{}, errors.New("bench: crossnode needs MQTT brokers, not the relay")
	}
	for _, a := range nodes {
		if err := c.checkAddr(a); err != nil {
			return Result{}, fmt.Errorf("bench: -nodes %q: %w", a, err)
		}
	}
	c.Scenario = scenario
	r := newResult(&c)
	r.Nodes = len(nodes)
	// A cluster may pause deliveries for a while (a replicated write, a
	// leader moving): wait up to 5 s of silence before counting losses.
	f := &flow{cfg: &c, top: topologyOf(&Config{Scenario: "pairs", Pairs: c.Pairs}), stall: 5 * time.Second}
	if err := f.connectAcross(nodes); err != nil {
		f.close()
		return r, err
	}
	f.start()
	f.run(&r, label(&c))
	return r, nil
}

// subNode returns the node subscriber i connects to.
func subNode(i, nodes int) int {
	if nodes == 1 {
		return 0
	}
	return 1 + i%(nodes-1)
}

// connectAcross opens, handshakes and subscribes every connection of a
// crossnode run, subscribers first, and waits until each subscription is
// reached by a probe from its publisher. On error the caller must close.
func (f *flow) connectAcross(nodes []string) error {
	c := f.cfg
	f.clock = newClock()
	f.nonce = newNonce()
	// Generous: a JetStream-backed subscription is a replicated consumer.
	deadline := time.Now().Add(30 * time.Second)
	hint := int(min(c.Count, 1<<20))
	for i, t := range f.top.subTopic {
		nc := *c
		nc.Addr = nodes[subNode(i, len(nodes))]
		conn, err := nc.dialFlow(5 * time.Second)
		if err != nil {
			return fmt.Errorf("subscriber %d on %s: %w", i, nc.Addr, err)
		}
		s := newSubscriber(i, conn, f.clock, len(f.top.pubTopic), hint)
		f.subs = append(f.subs, s)
		if err := handshake(conn, fmt.Sprintf("bench-%s-s%d", f.nonce, i), c, "", "", deadline); err != nil {
			return fmt.Errorf("subscriber %d on %s: %w", i, nc.Addr, err)
		}
		if err := subscribe(conn, f.topic(t), c.QoS, deadline); err != nil {
			return fmt.Errorf("subscriber %d on %s: %w", i, nc.Addr, err)
		}
	}
	for i, t := range f.top.pubTopic {
		conn, err := c.dialFlow(5 * time.Second)
		if err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
		rate := 0.0
		if c.Scenario == "crossnode-latency" {
			rate = c.Rate
		}
		p := newPublisher(uint32(i), conn, f.topic(t), c.QoS, c.Payload, c.Window, c.Count, rate, f.clock)
		f.pubs = append(f.pubs, p)
		if err := handshake(conn, fmt.Sprintf("bench-%s-p%d", f.nonce, i), c, "", "", deadline); err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
	}
	return f.probe(time.Now().Add(CrossNodeReady))
}

// probe publishes a QoS 0 probe from each publisher whose subscriber has
// not had one yet, waits a round for them, and repeats until every
// subscriber has had one or until passes. It runs before the readers start
// and reads subscribers' packets one at a time, never past a packet's end;
// later copies of a probe reach the readers, which drop them.
func (f *flow) probe(until time.Time) error {
	ready := make([]bool, len(f.subs))
	left := len(f.subs)
	payload := make([]byte, MinPayload)
	for round := uint32(0); left > 0; round++ {
		if time.Now().After(until) {
			return fmt.Errorf("bench: %d of %d subscriptions not reached by a message from the publishers' node after %s", left, len(f.subs), CrossNodeReady)
		}
		for i := range f.subs {
			if ready[i] {
				continue
			}
			p := f.pubs[i] // pairs: publisher i has subscriber i's topic
			putHeader(payload, probePublisher, round, 0)
			pkt := codec.AppendPublish(nil, &codec.Publish{TopicName: p.topic, Payload: payload})
			if _, err := p.conn.Write(pkt); err != nil {
				return fmt.Errorf("publisher %d: probe: %w", i, err)
			}
		}
		wait := time.Now().Add(probeRound)
		for i, s := range f.subs {
			if ready[i] {
				continue
			}
			got, err := readProbe(s.conn, wait)
			if err != nil {
				return fmt.Errorf("subscriber %d: probe: %w", i, err)
			}
			if got {
				ready[i] = true
				left--
			}
		}
	}
	return nil
}

// readProbe reads packets from c until a probe or wait; it reports whether
// a probe came. A packet begun before wait is read whole.
func readProbe(c net.Conn, wait time.Time) (bool, error) {
	defer c.SetReadDeadline(time.Time{})
	var pub codec.Publish
	for {
		_ = c.SetReadDeadline(wait)
		pkt, err := readPacket(c)
		if errors.Is(err, os.ErrDeadlineExceeded) && len(pkt) == 0 {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if codec.PacketType(pkt) != codec.TypePublish {
			continue
		}
		if _, err := pub.Decode(pkt); err != nil {
			return false, err
		}
		if idx, _, _, ok := header(pub.Payload); ok && idx == probePublisher {
			return true, nil
		}
	}
}

// readPacket reads exactly one MQTT packet from c: the first byte under c's
// deadline, the rest within 10 s. On a deadline before the first byte it
// returns no bytes and the deadline error.
func readPacket(c net.Conn) ([]byte, error) {
	b := make([]byte, 1, 64)
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var one [1]byte
	size, shift := 0, 0
	for {
		if _, err := io.ReadFull(c, one[:]); err != nil {
			return b, err
		}
		b = append(b, one[0])
		size |= int(one[0]&0x7f) << shift
		if one[0]&0x80 == 0 {
			break
		}
		if shift += 7; shift > 21 {
			return b, errors.New("bench: remaining length of more than 4 bytes")
		}
	}
	at := len(b)
	b = append(b, make([]byte, size)...)
	_, err := io.ReadFull(c, b[at:])
	return b, err
}
