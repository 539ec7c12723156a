package cluster

import (
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Shared subscriptions across the cluster. A shared subscription
// "$share/GROUP/FILTER" gets each matching message once, cluster-wide,
// however many nodes hold members of GROUP at FILTER:
//
//   - Every node with members of a group at a filter queue-subscribes, on
//     its second connection (Node.sc, with echo), to the filter's subjects
//     under SharedPrefix, with a queue name made of the group and the
//     filter (queueName). NATS gives each message to one queue subscriber
//     of a queue name, cluster-wide, so to one node, chosen at random
//     among the nodes with members (each holds one subscription, so each
//     is equally likely).
//   - The publishing node sends each topic's batch on the shared subject
//     as well as on the normal one, through the same second connection,
//     which has echo: its own queue subscriptions are candidates like
//     everyone's. It does not give a forwarded topic to its own members
//     directly. With the embedded server it skips the shared copy when no
//     node has a queue subscription that matches.
//   - The node NATS picked hands the batch to its engine with the group
//     and filter (SharedLocal.DeliverShared), which gives each message to
//     one member of that group only, picked by the node's strategy. Its
//     normal subscribers are served by the normal batch, never by this one.
//
// NATS chooses per NATS message, which is one topic's batch of a loop
// round, so a burst on one topic goes to one node; successive rounds
// spread.
//
// QoS 1/2. A marker (confirm.go) covers what left on the node's main
// connection; shared batches leave on the other one, and NATS keeps order
// per connection only. So when shared batches left since the last marker,
// the marker carries a flag, and the same marker also goes on
// SharedMarkerSubject through the second connection, behind those batches.
// A node answers a flagged marker only once it has also taken the shared
// marker with that number (or a later one), so its answer covers its share
// of the shared batches too; the publishing node counts its own shared
// marker before it lets the acks go (confirmer.self), as it may be the
// node NATS picked.
const (
	SharedPrefix        = "mq.sh"  // + the topic's tokens: shared subscription traffic
	SharedMarkerSubject = "mq.smk" // markers behind shared batches, on the second connection
)

// markShared is the flag byte after a marker's number: shared batches left
// before it, and a copy of the marker follows them on SharedMarkerSubject.
const markShared = 1

// SharedLocal is what a Local implements to serve shared subscriptions
// across the cluster. DeliverShared is called on the Router's goroutine,
// like DeliverRemote; each calls deliver once per message, which the engine
// gives to one member of the group at filter (a valid filter, without the
// "$share/GROUP/" prefix), and to nobody else. from is the publisher's
// client ID. The slices are valid only during deliver. broker.Engine
// implements it.
type SharedLocal interface {
	DeliverShared(group, filter string, each func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte)))
}

// sharedOptions returns the options of the node's second connection: those
// of the first, which has no NoEcho among them, under another name.
func sharedOptions(opts []nats.Option, node string) []nats.Option {
	return append(slices.Clone(opts), nats.Name("glassmq "+node+" shared"))
}

// queueName returns the NATS queue name of group at filter. A group is one
// per filter ($share/G/a/+ and $share/G/a/# are two), and NATS groups queue
// subscribers by name across subjects, so the name holds both, each as a
// token (no spaces, no dots).
func queueName(group, filter string) string {
	return EncodeToken(group) + "." + EncodeToken(filter)
}

// parseQueue reverses queueName.
func parseQueue(q string) (group, filter string, ok bool) {
	g, f, ok := strings.Cut(q, ".")
	if !ok {
		return "", "", false
	}
	var err error
	if group, err = DecodeToken(g); err != nil {
		return "", "", false
	}
	if filter, err = DecodeToken(f); err != nil {
		return "", "", false
	}
	return group, filter, true
}

// sharedSubjects returns the subjects under SharedPrefix that together
// match the topics filter matches, or nil for a filter that matches only
// $-topics, which are never forwarded (their groups are served by each
// node alone).
func sharedSubjects(filter string) []string {
	if strings.HasPrefix(filter, "$") {
		return nil
	}
	subs := FilterSubjects(filter)
	for i, s := range subs {
		subs[i] = SharedPrefix + s[len(TopicPrefix):]
	}
	return subs
}

// SharedInterest records that the shared subscription group at filter (a
// valid filter without the $share prefix) gained its first local member
// (add) or lost its last (!add): the node then takes part in, or leaves,
// the choice of one node per message for that group. Safe for concurrent
// use; calls for one group and filter must come in order.
func (r *Router) SharedInterest(group, filter string, add bool) {
	q := queueName(group, filter)
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	for _, s := range sharedSubjects(filter) {
		key := s + " " + q
		c := r.subs[key]
		switch {
		case add && c != nil:
			c.refs++
		case add:
			sub, err := r.node.sc.ChanQueueSubscribe(s, q, r.in)
			if err != nil {
				r.log.Error("cluster: shared subscribe", "group", group, "filter", filter, "subject", s, "err", err)
				continue
			}
			r.subs[key] = &counted{sub: sub, refs: 1}
		case c != nil:
			if c.refs--; c.refs == 0 {
				c.sub.Unsubscribe()
				delete(r.subs, key)
			}
		}
	}
}

// publishSharedLocked sends p's batch to the shared subscriptions of its
// topic, unless the embedded server knows no node with one. The caller
// holds r.mu.
func (r *Router) publishSharedLocked(p *pendingBatch) {
	if p.shared == "" {
		return
	}
	if srv := r.node.srv; srv != nil && !srv.GlobalAccount().SubscriptionInterest(p.shared) {
		return
	}
	if err := r.node.sc.Publish(p.shared, p.buf); err != nil {
		r.log.Warn("cluster: forward to shared subscriptions", "subject", p.shared, "err", err)
		return
	}
	r.sharedSent = true
}

