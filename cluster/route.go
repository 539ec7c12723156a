package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Local is the node's MQTT engine as the Router sees it. DeliverRemote
// calls each once, on the Router's goroutine; each calls deliver for every
// message of a batch, which the engine routes to its local subscribers
// (and, with retain, stores as retained) as if published on this node,
// without forwarding it again. The slices passed to deliver are valid only
// during the call. broker.Engine implements it.
type Local interface {
	DeliverRemote(each func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64)))
	// StoreRetained stores retained messages (an empty payload clears
	// one) without delivering them to anyone, the same way.
	StoreRetained(each func(store func(topic, payload, props []byte, qos byte, expires int64)))
}

// Router forwards local PUBLISHes to the nodes that want them and hands
// messages from other nodes to the local engine. Its methods are safe for
// concurrent use.
//
// Interest: for each topic filter with local subscribers the engine calls
// Interest(filter, true) once and Interest(filter, false) when the last one
// goes; the Router keeps one NATS subscription per subject those filters
// map to, counted, so NATS sends a message only to nodes that want it and
// drops it when none does.
//
// Batches: Forward gathers the messages of one topic, numbered under one
// lock, and Flush (at the end of every loop round) publishes each topic's
// batch as one NATS message through the node's one connection. NATS keeps
// one connection's order to each receiver, and the receiver hands batches
// to the engine from a single goroutine, so one publisher's messages on one
// topic arrive in the order the publisher's node routed them. A batch
// matching several of the receiver's subscriptions arrives once per
// subscription, back to back; the origin and number of its first message
// drop the copies.
//
// Shared subscriptions ($share/GROUP/FILTER) are not mapped yet: they are
// to become NATS queue groups, one delivery per group cluster-wide.
type Router struct {
	node   *Node
	local  Local
	log    *slog.Logger
	origin string // this run of this node: name and a start time, so numbers restart safely

	mu           sync.Mutex // orders numbering and publishing; guards what follows
	seq          uint64
	subj         []byte
	env          []byte
	pending      map[string]*pendingBatch // by topic: forwards waiting for Flush
	order        []*pendingBatch          // the same, in the order their topics came
	free         []*pendingBatch
	pendingBytes int
	subjects     map[string]cachedSubject // by topic
	hasPending   atomic.Bool              // pending is not empty: Flush has work
	lastQoS12    uint64                   // number of the last QoS 1/2 message forwarded
	markSeq      uint64                   // number of the last marker published (confirm.go)
	mk           []byte

	confirm              confirmer // confirm.go
	hbSub, ackSub, mkSub *nats.Subscription
	hb, ack              []byte     // heartbeat; scratch of the answers, under answerMu
	answerMu             sync.Mutex // answers leave from durability callbacks too (route_durable.go)

	subsMu sync.Mutex
	subs   map[string]*counted // by subject

	in       chan *nats.Msg // what NATS delivers, drained at once into queue by pull
	qmu      sync.Mutex
	queue    []inMsg       // messages waiting for run, bounded for QoS 0 only (backlog.go)
	qbytes   int           // bytes of the messages in queue and in run's hands; guarded by qmu
	wake     chan struct{} // one pending signal that queue is not empty
	retSub   *nats.Subscription
	done     chan struct{}
	stopped  chan struct{}
	caughtUp chan struct{} // closed when catchUp returns

	// Counters, for metrics and tests.
	Forwarded atomic.Uint64 // messages published to NATS
	Received  atomic.Uint64 // messages from other nodes handed to the engine
	Dropped   atomic.Uint64 // messages not forwarded (too large) or not decodable
	// Unconfirmed counts waits for QoS 1/2 confirmation that ended at
	// confirmTimeout with some live node silent (confirm.go).
	Unconfirmed atomic.Uint64
	// Shed counts QoS 0 messages from other nodes dropped because the
	// receive queue held queueLimit bytes (backlog.go).
	Shed atomic.Uint64
}

