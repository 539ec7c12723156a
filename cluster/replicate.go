package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/session/store"
)

// Replicated session state.
//
// A node keeps its persistent sessions in its local store; a node that
// dies takes that store with it. Replica wraps the local store and copies
// what a surviving node needs into JetStream, which replicates it to
// min(3, nodes) servers before acknowledging:
//
//   - the session record (subscriptions with their options, expiry, times,
//     user name) in the key-value bucket glassmq_sessions, key
//     EncodeToken(client ID), written on every OpPutSession and deleted
//     when the session ends;
//   - every change to the session's QoS 1/2 messages (queued, sent with a
//     packet ID, released, acknowledged) and to its inbound QoS 2 packet
//     IDs, appended as one small record to the stream GLASSMQ_QUEUE on the
//     subject <prefix>.q.<EncodeToken(client ID)>.
//
// A node that claims a client whose owner is dead reads the record and
// replays the client's subject (Fetch): what was put and not deleted is
// what the client has not acknowledged, with the packet IDs it was sent
// with. Each incarnation of a session on a node has a generation, written
// in the record and in every queue record, so records of an earlier owner
// or an earlier session of the same client ID are skipped. The subject is
// trimmed (purged up to a point) whenever the session has nothing
// outstanding, so the stream holds only what is not yet acknowledged.
//
// Writes never block an event loop: Apply queues the record and a writer
// goroutine publishes asynchronously, without waiting for earlier
// publishes to be acknowledged (JetStream's async window). What gathered
// for one session since the writer's last round leaves as one JetStream
// message, a pack of up to maxPackRecords records (replicate_pack.go), so
// a busy session costs JetStream one message per round, not one per
// record. Tickets become durable, for
// WhenDurable and Durable, only once the local store has them and
// JetStream acknowledged every replicated op up to them, so with -fsync
// always a client's PUBACK or PUBREC waits for both. A write that fails
// (no JetStream leader while one is elected after a node died) is retried
// with the same message ID (JetStream drops the duplicate) for
// ReplicaConfig.Retry before the acks that wait for it fail.

// Record kinds in the queue stream: session.OpKind values.
const replVersion = 1

// ReplicaConfig says where a node replicates its sessions.
type ReplicaConfig struct {
	NC       *nats.Conn
	Node     string        // this node's name
	Prefix   string        // queue subjects are Prefix.q.<client key>; "glassmq" when empty
	Bucket   string        // key-value bucket of session records; "glassmq_sessions" when empty
	Stream   string        // stream of queue records; "GLASSMQ_QUEUE" when empty
	Replicas int           // JetStream replicas; 1 when 0
	Retry    time.Duration // how long a failing write is retried; 30s when 0
	// PerClient bounds the records kept per session (the stream's
	// MaxMsgsPerSubject; older ones go): ClientRecords of the node's
	// session limits. 0 for no bound.
	PerClient int64
	// MaxBytes bounds the queue stream; once it is full, new records are
	// refused (not retried) and counted in Stats.Refused, and the acks
	// waiting for them fail. 0 for no bound.
	MaxBytes int64
	// StartTimeout bounds the wait for JetStream at start; 2m when 0.
	StartTimeout time.Duration
	Logger       *slog.Logger // slog.Default() when nil
}

// ReplicaStats counts replication, for /metrics and tests.
type ReplicaStats struct {
	Written   atomic.Uint64 // records JetStream acknowledged
	Packs     atomic.Uint64 // JetStream messages acknowledged (a pack holds one or more records)
	Retried   atomic.Uint64 // writes sent again after an error
	Failed    atomic.Uint64 // writes given up after Retry
	Purges    atomic.Uint64 // subjects trimmed
	Fetched   atomic.Uint64 // sessions rebuilt from JetStream
	Released  atomic.Uint64 // sessions handed to a live node, not deleted here
	Coalesced atomic.Uint64 // records never written: their message was acknowledged first
	Refused   atomic.Uint64 // records the full queue stream refused (MaxBytes)
}

