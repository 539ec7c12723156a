package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
)

// Wills of a dead node's clients.
//
// A node publishes the will of a connection that ends badly itself; a node
// that dies cannot. So each node keeps the will of every connection it
// holds in the replicated key-value bucket glassmq_wills, key
// EncodeToken(client ID): written when the connection attaches, deleted
// when it closes (the node published the will, or discarded it on a
// normal DISCONNECT), and deleted by the claim of a CONNECT of the client
// on any other node (the client is back). A record names the node that
// wrote it.
//
// When a node's lease runs out (no renewal seen for a whole lease, so it
// holds no connection any more), the wills of its clients are published
// by the node that takes each client from it:
//
//   - a claim whose previous owner did not answer and whose lease it
//     waited out (owner.go) takes the client's will: if the claim comes
//     from a CONNECT of the client (Returning marked it), the client is
//     back and the will is dropped; otherwise (a survivor adopting the
//     dead node's sessions) it is published;
//   - the first live node in name order, the one that adopts sessions,
//     also lists the records naming the dead node and publishes those of
//     clients the ownership bucket still gives to it (clients nobody
//     claims, as with -persistence off).
//
// A will is published once its Will Delay Interval has passed since the
// dead node's last renewal seen here (at once for a 3.1.1 client), or once
// its session would have ended if that comes first. Each publication
// first deletes the record with compare-and-set on its revision, so a
// will is published at most once cluster-wide, and not at all when its
// client came back (the record changed or went) before it was due.
//
// A node that starts deletes the records its previous run left: its
// connections ended with that run, as a single broker forgets its
// connections' wills when it restarts.

// WillPublisher publishes a will the way a connection's end does: to local
// subscribers and across the cluster; broker.Engine implements it.
type WillPublisher interface {
	// PublishWill publishes m. Safe for concurrent use.
	PublishWill(m *session.Message)
}

// WillsConfig configures the replicated wills.
type WillsConfig struct {
	JS       jetstream.JetStream
	Node     string       // this node's name
	Bucket   string       // "glassmq_wills" when empty
	Replicas int          // 1 when 0
	Logger   *slog.Logger // slog.Default() when nil
}

// WillStats counts replicated wills, for /metrics and tests.
type WillStats struct {
	Written   atomic.Uint64 // records written
	Deleted   atomic.Uint64 // records deleted: connection closed or client back
	Published atomic.Uint64 // wills of dead nodes' clients published here
	Cancelled atomic.Uint64 // due wills not published: the record changed (client back)
	Errors    atomic.Uint64 // bucket operations that failed (retried)
}

// Wills keeps this node's wills in the bucket and publishes those of
// dead nodes. Create it with StartWills. Safe for concurrent use.
type Wills struct {
	cfg   WillsConfig
	kv    jetstream.KeyValue
	pub   WillPublisher
	own   *Owners
	log   *slog.Logger
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	sdone chan struct{}

	Stats WillStats

	mu        sync.Mutex
	pending   map[string]willOp    // the newest wanted change per client ID; guarded by mu
	revs      map[string]uint64    // revision of this node's record per client ID; guarded by mu
	returning map[string]time.Time // client IDs a CONNECT here is claiming, and since when; guarded by mu
	claimed   []dueWill            // wills of clients this node took from dead nodes, to publish when due; guarded by mu
}

// willOp is a wanted change to one client's record.
type willOp struct {
	put    []byte // the record to write; nil to delete this node's record
	cancel bool   // delete the record whoever wrote it, unless this node did
}

// willVersion is the first byte of a record.
const willVersion = 1

// willRecord is a decoded record.
type willRecord struct {
	node    string
	delay   uint32 // seconds after the connection's end, already capped by the session expiry
	expires bool   // the will has a Message Expiry Interval, expiry
	expiry  uint32 // seconds
	qos     byte
	retain  bool
	topic   []byte
	props   []byte
	payload []byte
}