// counted is one NATS subscription and how many local filters need it.
type counted struct {
	sub  *nats.Subscription
	refs int
}

// inboxSize is how many messages nats.go may hand over before pull takes
// them; pull only moves them to the Router's queue (which sheds QoS 0
// past queueLimit but never blocks), so the channel never fills unless that
// goroutine is starved (nats.go would then drop messages as a slow
// consumer, and the error handler logs it).
const inboxSize = 1 << 16

// maxBatch bounds the messages handed to the engine in one DeliverRemote.
const maxBatch = 512

// NewRouter starts routing for n: it subscribes to every retained message
// of the cluster and starts the goroutine that hands messages to local.
// Safe for concurrent use.
func NewRouter(n *Node, local Local) (*Router, error) {
	r := &Router{node: n, local: local, log: n.log,
		origin: n.Name() + "@" + fmt.Sprint(time.Now().UnixNano()),
		subs:   map[string]*counted{}, in: make(chan *nats.Msg, inboxSize),
		pending: map[string]*pendingBatch{}, subjects: map[string]cachedSubject{},
		wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}), caughtUp: make(chan struct{})}
	sub, err := n.nc.ChanSubscribe(RetainedPrefix+".>", r.in)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe to retained messages: %w", err)
	}
	r.retSub = sub
	if err := r.startConfirm(); err != nil {
		r.closeConfirm()
		sub.Unsubscribe()
		return nil, fmt.Errorf("cluster: subscribe for confirmations: %w", err)
	}
	go r.pull()
	go r.run()
	go r.catchUp()
	return r, nil
}

// Interest records that a local subscription filter gained its first
// subscriber (add) or lost its last (!add). filter is a valid topic filter.
// Safe for concurrent use; calls for one filter must come in order.
func (r *Router) Interest(filter string, add bool) {
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	for _, s := range FilterSubjects(filter) {
		c := r.subs[s]
		switch {
		case add && c != nil:
			c.refs++
		case add:
			sub, err := r.node.nc.ChanSubscribe(s, r.in)
			if err != nil {
				r.log.Error("cluster: subscribe", "filter", filter, "subject", s, "err", err)
				continue
			}
			r.subs[s] = &counted{sub: sub, refs: 1}
		case c != nil:
			if c.refs--; c.refs == 0 {
				c.sub.Unsubscribe()
				delete(r.subs, s)
			}
		}
	}
}

// Subjects returns the number of NATS subjects the node subscribes to for
// its local filters. Safe for concurrent use.
func (r *Router) Subjects() int {
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	return len(r.subs)
}

// Forward sends a message published on this node to the other nodes that
// want it: a retained one to every node (which stores it and delivers it
// to its subscribers), any other one to the nodes subscribed to its
// topic's subject. from is the publisher's client ID ("" for the broker).
// The message waits, with the others of its topic, until Flush (or until
// the waiting messages pass flushBytes). For a QoS 1/2 message it returns
// the message's number, for Confirmed and WhenConfirmed once a Flush with
// mark sent it; otherwise 0. The slices need stay valid only during the
// call. Safe for concurrent use.
func (r *Router) Forward(topic, payload []byte, qos byte, retain bool, props []byte, expires int64, from string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.env = appendEnvelope(r.env[:0], &envelope{seq: r.seq, qos: qos, retain: retain,
		expires: expires, topic: topic, props: props, payload: payload}, r.origin, from)
	maxPayload := int(r.node.nc.MaxPayload())
	if len(r.env)+1+binary.MaxVarintLen32 > maxPayload {
		r.Dropped.Add(1)
		return 0
	}
	var num uint64
	if qos > 0 {
		r.lastQoS12, num = r.seq, r.seq
	}
	p := r.pending[string(topic)]
	if p != nil && (p.retain != retain || len(p.buf)+len(r.env)+binary.MaxVarintLen32 > maxPayload) {
		// A topic's retained and live messages travel on two subjects, so
		// switching keeps their order only by sending what waits first; a
		// full batch goes too, with everything before it.
		r.flushLocked()
		p = nil
	}
	if p == nil {
		p = r.newPendingLocked(topic, retain)
	}
	n := len(p.buf)
	p.buf = binary.AppendUvarint(p.buf, uint64(len(r.env)))
	p.buf = append(p.buf, r.env...)
	p.n++
	r.pendingBytes += len(p.buf) - n
	r.hasPending.Store(true)
	if r.pendingBytes >= flushBytes {
		r.flushLocked()
	}
	return num
}