// ClientRecords returns how many queue records a session with at most
// queued messages waiting and inflight in flight can need: four per
// message (queued, sent, released, acknowledged) and some for its
// inbound QoS 2 packet IDs. Older records belong to messages the session
// no longer holds (acknowledged, or dropped from a full queue), so
// bounding a subject by it keeps the replica as bounded as the session
// itself.
func ClientRecords(queued, inflight int) int64 {
	return 4*int64(max(queued, 0)+max(inflight, 0)) + 256
}

// Replica is a session.Store that keeps an inner (local) store and copies
// persistent sessions into JetStream. Create it with StartReplica. Safe for
// concurrent use.
type Replica struct {
	cfg    ReplicaConfig
	inner  session.Store
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	stream jetstream.Stream
	log    *slog.Logger
	run    string // message ID prefix of this run
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	purges chan purgeJob

	Stats ReplicaStats

	mu       sync.Mutex
	queue    []*replEntry              // waiting for the writer; guarded by mu
	order    []*replEntry              // replicated ops by ticket, from the oldest not done; guarded by mu
	inflight map[uint64]*replPack      // published, by number; guarded by mu
	retry    []*replPack               // to publish again; guarded by mu
	open     map[*replClient]*replPack // the writer's scratch while it packs; guarded by mu
	waiters  []replWaiter              // guarded by mu
	clients  map[string]*replClient    // guarded by mu
	next     uint64                    // pack numbers; guarded by mu
	failT    uint64                    // first ticket of the last failure; guarded by mu
	failUpTo uint64                    // tickets issued when it failed; guarded by mu
	err      error                     // last write error, nil once a write succeeds; guarded by mu
	issued   uint64                    // highest ticket seen; guarded by mu
}

// replClient is what the replica knows of one local persistent session.
type replClient struct {
	id        string
	gen       uint64 // this incarnation's generation
	subject   string // queue subject
	out, rels int    // messages and inbound QoS 2 IDs outstanding, as applied
	unacked   int    // entries not yet acknowledged by JetStream
	since     int    // entries acknowledged since the last trim
	firstSeq  uint64 // stream sequence of this generation's first record
	lastSeq   uint64 // highest stream sequence of its records
	released  bool   // handed to a live node: its end is not a deletion
	disorder  bool   // a write was retried: no more trims at quiet records
	purged    bool   // earlier generations trimmed
}

// replEntry is one replicated op.
type replEntry struct {
	ticket uint64
	c      *replClient
	msg    *nats.Msg // a bucket write's message
	data   []byte    // a queue record, until it is packed
	kind   session.OpKind
	seq    uint64 // the message's Seq, for message ops
	queue  bool   // a queue record (not a bucket write)
	quiet  bool   // nothing outstanding once this op applies
	end    bool   // the session's deletion
	done   bool
}

type replWaiter struct {
	t  uint64
	fn func(error)
}

type purgeJob struct {
	subject string
	upTo    uint64 // purge records below this sequence
}

// trimEvery is how many acknowledged records of a session with nothing
// outstanding wait before its subject is trimmed.
const trimEvery = 32