// encodeWill returns the record of will w of a connection described by m
// on node.
func encodeWill(node string, w *session.Message, m *session.ConnMeta) []byte {
	var delay, expiry uint32
	expires := false
	if m != nil {
		delay = m.WillDelay
		if m.SessionExpiry < int64(delay) {
			delay = uint32(max(m.SessionExpiry, 0)) // the session's end publishes it [MQTT5-3.1.2-8]
		}
		expires, expiry = m.WillExpires, m.WillExpiry
	}
	var flags byte
	if w.Retain {
		flags |= 1
	}
	if expires {
		flags |= 2
	}
	b := make([]byte, 0, 24+len(node)+len(w.Topic)+len(w.Props)+len(w.Payload))
	b = append(b, willVersion, w.QoS, flags)
	b = binary.BigEndian.AppendUint32(b, delay)
	b = binary.BigEndian.AppendUint32(b, expiry)
	b = appendField(b, []byte(node))
	b = appendField(b, w.Topic)
	b = appendField(b, w.Props)
	return appendField(b, w.Payload)
}

var errWillRecord = errors.New("cluster: undecodable will record")

func decodeWill(b []byte) (willRecord, error) {
	var r willRecord
	if len(b) < 11 || b[0] != willVersion || b[1] > 2 {
		return r, errWillRecord
	}
	r.qos, r.retain, r.expires = b[1], b[2]&1 != 0, b[2]&2 != 0
	r.delay, r.expiry = binary.BigEndian.Uint32(b[3:]), binary.BigEndian.Uint32(b[7:])
	b = b[11:]
	var node []byte
	var ok bool
	for _, f := range []*[]byte{&node, &r.topic, &r.props, &r.payload} {
		if *f, b, ok = field(b); !ok {
			return r, errWillRecord
		}
	}
	if len(b) != 0 || len(r.topic) == 0 {
		return r, errWillRecord
	}
	r.node = string(node)
	return r, nil
}

// message returns the will as published at now (epoch ms).
func (r *willRecord) message(now int64) *session.Message {
	var exp int64
	if r.expires {
		exp = now + int64(r.expiry)*1000
	}
	return session.NewMessageProps(r.topic, r.payload, r.props, r.qos, r.retain, exp)
}

