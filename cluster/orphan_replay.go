package cluster

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
)

// Replaying the records kept for a dead node's sessions (orphan.go).
//
// A node that rebuilds a session whose owner died (a takeover through the
// replica, or an adoption after the lease) reads the dead node's subject
// and delivers what matches to that session only: other local
// subscribers had those messages through normal routing. Once the rebuilt
// session's subscriptions are in the engine, the same message may also
// reach it directly, so each message of the stream is weighed by its
// origin and number:
//
//   - Registration happens while the Router hands nothing to the engine
//     (Adopting holds deliverMu), and from then on the Router logs the
//     origin and number of every QoS 1/2 message it hands over (the
//     arrivals). A message that arrives after the registration reached
//     the session; one that arrived before did not.
//   - Then every live node is asked for a cut (cutPrefix): it sends what it
//     gathered, takes its current number S, waits until its records up to
//     S are in the stream, and answers. It answered after it had this
//     node's new interest (NATS keeps a route's order), so its messages
//     numbered past S reach the session directly: they are left out. Its
//     batches numbered up to S left before its answer, so once a barrier
//     sent through the Router's queue after the answers comes out, every
//     one of them that was to arrive has arrived.
//   - A message of this node itself (the rebuilding node is the
//     publisher's) is replayed when its number is at most the one taken
//     right after the registration: the engine matches a local PUBLISH
//     just before numbering it.
//   - A message of a node that did not answer (dead, or an earlier run) is
//     replayed unless it arrived after the registration.
//
// So a QoS 2 message reaches the rebuilt session once, apart from one
// local PUBLISH racing the registration itself (microseconds), which is
// replayed rather than lost.

const (
	cutPrefix     = "mq.cut" // + "." + EncodeToken(node): cut requests (orphan_replay.go)
	orphanBarrier = ""       // subject of barriers through the Router's queue; NATS never uses it

	// replayGather is how long a replay waits for more sessions of the
	// same dead node (a survivor adopts many at once) before it reads.
	replayGather = 200 * time.Millisecond
	// cutWait bounds a cut: a node waits this long for its records, and
	// the asker this long for its answer.
	cutWait = 10 * time.Second
)

// SessionLocal is a Local that can deliver to one session only;
// broker.Engine implements it. DeliverTo calls each once; each calls
// deliver for every message, which the engine delivers to clientID's
// session alone, through its matching subscriptions (QoS, options and
// ACL as for any delivery), and reports how many it delivered. from is the
// publisher's client ID, for No Local.
type SessionLocal interface {
	DeliverTo(clientID string, each func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte))) int
}

// replayState is the replaying part of orphans.
type replayState struct {
	recording atomic.Int32 // sessions whose arrivals are logged

	mu       sync.Mutex
	expect   map[string]expected      // rebuilt from a dead node, not yet registered; guarded by mu
	jobs     map[string]*replayJob    // gathering, by dead node; guarded by mu
	arrivals                          // guarded by mu
	base     int                      // index of log[0]; guarded by mu
	barriers map[uint64]chan struct{} // guarded by mu
	active   map[string]chan struct{} // clients registered whose replay is not over, closed at its end; guarded by mu
	resuming map[string]uint64        // of those, sessions restored from disk after a stop -> its stop record (orphan_resume.go); guarded by mu
	nextBar  uint64                   // guarded by mu
}

// expected is a session rebuilt from the replica of a dead node.
type expected struct {
	dead string
	from replayFrom
	had  map[string]int // the rebuilt session's messages, by heldKey
	at   time.Time      // when it was rebuilt
}

// replayFrom is where a replay starts reading a dead node's subject.
type replayFrom struct {
	since time.Time // the dead node's last renewal (orphan_owner.go); zero: from the start
	seq   uint64    // when not 0, the sequence of its stop record (leave.go), after which the reading starts instead
}

// heldKey identifies a message by topic and payload.
func heldKey(topic, payload []byte) string { return string(topic) + "\x00" + string(payload) }

// arrival is one QoS 1/2 message the Router handed to the engine.
type arrival struct {
	origin uint32
	seq    uint64
}

// arrivals is a log of arrivals, origins numbered.
type arrivals struct {
	log     []arrival
	origins map[string]uint32 // origin -> index in names
	names   []string
}

func newArrivals() *arrivals { return &arrivals{origins: map[string]uint32{}} }

// record logs the QoS 1/2 messages of it.
func (a *arrivals) record(it records) {
	for e := (envelope{}); it.next(&e); {
		if e.qos == 0 {
			continue
		}
		k, ok := a.origins[string(e.origin)]
		if !ok {
			k = uint32(len(a.names))
			a.names = append(a.names, string(e.origin))
			a.origins[string(e.origin)] = k
		}
		a.log = append(a.log, arrival{k, e.seq})
	}
}