// StartReplica creates (or confirms) the bucket and the stream, and starts
// the writer. inner keeps being the node's local store; Close closes it.
func StartReplica(cfg ReplicaConfig, inner session.Store) (*Replica, error) {
	if cfg.NC == nil || inner == nil || cfg.Node == "" {
		return nil, errors.New("cluster: StartReplica: want a NATS connection, a node name and a local store")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "glassmq"
	}
	if cfg.Bucket == "" {
		cfg.Bucket = "glassmq_sessions"
	}
	if cfg.Stream == "" {
		cfg.Stream = "GLASSMQ_QUEUE"
	}
	cfg.Replicas = max(1, min(cfg.Replicas, 3))
	if cfg.Retry <= 0 {
		cfg.Retry = 30 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var b [8]byte
	rand.Read(b[:])
	r := &Replica{cfg: cfg, inner: inner, log: cfg.Logger,
		run:  cfg.Node + "-" + strconv.FormatUint(binary.BigEndian.Uint64(b[:]), 36) + "-",
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		purges: make(chan purgeJob, 1024), inflight: make(map[uint64]*replPack), clients: make(map[string]*replClient),
		open: make(map[*replClient]*replPack)}
	var err error
	r.js, err = jetstream.New(cfg.NC, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(5*time.Second),
		jetstream.WithPublishAsyncAckHandler(r.acked), jetstream.WithPublishAsyncErrHandler(r.failed))
	if err != nil {
		return nil, fmt.Errorf("cluster: replica jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		r.kv, err = r.js.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{Bucket: cfg.Bucket, History: 1,
			Replicas: cfg.Replicas, Storage: jetstream.FileStorage,
			Description: "glassmq: persistent session records by client ID"})
		if err == nil {
			r.stream, err = r.js.CreateOrUpdateStream(actx, jetstream.StreamConfig{Name: cfg.Stream,
				Subjects: []string{cfg.Prefix + ".q.>"}, Replicas: cfg.Replicas, Storage: jetstream.FileStorage,
				Duplicates: 2 * time.Minute, AllowDirect: true,
				// bounded like the sessions themselves, and as a whole
				MaxMsgsPerSubject: limitOrNone(cfg.PerClient), MaxBytes: limitOrNone(cfg.MaxBytes), Discard: jetstream.DiscardNew,
				Description: "glassmq: changes to the QoS 1/2 messages of persistent sessions, one subject per client"})
		}
		acancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: session replicas: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	go r.writer()
	go r.purger()
	return r, nil
}

// limitOrNone returns n, or -1 (JetStream's "no limit") when n is 0.
func limitOrNone(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// QueueSubject returns the stream subject of clientID's queue records.
func (r *Replica) QueueSubject(clientID string) string {
	return r.cfg.Prefix + ".q." + EncodeToken(clientID)
}

// Apply implements session.Store: it applies op to the local store and,
// for an op on a persistent session, queues its copy for JetStream. It
// never waits for the network. Safe for concurrent use.
func (r *Replica) Apply(op session.Op) uint64 {
	r.mu.Lock()
	t := r.inner.Apply(op)
	r.issued = max(r.issued, t)
	e := r.entryLocked(op, t)
	if e != nil {
		r.queue = append(r.queue, e)
		r.order = append(r.order, e)
	}
	r.mu.Unlock()
	if e != nil {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return t
}

// entryLocked builds the replicated copy of op, nil when op is not
// replicated here.
func (r *Replica) entryLocked(op session.Op, t uint64) *replEntry {
	switch op.Kind {
	case session.OpPutRetained, session.OpDeleteRetained:
		return nil // the retained stream keeps them (retained.go)
	}
	c := r.clients[op.ClientID]
	switch op.Kind {
	case session.OpPutSession:
		if c == nil {
			c = r.newClientLocked(op.ClientID)
		}
		data := binary.BigEndian.AppendUint64([]byte{replVersion}, c.gen)
		data = store.EncodeSession(data, &session.Restored{Record: *op.Record})
		return r.newEntryLocked(c, t, "$KV."+r.cfg.Bucket+"."+EncodeToken(op.ClientID), data, false)
	case session.OpDeleteSession:
		if c == nil {
			return nil // nothing of it replicated by this node
		}
		delete(r.clients, op.ClientID)
		if c.released {
			r.Stats.Released.Add(1)
			return nil // a live node took it over and writes it now
		}
		e := r.newEntryLocked(c, t, "$KV."+r.cfg.Bucket+"."+EncodeToken(op.ClientID), nil, false)
		e.msg.Header.Set("KV-Operation", "DEL")
		e.end = true
		return e
	}
	if c == nil {
		// A session restored from the local store at start and not yet
		// written here: it gets a generation with its next record.
		return nil
	}
	data := append(make([]byte, 0, 32), replVersion, byte(op.Kind))
	data = binary.BigEndian.AppendUint64(data, c.gen)
	data = binary.AppendUvarint(data, op.Seq)
	data = binary.BigEndian.AppendUint16(data, op.PacketID)
	switch op.Kind {
	case session.OpPutMessage:
		c.out++
		data = store.EncodeSession(data, &session.Restored{Record: session.Record{ClientID: op.ClientID},
			Messages: []session.StoredMessage{{Seq: op.Seq, Msg: op.Msg, QoS: op.QoS, Retain: op.Retain}}})
	case session.OpDeleteMessage:
		c.out--
	case session.OpPutRel:
		c.rels++
	case session.OpDeleteRel:
		c.rels--
	case session.OpInflight, session.OpReleased:
	default:
		return nil
	}
	e := r.newEntryLocked(c, t, c.subject, data, true)
	e.kind, e.seq = op.Kind, op.Seq
	e.quiet = c.out <= 0 && c.rels <= 0
	return e
}

func (r *Replica) newClientLocked(id string) *replClient {
	var b [8]byte
	rand.Read(b[:])
	c := &replClient{id: id, gen: binary.BigEndian.Uint64(b[:]) | 1, subject: r.QueueSubject(id)}
	r.clients[id] = c
	return c
}

// newEntryLocked returns the entry of a queue record (data, on c's
// subject, when queue) or of a bucket write (a message on subject). The
// writer packs it and numbers the message.
func (r *Replica) newEntryLocked(c *replClient, t uint64, subject string, data []byte, queue bool) *replEntry {
	c.unacked++
	e := &replEntry{ticket: t, c: c, queue: queue}
	if queue {
		e.data = data
	} else {
		e.msg = &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	}
	return e
}

// Release says clientID's session is being handed to a live node, which
// writes it from now on: its end here does not delete its replicated
// state. Safe for concurrent use.
func (r *Replica) Release(clientID string) {
	r.mu.Lock()
	if c := r.clients[clientID]; c != nil {
		c.released = true
	}
	r.mu.Unlock()
}

// WhenDurable implements session.Store: fn runs once the local store has
// every op up to ticket and JetStream acknowledged every replicated one.
// Safe for concurrent use.
func (r *Replica) WhenDurable(ticket uint64, fn func(err error)) {
	r.inner.WhenDurable(ticket, func(err error) {
		if err != nil {
			fn(err)
			return
		}
		// Not on the store's goroutine: Apply holds r.mu while the local
		// store may wait for that goroutine.
		go r.whenReplicated(ticket, fn)
	})
}

// whenReplicated calls fn once JetStream acknowledged every replicated op
// up to ticket.
func (r *Replica) whenReplicated(ticket uint64, fn func(err error)) {
	var err error
	r.mu.Lock()
	switch {
	case r.failT != 0 && ticket >= r.failT && ticket <= r.failUpTo:
		err = r.err
		if err == nil {
			err = errors.New("cluster: session replica write failed")
		}
	case len(r.order) > 0 && r.order[0].ticket <= ticket:
		r.waiters = append(r.waiters, replWaiter{ticket, fn})
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	fn(err)
}

// Durable implements session.Store. Safe for concurrent use.
func (r *Replica) Durable() uint64 {
	d := r.inner.Durable()
	r.mu.Lock()
	if len(r.order) > 0 && r.order[0].ticket-1 < d {
		d = r.order[0].ticket - 1
	}
	r.mu.Unlock()
	return d
}

// Err implements session.Store: the local store's failure, or the last
// replica write error until a write succeeds. Safe for concurrent use.
func (r *Replica) Err() error {
	if err := r.inner.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Load implements session.Store: what the local store holds. Safe for
// concurrent use.
func (r *Replica) Load() ([]session.Restored, []*session.Message, error) { return r.inner.Load() }

// Pending returns how many replicated ops JetStream has not yet
// acknowledged. Safe for concurrent use.
func (r *Replica) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

// Sync waits until JetStream acknowledged every op applied so far, or
// timeout. Safe for concurrent use; it blocks.
func (r *Replica) Sync(timeout time.Duration) error {
	r.mu.Lock()
	t := r.issued
	r.mu.Unlock()
	done := make(chan error, 1)
	r.WhenDurable(t, func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return errors.New("cluster: session replica not synced in time")
	}
}

// Close stops the writer after giving pending writes up to a few seconds.
// It leaves the local store open: whoever opened it closes it, after the
// engine stopped. Safe for concurrent use; call once.
func (r *Replica) Close() error {
	err := r.Sync(3 * time.Second)
	close(r.stop)
	<-r.done
	return err
}
