package cluster

import (
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
// batch as one NATS message through the node's one connection; an event
// loop's live QoS 0 messages gather apart, without the lock, until its
// FlushLoop (route_loop.go). NATS keeps
// one connection's order to each receiver, and the receiver hands batches
// to the engine from a single goroutine, so one publisher's messages on one
// topic arrive in the order the publisher's node routed them. A batch
// matching several of the receiver's subscriptions arrives once per
// subscription, back to back; the origin and number of its first message
// drop the copies.
//
// Shared subscriptions ($share/GROUP/FILTER) are NATS queue groups, one
// delivery per group cluster-wide (shared.go).
type Router struct {
	node   *Node
	local  Local
	log    *slog.Logger
	origin string // this run of this node: name and a start time, so numbers restart safely

	seq   atomic.Uint64  // number of the last message forwarded or reserved (route_loop.go)
	loops []loopForwards // each event loop's QoS 0 forwards (route_loop.go)

	mu           sync.Mutex // orders publishing; guards what follows
	subj         []byte
	env          []byte
	pending      map[string]*pendingBatch // by topic: forwards waiting for Flush
	order        []*pendingBatch          // the same, in the order their topics came
	free         []*pendingBatch
	pendingBytes int
	maxPayload   int                      // the NATS maximum payload, read at each flush
	subjects     map[string]cachedSubject // by topic
	hasPending   atomic.Bool              // pending is not empty: Flush has work
	lastQoS12    uint64                   // number of the last QoS 1/2 message forwarded
	markSeq      uint64                   // number of the last marker published (confirm.go)
	mk           []byte
	sharedSent   bool // shared batches left since the last marker (shared.go)

	confirm              confirmer               // confirm.go
	orph                 atomic.Pointer[orphans] // keeping messages for dead nodes' sessions, nil until StartOrphans (orphan.go)
	orphStats            OrphanStats
	deliverMu            sync.Mutex             // held while the engine takes messages from other nodes, so a rebuilt session registers between two batches (orphan_replay.go)
	boot                 *arrivals              // arrivals since the Router started, for a restarted node's replay; nil once StartOrphans took them (orphan_resume.go); guarded by deliverMu
	left                 atomic.Bool            // Leave reached its stop point: nothing more is taken, answered or beaten (leave.go)
	leaveTaken           chan map[string]uint64 // run's answer to Leave, set before its queue item (leave.go)
	stopSub              *nats.Subscription     // other nodes' stop notices (leave.go)
	hbSub, ackSub, mkSub *nats.Subscription
	smkSub               *nats.Subscription // shared markers, on the second connection (shared.go)
	hb, ack              []byte             // heartbeat; scratch of the answers, under answerMu
	answerMu             sync.Mutex         // answers leave from durability callbacks too (route_durable.go)
	quiet                quietState         // silent while fenced or not storing (quiet.go)

	subsMu sync.Mutex
	subs   map[string]*counted // by subject; shared ones by subject, space, queue name

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
	// SharedReceived counts the messages of Received that NATS gave this
	// node for one of its shared subscriptions (shared.go); this node's own
	// count too, as its own shared batches come back through NATS.
	SharedReceived atomic.Uint64
	Dropped        atomic.Uint64 // messages not forwarded (too large) or not decodable
	// Unconfirmed counts waits for QoS 1/2 confirmation that ended at
	// confirmTimeout with some live node silent (confirm.go).
	Unconfirmed atomic.Uint64
	// Shed counts QoS 0 messages from other nodes dropped because the
	// receive queue held queueLimit bytes (backlog.go).
	Shed atomic.Uint64
	// Withheld counts markers not answered: this node was fenced or had
	// not stored messages from other nodes (quiet.go).
	Withheld atomic.Uint64
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

// deliverBytes is how many bytes of batches run gathers before it hands
// them to the engine in one DeliverRemote (a batch is never split): each
// call takes the engine's foreign loop and ends with one hand-off to each
// loop it delivered to, so fewer calls cost fewer wake-ups, while the
// bound keeps a call short (about 12,000 small messages, a millisecond).
const deliverBytes = 256 << 10

// keepQueue is the capacity, in messages, up to which run keeps a drained
// queue array for reuse.
const keepQueue = 1024

// NewRouter starts routing for n: it subscribes to every retained message
// of the cluster and starts the goroutine that hands messages to local.
// Safe for concurrent use.
func NewRouter(n *Node, local Local) (*Router, error) {
	r := &Router{node: n, local: local, log: n.log,
		origin: n.Name() + "@" + fmt.Sprint(time.Now().UnixNano()),
		subs:   map[string]*counted{}, in: make(chan *nats.Msg, inboxSize),
		pending: map[string]*pendingBatch{}, subjects: map[string]cachedSubject{},
		wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}), caughtUp: make(chan struct{}),
		maxPayload: int(n.nc.MaxPayload()), boot: newArrivals()}
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
	if r.smkSub, err = n.sc.ChanSubscribe(SharedMarkerSubject, r.in); err != nil {
		r.closeConfirm()
		sub.Unsubscribe()
		return nil, fmt.Errorf("cluster: subscribe for shared markers: %w", err)
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
	seq := r.seq.Add(1) // under mu: QoS 1/2 numbers grow in the order their messages leave, which markers need
	p := r.pending[string(topic)]
	if p != nil && p.retain != retain {
		// A topic's retained and live messages travel on two subjects, so
		// switching keeps their order only by sending what waits first.
		r.flushLocked()
		p = nil
	}
	for {
		if p == nil {
			p = r.newPendingLocked(topic, retain)
		}
		n := len(p.buf)
		var ok bool
		p.buf, ok = appendRecord(p.buf, record{seq, qos, retain, expires, props, payload}, from, p.last, p.n > 0 && from == p.from, r.maxPayload)
		if ok {
			p.last, p.from = seq, from
			if qos > 0 {
				p.lastQ = seq
			}
			p.n++
			r.pendingBytes += len(p.buf) - n
			break
		}
		if p.n == 0 { // too large even alone
			r.dropPendingLocked(p, topic)
			r.mu.Unlock()
			r.Dropped.Add(1)
			return 0
		}
		r.flushLocked() // a full batch goes, with everything before it
		p = nil
	}
	var num uint64
	if qos > 0 {
		r.lastQoS12, num = seq, seq
	}
	if !r.hasPending.Load() { // a load, not a locked write, for every message but a round's first
		r.hasPending.Store(true)
	}
	if r.pendingBytes >= flushBytes {
		r.flushLocked()
	}
	r.mu.Unlock()
	return num
}

// flushBytes is how many bytes of forwards may wait for Flush.
const flushBytes = 256 << 10

// pendingBatch is the forwards of one topic waiting for Flush.
type pendingBatch struct {
	topic   string
	subject string
	shared  string // the subject for shared subscriptions (shared.go), "" for none
	retain  bool
	buf     []byte // a batch (batch.go)
	n       int    // messages in buf
	last    uint64 // number of the last message in buf
	lastQ   uint64 // number of its last QoS 1/2 message, 0 for none (orphan.go)
	from    string // publisher of the last message in buf
}

// maxCachedSubjects bounds Router.subjects, which keeps the subjects of
// the topics seen so that a busy topic's subjects are built once; it is
// emptied when it reaches the bound.
const maxCachedSubjects = 1 << 16

// cachedSubject is a topic and its subjects: live, retained and for shared
// subscriptions ("" for a $-topic).
type cachedSubject struct{ topic, live, retained, shared string }

// newPendingLocked starts the batch of topic. The caller holds mu.
func (r *Router) newPendingLocked(topic []byte, retain bool) *pendingBatch {
	p := takeFree(&r.free)
	p.start(r.subjectLocked(topic), retain, r.origin)
	r.pending[p.topic] = p
	r.order = append(r.order, p)
	return p
}

// subjectLocked returns the subjects of topic, from the cache when it can.
// The caller holds mu.
func (r *Router) subjectLocked(topic []byte) cachedSubject {
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
		if prefixFor(topic) == TopicPrefix {
			r.subj = AppendSubject(r.subj[:0], SharedPrefix, topic)
			cs.shared = string(r.subj)
		}
		r.subjects[cs.topic] = cs
	}
	return cs
}