// flushBytes is how many bytes of forwards may wait for Flush.
const flushBytes = 256 << 10

// batchVersion starts every NATS message between nodes: a batch of
// envelopes of one topic, each preceded by its length as a uvarint.
const batchVersion = 1

// pendingBatch is the forwards of one topic waiting for Flush.
type pendingBatch struct {
	subject string
	retain  bool
	buf     []byte // batchVersion, then length-prefixed envelopes
	n       int    // envelopes in buf
}

// maxCachedSubjects bounds Router.subjects, which keeps the subjects of
// the topics seen so that a busy topic's subjects are built once; it is
// emptied when it reaches the bound.
const maxCachedSubjects = 1 << 16

// cachedSubject is a topic and its two subjects, live and retained.
type cachedSubject struct{ topic, live, retained string }

// newPendingLocked starts the batch of topic. The caller holds mu.
func (r *Router) newPendingLocked(topic []byte, retain bool) *pendingBatch {
	cs, ok := r.subjects[string(topic)]
	if !ok {
		if len(r.subjects) >= maxCachedSubjects {
			clear(r.subjects)
		}
		cs.topic = string(topic)
		r.subj = AppendSubject(r.subj[:0], prefixFor(topic), topic)
		cs.live = string(r.subj)
		r.subj = AppendSubject(r.subj[:0], RetainedPrefix, topic)
		cs.retained = string(r.subj)
		r.subjects[cs.topic] = cs
	}
	var p *pendingBatch
	if k := len(r.free); k > 0 {
		p, r.free = r.free[k-1], r.free[:k-1]
	} else {
		p = &pendingBatch{}
	}
	p.subject, p.retain, p.n = cs.live, retain, 0
	if retain {
		p.subject = cs.retained
	}
	p.buf = append(p.buf[:0], batchVersion)
	r.pending[cs.topic] = p
	r.order = append(r.order, p)
	return p
}

// Flush publishes the forwards waiting since the last Flush, in the order
// their topics first came. With mark it then publishes a marker covering
// every QoS 1/2 message forwarded so far, unless one already left, so
// that Confirmed and WhenConfirmed learn when the other nodes have them
// (confirm.go). Each event loop calls it at the end of its round, with
// mark when the round holds acks for forwarded QoS 1/2 messages. It never
// waits for other nodes. Safe for concurrent use.
func (r *Router) Flush(mark bool) {
	if !mark && !r.hasPending.Load() {
		return
	}
	r.mu.Lock()
	r.flushLocked()
	if mark && r.lastQoS12 > r.markSeq {
		r.markLocked()
	}
	r.mu.Unlock()
}

func (r *Router) flushLocked() {
	for i, p := range r.order {
		if err := r.node.nc.Publish(p.subject, p.buf); err != nil {
			r.Dropped.Add(uint64(p.n))
			r.log.Warn("cluster: forward", "subject", p.subject, "err", err)
		} else {
			r.Forwarded.Add(uint64(p.n))
		}
		if cap(p.buf) > flushBytes {
			p.buf = nil // do not pin a burst's memory
		}
		r.free = append(r.free, p)
		r.order[i] = nil
	}
	r.order = r.order[:0]
	clear(r.pending)
	r.pendingBytes = 0
	r.hasPending.Store(false)
}

// inMsg is one item of the Router's queue.
type inMsg struct {
	kind    inKind
	subject string
	data    []byte
}

type inKind byte

