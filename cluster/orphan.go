package cluster

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Messages for the sessions of a dead node.
//
// A node that dies takes the interest of its persistent sessions with it:
// until a client resumes its session on another node, or a survivor adopts
// it after the dead node's lease (replicate_orphans.go), nobody subscribes
// for it, and what is published meanwhile reaches no one. Messages on
// their way to the node when it died (sent, marker not answered) are lost
// with it unless it queued and replicated them first.
//
// So the publishing side keeps a copy of every batch holding QoS 1/2
// messages until every node it waits for has confirmed the marker behind
// it (confirm.go). When a node stops beating (memberTimeout) with markers
// unanswered, the copies it has not confirmed go to the stream
// GLASSMQ_ORPHAN, subject glassmq.o.<EncodeToken(dead node)>, and the acks
// behind them wait for JetStream's PubAck instead of leaving at once. For
// a while after the death (the dead window: until the node beats again,
// or orphanWindow after the death; for a node that said it stops, until a
// while after it says it is back, leave.go), every QoS 1/2 batch this node
// publishes is written there too before its acks go: it reaches nobody else until
// the dead node's sessions have an owner again. Whoever rebuilds such a
// session reads the subject and delivers what matches to that session
// only (orphan_replay.go).

// orphanHeldLimit bounds the bytes of batches kept until confirmed. The
// publishers' in-flight windows bound them already (a held ack holds the
// window); past the bound, for publishers that ignore their window, the
// oldest copies are dropped and counted (Orphans.Overflow): those messages
// are not recovered if a node dies before confirming them.
const orphanHeldLimit = 64 << 20

// orphanRetry is how long a failing orphan write is retried before the
// acks behind it go out without it (counted in Orphans.Failed).
const orphanRetry = 30 * time.Second

// OrphanConfig enables the keeping of messages for dead nodes' sessions.
type OrphanConfig struct {
	Owners   *Owners       // ownership claims, whose rebuilt sessions get the records; nil: keep only
	Lease    time.Duration // the ownership lease; 30s when 0
	Replicas int           // JetStream replicas of the stream; 1 when 0
	Stream   string        // "GLASSMQ_ORPHAN" when empty
	Prefix   string        // subjects are Prefix.o.<node>; "glassmq" when empty
	// StartTimeout bounds the wait for JetStream; 2m when 0.
	StartTimeout time.Duration
}

// OrphanStats counts orphan records, for /metrics and tests.
type OrphanStats struct {
	Written  atomic.Uint64 // records JetStream acknowledged
	Failed   atomic.Uint64 // records given up after orphanRetry: their acks went without them
	Overflow atomic.Uint64 // batches not kept: orphanHeldLimit reached
	Replayed atomic.Uint64 // messages delivered to rebuilt sessions from the stream
	Deduped  atomic.Uint64 // messages of the stream left out: they reached the session directly
}

// orphans is the Router's part of it. Lock order: Router.mu, then
// confirmer.mu, then orphans.mu.
type orphans struct {
	r        *Router
	cfg      OrphanConfig
	js       jetstream.JetStream
	stream   jetstream.Stream
	window   time.Duration // how long after a death this node writes for the dead node
	run      string        // message ID prefix of this run
	wake     chan struct{}
	done     chan struct{}
	stopped  chan struct{}
	cutSub   *nats.Subscription
	adoptSub *nats.Subscription

	mu        sync.Mutex
	held      []heldBatch             // copies of QoS 1/2 batches, oldest first, until confirmed; guarded by mu
	heldBytes int                     // guarded by mu
	dead      map[string]time.Time    // nodes seen dead -> end of their window; guarded by mu
	stops     map[string]uint64       // nodes that said they stop (leave.go) -> their stop record's sequence, while their window is open; guarded by mu
	queue     []*orphanWrite          // waiting for the writer; guarded by mu
	inflight  map[string]*orphanWrite // published, by message ID; guarded by mu
	pending   int                     // writes not acknowledged nor given up; guarded by mu
	next      uint64                  // message IDs; guarded by mu
	overflown bool                    // warned about orphanHeldLimit; guarded by mu
	free      [][]byte                // buffers of confirmed batches never written, for reuse; guarded by mu

	replay replayState // orphan_replay.go
}

// heldBatch is a copy of one batch with QoS 1/2 messages, until the
// marker behind it is confirmed.
type heldBatch struct {
	last    uint64 // number of its last QoS 1/2 message
	data    []byte
	written bool // queued as a record: data belongs to it from then on
}

// heldFree bounds the buffers of confirmed batches kept for reuse, so that
// keeping copies allocates nothing in the steady state.
const heldFree = 64