// takeFree returns a pendingBatch from free, or a new one.
func takeFree(free *[]*pendingBatch) *pendingBatch {
	if k := len(*free); k > 0 {
		p := (*free)[k-1]
		(*free)[k-1] = nil
		*free = (*free)[:k-1]
		return p
	}
	return &pendingBatch{}
}

// start makes p the empty batch of cs's topic from origin.
func (p *pendingBatch) start(cs cachedSubject, retain bool, origin string) {
	p.topic, p.subject, p.shared, p.retain, p.n, p.last, p.lastQ, p.from = cs.topic, cs.live, cs.shared, retain, 0, 0, 0, ""
	if retain {
		p.subject = cs.retained
	}
	p.buf = appendBatchHeader(p.buf[:0], origin, cs.topic)
}

// dropPendingLocked forgets p, the batch of topic that newPendingLocked
// just started, while it is still empty. The caller holds mu.
func (r *Router) dropPendingLocked(p *pendingBatch, topic []byte) {
	delete(r.pending, string(topic))
	r.order = r.order[:len(r.order)-1]
	r.free = append(r.free, p)
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
	r.maxPayload = int(r.node.nc.MaxPayload()) // changes only when nats.go reconnects: read once a round, not per message
	r.free = r.publishLocked(r.order, r.free)
	r.order = r.order[:0]
	clear(r.pending)
	r.pendingBytes = 0
	r.hasPending.Store(false)
}