const (
	live     inKind = iota // from another node, through NATS: deliver
	stored                 // from RetainedStream at start: store only
	caughtUp               // every stored message is queued before this
)

// enqueue adds m to the Router's queue and wakes run; past queueLimit it
// drops m instead when m holds only live QoS 0 messages (backlog.go).
func (r *Router) enqueue(m inMsg) {
	r.qmu.Lock()
	if r.qbytes+len(m.data) > queueLimit && m.kind == live {
		if n, ok := sheddable(m.subject, m.data); ok {
			r.qmu.Unlock()
			r.Shed.Add(uint64(n))
			return
		}
	}
	r.queue = append(r.queue, m)
	r.qbytes += len(m.data)
	r.qmu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// pull moves what NATS delivers into the Router's queue until Close.
func (r *Router) pull() {
	for {
		select {
		case m := <-r.in:
			r.enqueue(inMsg{subject: m.Subject, data: m.Data})
		case <-r.done:
			return
		}
	}
}

// run hands queued messages to the engine in batches of at most maxBatch
// until Close. Until catchUp is done it remembers which topics had a
// retained message from another node, so that an older stored one does
// not replace it.
func (r *Router) run() {
	defer close(r.stopped)
	var rs runState
	rs.seenLive = map[string]struct{}{}
	var work []inMsg
	for {
		select {
		case <-r.wake:
		case <-r.done:
			return
		}
		r.qmu.Lock()
		work, r.queue = r.queue, work[:0]
		r.qmu.Unlock()
		size := 0
		for i := range work {
			size += len(work[i].data)
			r.take(&rs, &work[i])
		}
		r.deliver(&rs)
		r.qmu.Lock()
		r.qbytes -= size
		r.qmu.Unlock()
		clear(work)
		work = work[:0:0] // let the drained backing array go; the queue grows anew
	}
}

// runState is run's: the batch being gathered and what it remembers.
type runState struct {
	batch      []envelope
	kind       inKind              // of every message in batch
	lastOrigin []byte              // origin of the first message of the last live batch taken
	lastSeq    uint64              // and its number
	seenLive   map[string]struct{} // topics with a live retained message; nil once caught up
}

// deliver hands the batch to the engine.
func (r *Router) deliver(rs *runState) {
	if len(rs.batch) == 0 {
		return
	}
	batch := rs.batch
	if rs.kind == stored {
		r.local.StoreRetained(func(store func(topic, payload, props []byte, qos byte, expires int64)) {
			for i := range batch {
				e := &batch[i]
				store(e.topic, e.payload, e.props, e.qos, e.expires)
			}
		})
	} else {
		r.local.DeliverRemote(func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64)) {
			for i := range batch {
				e := &batch[i]
				deliver(e.topic, e.payload, e.props, e.qos, e.retain, e.expires)
			}
		})
		r.Received.Add(uint64(len(batch)))
	}
	clear(batch)
	rs.batch = batch[:0]
}

// take decodes the batch m and adds its messages to rs.batch, unless it
// is a copy of the batch just taken (it matched more than one of this
// node's subscriptions: NATS hands the copies over back to back) or
// undecodable. A stored retained message is left out when one of its
// topic came live since this node started.
func (r *Router) take(rs *runState, m *inMsg) {
	if m.kind == caughtUp {
		rs.seenLive = nil
		return
	}
	if m.subject == MarkerSubject {
		r.deliver(rs) // everything before the marker, to the engine first
		r.answerWhenDurable(m.data)
		return
	}
	b := m.data
	if len(b) < 1 || b[0] != batchVersion {
		r.undecodable(m, errEnvelope)
		return
	}
	for b, first := b[1:], true; len(b) > 0; first = false {
		env, rest, ok := field(b)
		var e envelope
		if !ok {
			r.undecodable(m, errEnvelope)
			return
		}
		if err := e.decode(env); err != nil {
			r.undecodable(m, err)
			return
		}
		b = rest
		if first && m.kind == live {
			if e.seq == rs.lastSeq && string(e.origin) == string(rs.lastOrigin) {
				return // another subscription's copy of the batch just taken
			}
			rs.lastSeq, rs.lastOrigin = e.seq, append(rs.lastOrigin[:0], e.origin...)
		}
		if m.kind == stored {
			if _, ok := rs.seenLive[string(e.topic)]; ok || rs.seenLive == nil {
				continue // a live one came since this node started: it is newer
			}
		} else if e.retain && rs.seenLive != nil {
			rs.seenLive[string(e.topic)] = struct{}{}
		}
		if len(rs.batch) > 0 && rs.kind != m.kind || len(rs.batch) == maxBatch {
			r.deliver(rs)
		}
		rs.kind = m.kind
		rs.batch = append(rs.batch, e)
	}
}