// StartWills opens (creating when absent) the wills bucket, deletes what
// this node's previous run left there, and starts the writer; with own, it
// also publishes the wills of nodes whose lease ran out, through pub.
// Close stops it.
func StartWills(cfg WillsConfig, own *Owners, pub WillPublisher) (*Wills, error) {
	if cfg.JS == nil || cfg.Node == "" || pub == nil {
		return nil, errors.New("cluster: StartWills: want JetStream, a node name and a publisher")
	}
	if cfg.Bucket == "" {
		cfg.Bucket = "glassmq_wills"
	}
	cfg.Replicas = max(1, min(cfg.Replicas, 3))
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Wills{cfg: cfg, pub: pub, own: own, log: cfg.Logger, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), sdone: make(chan struct{}),
		pending: make(map[string]willOp), revs: make(map[string]uint64), returning: make(map[string]time.Time)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := retryJS(ctx, func() (err error) {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		defer acancel()
		w.kv, err = cfg.JS.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{Bucket: cfg.Bucket, History: 1,
			Replicas: cfg.Replicas, Storage: jetstream.FileStorage,
			Description: "glassmq: the will of each connected client, for the survivors of its node"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: wills bucket: %w", err)
	}
	if n, err := w.clearOwn(); err != nil {
		w.log.Warn("cluster: wills of this node's previous run not cleared", "err", err)
	} else if n > 0 {
		w.log.Info("cluster: wills of this node's previous run cleared", "wills", n)
	}
	go w.writer()
	if own != nil {
		own.wills.Store(w)
		go w.sweepLoop()
	} else {
		close(w.sdone)
	}
	return w, nil
}

// Close stops the writer, giving queued changes up to two seconds, and
// the sweeper. Safe for concurrent use; call once.
func (w *Wills) Close() error {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		n := len(w.pending)
		w.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(w.stop)
	<-w.done
	<-w.sdone
	return nil
}

// Connected records that clientID attached here with will (nil for none),
// described by m. It never waits for the network. Safe for concurrent use.
func (w *Wills) Connected(clientID string, will *session.Message, m *session.ConnMeta) {
	if will == nil {
		return // Returning cleared another node's record at the claim
	}
	w.queue(clientID, willOp{put: encodeWill(w.cfg.Node, will, m)})
}

// Returning says a CONNECT of clientID here is about to claim it: the
// client is back, so the will of a connection it had on a node that died
// is not published. It marks the client for that claim (which may take
// the client from the dead node once its lease ran out) and has the
// record, if another node wrote it, deleted. It never waits for the
// network. Safe for concurrent use.
func (w *Wills) Returning(clientID string) {
	w.mu.Lock()
	w.returning[clientID] = time.Now()
	w.mu.Unlock()
	w.queue(clientID, willOp{cancel: true})
}

// Claimed says the claim that a Returning of clientID announced has
// ended (won or failed): its mark goes. Safe for concurrent use.
func (w *Wills) Claimed(clientID string) {
	w.mu.Lock()
	delete(w.returning, clientID)
	w.mu.Unlock()
}

// takeReturning reports whether a CONNECT of clientID here marked it
// recently, and clears the mark.
func (w *Wills) takeReturning(clientID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.returning[clientID]
	delete(w.returning, clientID)
	return ok && time.Since(at) < w.markLife()
}

// markLife is how long a Returning mark waits for its claim: a hand-over
// timeout and a whole lease, with room to spare.
func (w *Wills) markLife() time.Duration {
	if w.own == nil {
		return 2 * time.Minute
	}
	return 2*w.own.cfg.Lease + 2*w.own.cfg.Timeout + 30*time.Second
}

// Closed records that clientID's connection here ended: its will was
// published or discarded here, so its record goes. It never waits for the
// network. Safe for concurrent use.
func (w *Wills) Closed(clientID string) { w.queue(clientID, willOp{}) }

func (w *Wills) queue(clientID string, op willOp) {
	w.mu.Lock()
	if old, ok := w.pending[clientID]; ok && old.cancel && op.put == nil {
		op.cancel = true // a close after Returning still clears another node's record
	}
	w.pending[clientID] = op
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Pending returns how many clients' changes wait for the bucket. Safe for
// concurrent use.
func (w *Wills) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// writer applies queued changes to the bucket, newest per client, and
// keeps a failed one for the next round unless a newer one came.
func (w *Wills) writer() {
	defer close(w.done)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-w.wake:
		case <-tick.C:
		}
		w.mu.Lock()
		batch := w.pending
		if len(batch) > 0 {
			w.pending = make(map[string]willOp)
		}
		w.mu.Unlock()
		for id, op := range batch {
			if err := w.apply(id, op); err != nil {
				w.Stats.Errors.Add(1)
				w.mu.Lock()
				if _, newer := w.pending[id]; !newer {
					w.pending[id] = op
				}
				w.mu.Unlock()
			}
		}
	}
}

// apply makes one change to the bucket.
func (w *Wills) apply(clientID string, op willOp) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	key := EncodeToken(clientID)
	if op.put != nil {
		rev, err := w.kv.Put(ctx, key, op.put)
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.revs[clientID] = rev
		w.mu.Unlock()
		w.Stats.Written.Add(1)
		return nil
	}
	w.mu.Lock()
	rev, mine := w.revs[clientID]
	delete(w.revs, clientID)
	w.mu.Unlock()
	if op.cancel {
		e, err := w.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if r, err := decodeWill(e.Value()); err == nil && r.node == w.cfg.Node && !mine {
			return nil // this node's own, of a connection still attached here
		}
		rev, mine = e.Revision(), true
	}
	if !mine {
		return nil
	}
	// Only the record read or written here: a newer one is another
	// connection's.
	err := w.kv.Delete(ctx, key, jetstream.LastRevision(rev))
	if err == nil {
		w.Stats.Deleted.Add(1)
		return nil
	}
	if isWrongRevision(err) {
		return nil
	}
	return err
}

// isWrongRevision reports whether err is JetStream refusing a write whose
// expected last revision is not the key's.
func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// clearOwn deletes the records that name this node, left by its
// previous run, and returns how many.
func (w *Wills) clearOwn() (int, error) {
	recs, err := w.list(w.cfg.Node)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := w.kv.Delete(ctx, r.key, jetstream.LastRevision(r.rev))
		cancel()
		if err == nil {
			n++
		}
	}
	return n, nil
}

// listedWill is a record found in the bucket.
type listedWill struct {
	key string
	rev uint64
	rec willRecord
}

// list returns the records that name node.
func (w *Wills) list(node string) ([]listedWill, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wt, err := w.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer wt.Stop()
	var out []listedWill
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e := <-wt.Updates():
			if e == nil {
				return out, nil // the current values are all delivered
			}
			r, err := decodeWill(e.Value())
			if err != nil || r.node != node {
				continue
			}
			out = append(out, listedWill{e.Key(), e.Revision(), r})
		}
	}
}