// orphanWrite is one record on its way to the stream.
type orphanWrite struct {
	last  uint64 // number of the last QoS 1/2 message in it: markers up to it wait
	msg   *nats.Msg
	first time.Time
	done  bool
}

// StartOrphans makes the Router keep QoS 1/2 messages for the sessions of
// nodes that die (see docs/CLUSTER.md, "Messages for a dead node's
// sessions"), and makes sessions rebuilt from a dead node's replica
// receive them. It creates (or confirms) the stream, waiting for
// JetStream. Call it once, after the Replica is in use. Safe for
// concurrent use.
func (r *Router) StartOrphans(cfg OrphanConfig) error {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	cfg.Replicas = max(1, min(cfg.Replicas, 3))
	if cfg.Stream == "" {
		cfg.Stream = "GLASSMQ_ORPHAN"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "glassmq"
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	o := &orphans{r: r, cfg: cfg, window: orphanWindow(cfg.Lease), run: r.origin + "-o",
		wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}),
		dead: map[string]time.Time{}, stops: map[string]uint64{}, inflight: map[string]*orphanWrite{}}
	var err error
	o.js, err = jetstream.New(r.node.nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(5*time.Second),
		jetstream.WithPublishAsyncAckHandler(o.acked), jetstream.WithPublishAsyncErrHandler(o.failed))
	if err != nil {
		return fmt.Errorf("cluster: orphan jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		o.stream, err = o.js.CreateOrUpdateStream(actx, jetstream.StreamConfig{Name: cfg.Stream,
			Subjects: []string{cfg.Prefix + ".o.>"}, Replicas: cfg.Replicas, Storage: jetstream.FileStorage,
			Retention: jetstream.LimitsPolicy, MaxAge: orphanMaxAge(cfg.Lease), Duplicates: 2 * time.Minute,
			Description: "glassmq: QoS 1/2 messages published while a dead node's sessions had no owner, one subject per dead node"})
		acancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: orphan stream: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if o.cutSub, err = r.node.nc.Subscribe(cutPrefix+"."+EncodeToken(r.node.Name()), o.serveCut); err != nil {
		return fmt.Errorf("cluster: orphan cut subscription: %w", err)
	}
	if o.adoptSub, err = r.node.nc.Subscribe(adoptedSubject, o.adopted); err != nil {
		o.cutSub.Unsubscribe()
		return fmt.Errorf("cluster: adoption notice subscription: %w", err)
	}
	o.replay.init()
	resume := o.resumeJob() // orphan_resume.go
	r.deliverMu.Lock()
	o.takeBoot(resume)
	r.orph.Store(o)
	r.deliverMu.Unlock()
	if cfg.Owners != nil {
		cfg.Owners.orphans.Store(o)
	}
	go o.writer()
	o.startResume(resume)
	return nil
}

// orphanWindow is how long at most, after a node's death (as its
// heartbeats tell), this node writes every QoS 1/2 batch for it. The
// window normally ends sooner: when the survivor that adopts the dead
// node's offline sessions says it adopted them all (adoptedSubject), at
// the earliest a lease after the dead node's last renewal, or when the
// dead node beats again. The bound is for a survivor that cannot adopt
// (JetStream without a majority), so that writing stops some time.
func orphanWindow(lease time.Duration) time.Duration { return max(4*lease, 2*time.Minute) }

// orphanMaxAge is how long the stream keeps a record: past the window,
// with a lease's margin for the replay that follows it.
func orphanMaxAge(lease time.Duration) time.Duration { return 2 * orphanWindow(lease) }

// adoptedSubject carries the name of a dead node whose sessions a
// survivor adopted (orphan_owner.go).
const adoptedSubject = "mq.adopted"

// adoptedGrace is how long a window stays open after the adoption notice:
// a claim of one of the dead node's clients on another node may be
// rebuilding its session from the replica right then (the sweep skips a
// client the bucket already gives to that claimer), which takes up to two
// hand-over timeouts (5 s each) before its subscriptions route.
const adoptedGrace = 15 * time.Second

// adopted ends the window of the node named in m, adoptedGrace from now:
// its sessions have an owner again. For a node that stopped gracefully
// and says it is back (orphan_resume.go), a lease more: a claim on
// another node whose hand-over request it could not answer while it
// stopped may still be waiting out its lease before it rebuilds the
// session.
func (o *orphans) adopted(m *nats.Msg) {
	grace := adoptedGrace
	o.mu.Lock()
	if _, stopped := o.stops[string(m.Data)]; stopped {
		grace += o.cfg.Lease
	}
	end := time.Now().Add(grace)
	cur, ok := o.dead[string(m.Data)]
	if ok && end.Before(cur) {
		o.dead[string(m.Data)] = end // noticeLocked forgets it once the node beats again (a stopped node's once it passed)
	}
	o.mu.Unlock()
	if ok {
		o.r.log.Info("cluster: a dead node's sessions are adopted; its messages are kept a little longer, then no more", "dead", string(m.Data), "for", grace)
	}
}