func (r *Router) undecodable(m *inMsg, err error) {
	r.Dropped.Add(1)
	r.log.Warn("cluster: undecodable message", "subject", m.subject, "err", err)
}

// Close stops routing: it unsubscribes everything and stops the goroutines.
// Safe for concurrent use; call once.
func (r *Router) Close() {
	r.subsMu.Lock()
	for s, c := range r.subs {
		c.sub.Unsubscribe()
		delete(r.subs, s)
	}
	r.subsMu.Unlock()
	r.retSub.Unsubscribe()
	r.closeConfirm()
	close(r.done)
	<-r.stopped
	<-r.caughtUp
}

// envelope is a message between nodes. Its encoding, after a version byte:
// flags (QoS in bits 0-1, retain in bit 2), origin, number, expiry (epoch
// ms, 0: never), publisher client ID, topic, properties (MQTT 5.0
// forwardable properties, encoded as in a PUBLISH), then the payload to the
// end. Strings and byte fields are a uvarint length and the bytes; numbers
// are uvarints.
type envelope struct {
	origin  []byte
	seq     uint64
	qos     byte
	retain  bool
	expires int64
	from    []byte
	topic   []byte
	props   []byte
	payload []byte
}

const envelopeVersion = 1

var errEnvelope = errors.New("cluster: bad envelope")

// appendEnvelope appends e with origin and from (its byte fields by those
// names are ignored) to dst.
func appendEnvelope(dst []byte, e *envelope, origin, from string) []byte {
	flags := e.qos & 3
	if e.retain {
		flags |= 4
	}
	dst = append(dst, envelopeVersion, flags)
	dst = appendField(dst, origin)
	dst = binary.AppendUvarint(dst, e.seq)
	dst = binary.AppendUvarint(dst, uint64(max(e.expires, 0)))
	dst = appendField(dst, from)
	dst = appendField(dst, e.topic)
	dst = appendField(dst, e.props)
	return append(dst, e.payload...)
}

func appendField[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decode reads e from b; the byte fields of e are views into b.
func (e *envelope) decode(b []byte) error {
	if len(b) < 2 || b[0] != envelopeVersion || b[1]&^7 != 0 || b[1]&3 == 3 {
		return errEnvelope
	}
	e.qos, e.retain = b[1]&3, b[1]&4 != 0
	b = b[2:]
	var expires uint64
	var ok bool
	if e.origin, b, ok = field(b); !ok {
		return errEnvelope
	}
	if e.seq, b, ok = uvarint(b); !ok {
		return errEnvelope
	}
	if expires, b, ok = uvarint(b); !ok || expires > 1<<62 {
		return errEnvelope
	}
	if e.from, b, ok = field(b); !ok {
		return errEnvelope
	}
	if e.topic, b, ok = field(b); !ok {
		return errEnvelope
	}
	if e.props, b, ok = field(b); !ok {
		return errEnvelope
	}
	e.expires, e.payload = int64(expires), b
	return nil
}

func uvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, false
	}
	return v, b[n:], true
}

func field(b []byte) ([]byte, []byte, bool) {
	n, b, ok := uvarint(b)
	if !ok || n > uint64(len(b)) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}