// replayJob is the sessions of one dead node to replay to.
type replayJob struct {
	dead    string
	from    replayFrom
	clients []rebuiltClient
	resume  bool     // this node's own sessions after its restart (orphan_resume.go)
	ghosts  []string // with resume: sessions of its disk dropped, another node owning them
}

// rebuiltClient is one session to replay to.
type rebuiltClient struct {
	id string
	// had counts the messages the session was rebuilt with, by heldKey:
	// a message of a batch the dead node never confirmed that the session
	// already holds was stored by the dead node before it could answer,
	// and is not replayed again.
	had  map[string]int
	from int    // log index at its registration
	self uint64 // this node's numbers up to this are replayed
}

func (rp *replayState) init() {
	rp.expect, rp.jobs = map[string]expected{}, map[string]*replayJob{}
	rp.arrivals, rp.barriers = *newArrivals(), map[uint64]chan struct{}{}
	rp.active, rp.resuming = map[string]chan struct{}{}, map[string]uint64{}
}

// waitReplayed waits until the replay to clientID's session, if one is
// going on, is over, or until stop: a session handed to another node
// leaves with what the replay gave it. Safe for concurrent use.
func (o *orphans) waitReplayed(clientID string, stop <-chan time.Time) bool {
	rp := &o.replay
	rp.mu.Lock()
	ch := rp.active[clientID]
	rp.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-stop:
		return false
	}
}

// expectRebuilt notes that clientID's session was rebuilt from the replica
// of dead, whose records are read from from, for Adopting.
func (o *orphans) expectRebuilt(clientID, dead string, from replayFrom, rs *session.Restored) {
	had := map[string]int{}
	for _, m := range rs.Messages {
		if m.Msg != nil {
			had[heldKey(m.Msg.Topic, m.Msg.Payload)]++
		}
	}
	rp := &o.replay
	rp.mu.Lock()
	defer rp.mu.Unlock()
	now := time.Now()
	for id, e := range rp.expect {
		if now.Sub(e.at) > 10*o.cfg.Lease {
			delete(rp.expect, id) // rebuilt, never registered
		}
	}
	rp.expect[clientID] = expected{dead, from, had, now}
}

// registered forgets that clientID's session was rebuilt from a dead
// node's replica: the engine has adopted it (Adopting took the note) or
// dropped it, and a later adoption of the client is not a rebuild.
func (o *orphans) registered(clientID string) {
	rp := &o.replay
	rp.mu.Lock()
	delete(rp.expect, clientID)
	rp.mu.Unlock()
}

// Adopting is called by the engine right before it puts the subscriptions
// of a session it adopts into its router; done, right after. For a session
// rebuilt from a dead node's replica it holds what other nodes send until
// done, and then replays the dead node's records to it (orphan.go). Safe
// for concurrent use.
func (r *Router) Adopting(clientID string) (done func()) {
	o := r.orph.Load()
	if o == nil {
		return func() {}
	}
	rp := &o.replay
	rp.mu.Lock()
	e, ok := rp.expect[clientID]
	delete(rp.expect, clientID)
	rp.mu.Unlock()
	if !ok {
		return func() {}
	}
	r.deliverMu.Lock()
	rp.recording.Add(1)
	rp.mu.Lock()
	from := rp.base + len(rp.log)
	if rp.active[clientID] == nil {
		rp.active[clientID] = make(chan struct{})
	}
	rp.mu.Unlock()
	return func() {
		r.mu.Lock()
		self := r.seq.Load()
		r.mu.Unlock()
		r.deliverMu.Unlock()
		o.gather(e, rebuiltClient{id: clientID, had: e.had, from: from, self: self})
	}
}

// recordArrivals logs the QoS 1/2 messages of it, just handed to the
// engine. The caller holds deliverMu.
func (o *orphans) recordArrivals(it records) {
	rp := &o.replay
	rp.mu.Lock()
	rp.record(it)
	rp.mu.Unlock()
}

// gather adds c to the job of its dead node, starting one when none
// gathers.
func (o *orphans) gather(e expected, c rebuiltClient) {
	rp := &o.replay
	rp.mu.Lock()
	j := rp.jobs[e.dead]
	if j != nil {
		j.clients = append(j.clients, c)
		rp.mu.Unlock()
		return
	}
	j = &replayJob{dead: e.dead, from: e.from, clients: []rebuiltClient{c}}
	rp.jobs[e.dead] = j
	rp.mu.Unlock()
	go func() {
		select {
		case <-time.After(replayGather):
		case <-o.done:
		}
		rp.mu.Lock()
		delete(rp.jobs, e.dead)
		rp.mu.Unlock()
		o.replayJob(j)
	}()
}