// sharedMarkLocked follows the shared batches with a copy of the marker
// just built in r.mk (flagged markShared). The caller holds r.mu.
func (r *Router) sharedMarkLocked() {
	if err := r.node.sc.Publish(SharedMarkerSubject, r.mk); err != nil {
		r.log.Warn("cluster: shared marker", "err", err)
	}
	r.sharedSent = false
}

// sharedState is run's memory for the shared path: the last shared marker
// taken from each origin, and the flagged markers waiting for theirs.
type sharedState struct {
	seen    map[string]uint64        // by origin: number of its last shared marker taken
	waiting map[string]*heldMarker   // by origin: a marker to answer once seen reaches need
	local   SharedLocal              // nil when the engine cannot serve shared subscriptions
	groups  map[string]sharedGroupID // by queue name: parsed once
}

// heldMarker is a marker whose answer waits for the origin's shared marker.
type heldMarker struct {
	need uint64 // the number of the earliest flagged marker not yet covered
	data []byte // the latest marker of that origin, answered when seen >= need
}

type sharedGroupID struct{ group, filter string }

// parseMarker reads a marker's origin, number and flag.
func parseMarker(data []byte) (origin []byte, seq uint64, flagged, ok bool) {
	_, b, ok := field(data)
	if ok {
		origin, b, ok = field(b)
	}
	if ok {
		seq, b, ok = uvarint(b)
	}
	return origin, seq, ok && len(b) > 0 && b[0]&markShared != 0, ok
}

// takeMarker answers the marker data (from the main connection) now, or,
// when it is flagged or a flagged one of its origin still waits, once the
// origin's shared marker with that number was taken.
func (r *Router) takeMarker(rs *runState, data []byte) {
	origin, seq, flagged, ok := parseMarker(data)
	if !ok {
		r.Dropped.Add(1)
		return
	}
	ss := &rs.shared
	h := ss.waiting[string(origin)]
	if !flagged && h == nil || ss.seen[string(origin)] >= seq {
		if h != nil {
			delete(ss.waiting, string(origin))
		}
		r.answerWhenDurable(data) // after the engine made it durable (route_durable.go)
		return
	}
	if h == nil {
		if ss.waiting == nil {
			ss.waiting = map[string]*heldMarker{}
		}
		h = &heldMarker{}
		ss.waiting[string(origin)] = h
	}
	if flagged {
		h.need = seq // shared markers come in order: the latest flagged one covers the earlier
	}
	h.data = append(h.data[:0], data...) // answers are cumulative: the latest covers the earlier
}

// takeSharedMarker records an origin's shared marker and answers the
// marker that waited for it. This node's own shared marker confirms, for
// its own acks, that its share of its own shared batches reached the engine.
func (r *Router) takeSharedMarker(rs *runState, data []byte) {
	origin, seq, _, ok := parseMarker(data)
	if !ok {
		r.Dropped.Add(1)
		return
	}
	if string(origin) == r.origin {
		r.selfShared(seq)
		return
	}
	ss := &rs.shared
	if ss.seen == nil {
		ss.seen = map[string]uint64{}
	}
	if seq > ss.seen[string(origin)] {
		ss.seen[string(origin)] = seq
	}
	if h := ss.waiting[string(origin)]; h != nil && seq >= h.need {
		delete(ss.waiting, string(origin))
		r.answerWhenDurable(h.data)
	}
}

// takeShared decodes a batch that NATS gave this node for one shared
// subscription (queue is the name of the queue subscription it came
// through) and hands it to the engine for that group only.
func (r *Router) takeShared(rs *runState, m *inMsg) {
	ss := &rs.shared
	if ss.local == nil {
		r.Dropped.Add(1)
		return
	}
	id, ok := ss.groups[m.queue]
	if !ok {
		g, f, ok := parseQueue(m.queue)
		if !ok {
			r.undecodable(m, errEnvelope)
			return
		}
		if ss.groups == nil || len(ss.groups) >= maxCachedSubjects {
			ss.groups = map[string]sharedGroupID{}
		}
		id = sharedGroupID{g, f}
		ss.groups[m.queue] = id
	}
	var br batchReader
	if err := br.init(m.data); err != nil {
		r.undecodable(m, err)
		return
	}
	batch := rs.sharedBatch[:0]
	for {
		var e envelope
		ok, err := br.next(&e)
		if err != nil {
			r.undecodable(m, err)
			return
		}
		if !ok {
			break
		}
		batch = append(batch, e)
	}
	r.deliver(rs) // what came before, first
	ss.local.DeliverShared(id.group, id.filter, func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte)) {
		for i := range batch {
			e := &batch[i]
			deliver(e.topic, e.payload, e.props, e.qos, e.retain, e.expires, e.from)
		}
	})
	r.Received.Add(uint64(len(batch)))
	r.SharedReceived.Add(uint64(len(batch)))
	clear(batch)
	rs.sharedBatch = batch[:0]
}

// appendMarkFlag appends the flag that says a shared marker follows, when
// shared batches left since the last marker. The caller holds r.mu.
func (r *Router) appendMarkFlag(mk []byte) ([]byte, bool) {
	if !r.sharedSent {
		return mk, false
	}
	return append(mk, markShared), true
}

// selfShared records that this node took its own shared marker seq back,
// so everything it sent to shared subscriptions before it, and NATS gave
// to this node, reached its engine.
func (r *Router) selfShared(seq uint64) {
	c := &r.confirm
	c.mu.Lock()
	c.self = max(c.self, seq)
	fns := r.advanceLocked(time.Now())
	c.mu.Unlock()
	run(fns)
}