// subject returns the subject of the records kept for the sessions
// of node.
func (o *orphans) subject(node string) string { return o.cfg.Prefix + ".o." + EncodeToken(node) }

// OrphanStats returns the orphan counters, nil before StartOrphans. Safe
// for concurrent use.
func (r *Router) OrphanStats() *OrphanStats {
	if o := r.orph.Load(); o != nil {
		return &o.r.orphStats
	}
	return nil
}

// keepLocked keeps a copy of a flushed batch whose last QoS 1/2 message is
// last, and queues it for every dead node whose window is open. The
// caller holds Router.mu.
func (o *orphans) keepLocked(data []byte, last uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var cp []byte
	if k := len(o.free); k > 0 {
		cp, o.free = o.free[k-1], o.free[:k-1]
	}
	cp = append(cp[:0], data...)
	h := heldBatch{last: last, data: cp}
	now := time.Now()
	for node, end := range o.dead {
		if now.Before(end) {
			o.queueLocked(node, cp, last, false)
			h.written = true
		}
	}
	o.held = append(o.held, h)
	o.heldBytes += len(cp)
	for o.heldBytes > orphanHeldLimit && len(o.held) > 1 {
		o.heldBytes -= len(o.held[0].data)
		o.held[0] = heldBatch{}
		o.held = o.held[1:]
		o.r.orphStats.Overflow.Add(1)
		if !o.overflown {
			o.overflown = true
			o.r.log.Warn("cluster: QoS 1/2 batches kept until confirmed passed their bound; the oldest are not kept for dead nodes", "bound", orphanHeldLimit)
		}
	}
}

// unconfirmedHeader marks a record of a batch its dead node never
// confirmed: that node may have stored its messages just before it died.
const unconfirmedHeader = "Glassmq-Unconfirmed"

// queueLocked queues one record for the writer; unconfirmed marks one the
// dead node did not confirm. The caller holds o.mu.
func (o *orphans) queueLocked(node string, data []byte, last uint64, unconfirmed bool) {
	o.next++
	m := nats.NewMsg(o.subject(node))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, o.run+strconv.FormatUint(o.next, 10))
	if unconfirmed {
		m.Header.Set(unconfirmedHeader, "1")
	}
	o.queue = append(o.queue, &orphanWrite{last: last, msg: m, first: time.Now()})
	o.pending++
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// noticeLocked notes the members that stopped beating since the last
// call: it opens their window and queues every kept batch they did not
// confirm, so that the markers behind those wait for the records
// (holdLocked). A member that beats again closes its window, unless it
// said it stopped (leave.go): its window ends adoptedGrace after it says
// its replay point is fixed (orphan_resume.go), or at the latest after
// orphanWindow. The caller holds the confirmer's mu.
func (o *orphans) noticeLocked(c *confirmer, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for name := range o.stops {
		if end, ok := o.dead[name]; !ok || !now.Before(end) {
			delete(o.dead, name)
			delete(o.stops, name)
		}
	}
	for name, mb := range c.members {
		silent := now.Sub(mb.heard) > memberTimeout
		_, dead := o.dead[name]
		switch {
		case silent && !dead && now.Sub(mb.heard) < memberTimeout+o.window:
			o.dead[name] = mb.heard.Add(memberTimeout + o.window)
			n := 0
			for i := range o.held {
				if h := &o.held[i]; h.last > mb.confirmed {
					o.queueLocked(name, h.data, h.last, true)
					h.written = true
					n++
				}
			}
			o.r.log.Warn("cluster: a node stopped; QoS 1/2 messages for its sessions are kept in JetStream until they have an owner again",
				"dead", name, "unconfirmed_batches", n, "window", o.window)
		case !silent && dead:
			if _, stopped := o.stops[name]; !stopped {
				delete(o.dead, name)
			}
		}
	}
}

// stoppedLocked opens the window of a node that said it stops (leave.go)
// at once, and queues every kept batch numbered past confirmed, what it
// took from this node: precisely what it did not take when the notice
// says what it took, else possibly some it had stored (marked
// unconfirmed). The caller holds the confirmer's mu.
func (o *orphans) stoppedLocked(n stopNotice, confirmed uint64, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stops[n.node] = n.seq
	if end, open := o.dead[n.node]; open && now.Before(end) {
		return // its window is open already, and its batches queued
	}
	o.dead[n.node] = now.Add(o.window)
	k := 0
	for i := range o.held {
		if h := &o.held[i]; h.last > confirmed {
			o.queueLocked(n.node, h.data, h.last, n.taken == nil)
			h.written = true
			k++
		}
	}
	o.r.log.Warn("cluster: a node is stopping; QoS 1/2 messages for its sessions are kept in JetStream until it is back",
		"node", n.node, "unconfirmed_batches", k, "stop_record", n.seq, "window", o.window)
}