// publishLocked publishes the batches of order, in order, and returns free
// with them added for reuse; it leaves order's entries nil. The caller
// holds mu.
func (r *Router) publishLocked(order, free []*pendingBatch) []*pendingBatch {
	for i, p := range order {
		if err := r.node.nc.Publish(p.subject, p.buf); err != nil {
			r.Dropped.Add(uint64(p.n))
			r.log.Warn("cluster: forward", "subject", p.subject, "err", err)
		} else {
			r.Forwarded.Add(uint64(p.n))
		}
		if o := r.orph.Load(); o != nil && p.lastQ != 0 {
			o.keepLocked(p.buf, p.lastQ) // until confirmed (orphan.go)
		}
		r.publishSharedLocked(p)
		if cap(p.buf) > flushBytes {
			p.buf = nil // do not pin a burst's memory
		}
		free = append(free, p)
		order[i] = nil
	}
	return free
}

// inMsg is one item of the Router's queue.
type inMsg struct {
	kind    inKind
	subject string
	data    []byte
	queue   string // the queue subscription it came through: a shared subscription's (shared.go)
}

type inKind byte

const (
	live     inKind = iota // from another node, through NATS: deliver
	stored                 // from RetainedStream at start: store only
	caughtUp               // every stored message is queued before this
	leaving                // Leave's stop point (leave.go)
)

// enqueue adds m to the Router's queue and wakes run; past queueLimit it
// drops m instead when m holds only live QoS 0 messages (backlog.go).
func (r *Router) enqueue(m inMsg) {
	r.qmu.Lock()
	r.enqueueLocked(m)
	r.qmu.Unlock()
	r.signal()
}

// enqueueLocked is enqueue without the wake. The caller holds qmu.
func (r *Router) enqueueLocked(m inMsg) {
	if r.qbytes+len(m.data) > queueLimit && m.kind == live {
		if n, ok := sheddable(m.subject, m.data); ok {
			r.Shed.Add(uint64(n))
			return
		}
	}
	r.queue = append(r.queue, m)
	r.qbytes += len(m.data)
}

// signal wakes run, unless a wake is pending already.
func (r *Router) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// pullBurst bounds the messages pull moves under one lock and one wake.
const pullBurst = 256

// pull moves what NATS delivers into the Router's queue until Close: what
// waits in the channel at once, up to pullBurst messages, under one lock
// and with one wake of run.
func (r *Router) pull() {
	for {
		var m *nats.Msg
		select {
		case m = <-r.in:
		case <-r.done:
			return
		}
		r.qmu.Lock()
		for k := 0; ; k++ {
			im := inMsg{subject: m.Subject, data: m.Data}
			if m.Sub != nil {
				im.queue = m.Sub.Queue
			}
			r.enqueueLocked(im)
			if k == pullBurst {
				break
			}
			select {
			case m = <-r.in:
				continue
			default:
			}
			break
		}
		r.qmu.Unlock()
		r.signal()
	}
}

// run hands queued messages to the engine, about deliverBytes at a time,
// until Close. Until catchUp is done it remembers which topics had a
// retained message from another node, so that an older stored one does
// not replace it.
func (r *Router) run() {
	defer close(r.stopped)
	var rs runState
	rs.seenLive = map[string]struct{}{}
	rs.taken = map[string]*uint64{}
	rs.shared.local, _ = r.local.(SharedLocal)
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
		if cap(work) > keepQueue {
			work = nil // let a burst's backing array go; the queue grows anew
		} else {
			work = work[:0] // the queue's next array: two alternate, nothing allocated
		}
	}
}

// runState is run's: the batches being gathered and what it remembers.
type runState struct {
	parts      []batchPart         // batches for the engine, in order
	partBytes  int                 // their size
	kind       inKind              // of every batch in parts
	lastOrigin []byte              // origin of the first message of the last live batch taken
	lastSeq    uint64              // and its number
	seenLive   map[string]struct{} // topics with a live retained message; nil once caught up
	taken      map[string]*uint64  // origin -> number of the last QoS 1/2 message handed to the engine (leave.go)

	shared      sharedState // shared.go
	sharedBatch []envelope
}

// batchPart is one batch taken for the engine: a reader at its first
// record. Its records are decoded once, as they are handed over, rather
// than copied into an array of envelopes first.
type batchPart struct {
	br      batchReader
	subject string // for the log, when a record cannot be read
}