// replayJob delivers the dead node's records to the sessions of j.
func (o *orphans) replayJob(j *replayJob) {
	r := o.r
	defer func() {
		rp := &o.replay
		rp.mu.Lock()
		for _, c := range j.clients {
			if ch := rp.active[c.id]; ch != nil {
				close(ch)
				delete(rp.active, c.id)
			}
			if j.resume {
				delete(rp.resuming, c.id)
			}
		}
		rp.mu.Unlock()
	}()
	if j.resume {
		o.awaitPeers(time.Now().Add(resumePeerWait)) // orphan_resume.go
	}
	arrived := o.cutOver(j)
	if j.resume {
		o.resumed() // orphan_resume.go
	}
	subject := o.subject(j.dead)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sl, ok := r.local.(SessionLocal)
	if !ok {
		return
	}
	type msgID struct {
		origin string
		seq    uint64
	}
	seen := map[msgID]bool{}
	replayed, deduped := 0, 0
	each := func(records []keptRecord) {
		var envs []envelope
		var unconf []bool // envs[i] came from a batch the dead node never confirmed
		for _, rec := range records {
			var br batchReader
			if br.init(rec.data) != nil {
				continue
			}
			for {
				var e envelope
				if ok, err := br.next(&e); !ok || err != nil {
					break
				}
				if e.qos == 0 || seen[msgID{string(e.origin), e.seq}] {
					continue
				}
				seen[msgID{string(e.origin), e.seq}] = true
				envs = append(envs, e)
				unconf = append(unconf, rec.unconfirmed)
			}
		}
		for ci := range j.clients {
			c := &j.clients[ci]
			var keep []*envelope
			for i := range envs {
				e := &envs[i]
				if o.direct(c, arrived.sets[ci], e, arrived) {
					deduped++
					continue
				}
				if k := heldKey(e.topic, e.payload); unconf[i] && c.had[k] > 0 {
					c.had[k]--
					deduped++
					continue
				}
				keep = append(keep, e)
			}
			if len(keep) == 0 {
				continue
			}
			replayed += sl.DeliverTo(c.id, func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte)) {
				for _, e := range keep {
					deliver(e.topic, e.payload, e.props, e.qos, e.retain, e.expires, e.from)
				}
			})
		}
	}
	// Right after a node died JetStream may not answer for a while (a
	// stream electing its leader): read again; seen skips what was
	// delivered.
	n, err := 0, error(nil)
	for {
		var k int
		k, err = o.read(ctx, subject, j.from, each)
		n += k
		if err == nil || ctx.Err() != nil {
			break
		}
		r.log.Warn("cluster: reading the records kept for a dead node's sessions; trying again", "dead", j.dead, "err", err)
		select {
		case <-time.After(500 * time.Millisecond):
		case <-o.done:
			return
		}
	}
	r.orphStats.Replayed.Add(uint64(replayed))
	r.orphStats.Deduped.Add(uint64(deduped))
	ids := make([]string, 0, len(j.clients))
	for _, c := range j.clients {
		ids = append(ids, c.id)
	}
	if err != nil {
		r.log.Error("cluster: records kept for a dead node's sessions not all read; some messages may be missing", "dead", j.dead, "clients", ids, "err", err)
	}
	r.log.Warn("cluster: messages kept for a dead node's sessions replayed", "dead", j.dead, "clients", ids,
		"records", n, "replayed", replayed, "deduplicated", deduped)
	if j.resume && err == nil {
		o.forgetStop(j.from.seq) // orphan_resume.go
	}
}

// keptRecord is one record of the stream.
type keptRecord struct {
	data        []byte
	unconfirmed bool // a batch its dead node never confirmed: it may have stored it
}

// read calls each with the records of subject stored after from's stop
// record, or since from's time (all of them when both are zero), up to
// 512 at a time, and returns how many it read.
func (o *orphans) read(ctx context.Context, subject string, from replayFrom, each func([]keptRecord)) (int, error) {
	info, err := o.stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, err
	}
	if info.State.Subjects[subject] == 0 {
		return 0, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}}
	switch {
	case from.seq != 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from.seq+1
	case !from.since.IsZero():
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from.since
	}
	cons, err := o.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return 0, err
	}
	n := 0
	for more := true; more; {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		batch, err := cons.Fetch(512, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return n, err
		}
		var records []keptRecord
		for m := range batch.Messages() {
			records = append(records, keptRecord{m.Data(), m.Headers().Get(unconfirmedHeader) != ""})
			if meta, err := m.Metadata(); err == nil && meta.NumPending == 0 {
				more = false
			}
		}
		got := len(records)
		n += got
		if got > 0 {
			each(records)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return n, err
		}
		if got == 0 {
			more = false
		}
	}
	return n, nil
}