// stopRecord returns the sequence of node's stop record while its window
// is open, 0 when it did not say it stopped. Safe for concurrent use.
func (o *orphans) stopRecord(node string) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stops[node]
}

// holdLocked returns the lowest number that a marker may not pass: the
// last QoS 1/2 number of the oldest record not yet in the stream, or
// ^uint64(0) when none waits. The caller holds the confirmer's mu.
func (o *orphans) holdLocked() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending == 0 {
		return ^uint64(0)
	}
	h := ^uint64(0)
	for _, w := range o.queue {
		h = min(h, w.last)
	}
	for _, w := range o.inflight {
		h = min(h, w.last)
	}
	return h
}

// pruneLocked forgets the kept batches confirmed up to done. The caller
// holds the confirmer's mu.
func (o *orphans) pruneLocked(done uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := 0
	for k < len(o.held) && o.held[k].last <= done {
		h := &o.held[k]
		o.heldBytes -= len(h.data)
		if !h.written && len(o.free) < heldFree && cap(h.data) <= flushBytes {
			o.free = append(o.free, h.data)
		}
		*h = heldBatch{}
		k++
	}
	if k > 0 {
		n := copy(o.held, o.held[k:])
		clear(o.held[n:])
		o.held = o.held[:n]
		if n == 0 {
			o.overflown = false
			if cap(o.held) > 1024 {
				o.held = nil // do not pin a burst's memory
			}
		}
	}
}

// writer publishes queued records until close.
func (o *orphans) writer() {
	defer close(o.stopped)
	var work []*orphanWrite
	for {
		select {
		case <-o.wake:
		case <-o.done:
			return
		}
		o.mu.Lock()
		work, o.queue = o.queue, work[:0]
		for _, w := range work {
			o.inflight[w.msg.Header.Get(jetstream.MsgIDHeader)] = w
		}
		o.mu.Unlock()
		for i, w := range work {
			if _, err := o.js.PublishMsgAsync(w.msg); err != nil {
				o.failed(o.js, w.msg, err)
			}
			work[i] = nil
		}
	}
}

// acked is JetStream's acknowledgement of one record.
func (o *orphans) acked(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) {
	o.mu.Lock()
	w := o.takeLocked(m)
	o.mu.Unlock()
	if w != nil {
		o.r.orphStats.Written.Add(1)
		o.r.advance()
	}
}

// failed retries a record, for orphanRetry, then gives it up: the acks
// behind it go without it.
func (o *orphans) failed(_ jetstream.JetStream, m *nats.Msg, err error) {
	o.mu.Lock()
	w := o.inflight[m.Header.Get(jetstream.MsgIDHeader)]
	if w == nil || w.done {
		o.mu.Unlock()
		return
	}
	if time.Since(w.first) < orphanRetry {
		delete(o.inflight, m.Header.Get(jetstream.MsgIDHeader))
		o.mu.Unlock()
		time.AfterFunc(250*time.Millisecond, func() {
			o.mu.Lock()
			o.queue = append(o.queue, w)
			o.mu.Unlock()
			select {
			case o.wake <- struct{}{}:
			default:
			}
		})
		return
	}
	o.takeLocked(m)
	o.mu.Unlock()
	o.r.orphStats.Failed.Add(1)
	o.r.log.Error("cluster: a record for a dead node's sessions was not stored; its acks go without it", "subject", m.Subject, "err", err)
	o.r.advance()
}

// takeLocked removes the write of m from those waiting and returns it, nil
// when it is not (any more) waiting. The caller holds o.mu.
func (o *orphans) takeLocked(m *nats.Msg) *orphanWrite {
	id := m.Header.Get(jetstream.MsgIDHeader)
	w := o.inflight[id]
	if w == nil || w.done {
		return nil
	}
	delete(o.inflight, id)
	w.done = true
	o.pending--
	return w
}

// close stops the writer; the confirmer releases every waiter itself.
func (o *orphans) close() {
	for _, s := range []*nats.Subscription{o.cutSub, o.adoptSub} {
		if s != nil {
			s.Unsubscribe()
		}
	}
	close(o.done)
	<-o.stopped
}

// beating reports whether node's heartbeats are coming. Safe for
// concurrent use.
func (r *Router) beating(node string) bool {
	c := &r.confirm
	c.mu.Lock()
	defer c.mu.Unlock()
	mb := c.members[node]
	return mb != nil && time.Since(mb.heard) <= memberTimeout
}