// records reads the messages of parts in order. With r set, a record that
// cannot be read is counted and logged; the rest of its batch is lost, as
// all of a batch that cannot be read at all is when taken.
type records struct {
	parts   []batchPart // the batches not started yet
	cur     batchReader // the batch being read
	subject string      // its subject
	r       *Router
}

// next reads the next message into e; false after the last.
func (it *records) next(e *envelope) bool {
	for {
		ok, err := it.cur.next(e)
		if ok {
			return true
		}
		if err != nil && it.r != nil {
			it.r.undecodable(&inMsg{subject: it.subject}, err)
		}
		if len(it.parts) == 0 {
			return false
		}
		it.cur, it.subject, it.parts = it.parts[0].br, it.parts[0].subject, it.parts[1:]
	}
}

// deliver hands the batches gathered to the engine.
func (r *Router) deliver(rs *runState) {
	if len(rs.parts) == 0 {
		return
	}
	parts := rs.parts
	if rs.kind == stored {
		r.local.StoreRetained(func(store func(topic, payload, props []byte, qos byte, expires int64)) {
			it := records{parts: parts, r: r}
			for e := (envelope{}); it.next(&e); {
				store(e.topic, e.payload, e.props, e.qos, e.expires)
			}
		})
	} else {
		n := 0
		r.deliverMu.Lock()
		r.local.DeliverRemote(func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64)) {
			it := records{parts: parts, r: r}
			for e := (envelope{}); it.next(&e); n++ {
				deliver(e.topic, e.payload, e.props, e.qos, e.retain, e.expires)
			}
		})
		if o := r.orph.Load(); o != nil && o.replay.recording.Load() > 0 {
			o.recordArrivals(records{parts: parts}) // orphan_replay.go
		}
		if r.boot != nil {
			r.boot.record(records{parts: parts}) // orphan_resume.go
		}
		r.deliverMu.Unlock()
		r.Received.Add(uint64(n))
		noteTaken(rs.taken, records{parts: parts}) // leave.go
	}
	clear(parts)
	rs.parts, rs.partBytes = parts[:0], 0
}

// take adds the batch m to those gathered for the engine, unless it is a
// copy of the batch just taken (it matched more than one of this node's
// subscriptions: NATS hands the copies over back to back) or undecodable.
// A stored retained message is left out when one of its topic came live
// since this node started. A batch holds one topic's messages, either all
// retained or none, so its first record stands for all of them here.
func (r *Router) take(rs *runState, m *inMsg) {
	switch {
	case m.kind == caughtUp:
		rs.seenLive = nil
		return
	case m.kind == leaving:
		r.stopTaking(rs) // leave.go
		return
	case m.subject == orphanBarrier:
		r.deliver(rs)
		if o := r.orph.Load(); o != nil {
			o.passed(m.data) // orphan_replay.go
		}
		return
	case r.left.Load():
		return // stopping: its origins keep it for this node's sessions (leave.go)
	}
	switch {
	case m.subject == MarkerSubject:
		r.deliver(rs) // everything before the marker, to the engine first
		r.takeMarker(rs, m.data)
		return
	case m.subject == SharedMarkerSubject:
		r.deliver(rs)
		r.takeSharedMarker(rs, m.data)
		return
	case m.queue != "":
		r.takeShared(rs, m)
		return
	}
	var br batchReader
	if err := br.init(m.data); err != nil {
		r.undecodable(m, err)
		return
	}
	first := br
	var e envelope
	if ok, err := br.next(&e); !ok {
		if err != nil {
			r.undecodable(m, err)
		}
		return
	}
	if m.kind == live {
		if e.seq == rs.lastSeq && string(e.origin) == string(rs.lastOrigin) {
			return // another subscription's copy of the batch just taken
		}
		rs.lastSeq, rs.lastOrigin = e.seq, append(rs.lastOrigin[:0], e.origin...)
		if e.retain && rs.seenLive != nil {
			rs.seenLive[string(e.topic)] = struct{}{}
		}
	} else if _, ok := rs.seenLive[string(e.topic)]; ok || rs.seenLive == nil {
		return // stored: a live one came since this node started, it is newer
	}
	if len(rs.parts) > 0 && (rs.kind != m.kind || rs.partBytes >= deliverBytes) {
		r.deliver(rs)
	}
	rs.kind = m.kind
	rs.parts = append(rs.parts, batchPart{first, m.subject})
	rs.partBytes += len(m.data)
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
	if o := r.orph.Load(); o != nil {
		o.close()
	}
	if r.smkSub != nil {
		r.smkSub.Unsubscribe()
	}
	r.WithoutOrphans()
	r.closeConfirm()
	close(r.done)
	<-r.stopped
	<-r.caughtUp
}
