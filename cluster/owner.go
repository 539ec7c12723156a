package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/session/store"
)

// Ownership: one node owns each client ID cluster-wide.
//
// The owner of a client ID is the value of its key in a replicated
// JetStream key-value bucket; its epoch is that entry's revision, so epochs
// of one client ID only grow. A node claims a client ID with
// compare-and-set: Create when the key is absent, Update with the revision
// it read otherwise; a claim that loses the race reads again. The winner
// then asks the previous owner, on that node's hand-over subject, to close
// its connection (as taken over: will published, DISCONNECT 0x8E for MQTT
// 5.0) and to send it the persistent session, which it registers before
// the CONNECT is answered.
//
// Each node keeps, per client ID it has claimed, the fence: the highest
// epoch it knows of. A connection may attach only while its epoch is the
// fence; one that attaches under a stale epoch is closed at once as taken
// over. The fence rises on three events: a claim of this node, a hand-over
// request from another node, and the bucket's watch (which also closes the
// local connection at once, in case the hand-over request was lost).
//
// Hand-over requests wait for this node's own claims of the same client ID
// with lower epochs to finish fetching their session, so a session moving
// along a chain of quick takeovers A→B→C reaches C: waits always go from a
// higher epoch to a lower one, which cannot form a cycle.

// Handovers is what ownership needs of the broker on this node;
// broker.Engine implements it. Implementations are safe for concurrent
// use.
type Handovers interface {
	// HandOver closes the local connection of clientID, if any, as taken
	// over, waits up to timeout for it to close, then ends the client's
	// persistent session here and returns it; ok is false when there is no
	// session left to hand over.
	HandOver(clientID string, timeout time.Duration) (r session.Restored, ok bool)
	// CloseTakenOver closes the local connection of clientID, if any, as
	// taken over, without waiting, and reports whether there was one.
	CloseTakenOver(clientID string) bool
}

// ownerHistory is how many claims of one client ID the bucket keeps: the
// current one and a few before it, for operators; one entry per client
// would do for the protocol, and a fleet of a million clients keeps this
// many entries each.
const ownerHistory = 4

// OwnersConfig configures ownership claims.
type OwnersConfig struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Node     string        // this node's name, unique in the cluster
	Prefix   string        // subject prefix; "glassmq" when empty
	Bucket   string        // key-value bucket; "glassmq_owners" when empty
	Replicas int           // bucket replicas: min(3, nodes); 1 when 0
	Timeout  time.Duration // a hand-over's whole wait; 5s when 0
	// Lease bounds how long a node cut off from the cluster majority may
	// still hold connections (see owner_lease.go); 30s when 0.
	Lease time.Duration
	// StartTimeout bounds StartOwners' wait for JetStream (its meta leader
	// is elected once a majority of the nodes run); 2m when 0.
	StartTimeout time.Duration
	Logger       *slog.Logger // slog.Default() when nil
	// HoldHandovers makes hand-over requests wait until Ready: a node
	// restarted after a graceful stop must know which of the sessions it
	// restored from its disk still wait for their replay
	// (orphan_resume.go) before it hands one over.
	HoldHandovers bool
}

// OwnerStats counts ownership events, for /metrics.
type OwnerStats struct {
	Claims         atomic.Uint64 // claims won
	Conflicts      atomic.Uint64 // compare-and-set attempts lost to another claim
	Takeovers      atomic.Uint64 // claims that took a client from another node
	HandedOver     atomic.Uint64 // sessions this node handed to another
	Received       atomic.Uint64 // sessions another node handed to this one
	Fenced         atomic.Uint64 // local connections closed because another node claimed their client
	Errors         atomic.Uint64 // failed claims, hand-over requests and replies
	HandoverMillis atomic.Uint64 // total time spent asking previous owners, ms
}

// Owners claims client IDs for this node and answers other nodes' hand-over
// requests. Create it with StartOwners.
type Owners struct {
	cfg   OwnersConfig
	local Handovers
	kv    jetstream.KeyValue
	log   *slog.Logger
	sub   *nats.Subscription
	watch jetstream.KeyWatcher
	sem   chan struct{} // bounds hand-over requests served at once
	stop  context.CancelFunc
	done  chan struct{}

	Stats OwnerStats

	lease leaseState

	replica atomic.Pointer[Replica] // replicated sessions; nil without (replicate_owner.go)
	wills   atomic.Pointer[Wills]   // replicated wills; nil without (wills.go)
	orphans atomic.Pointer[orphans] // messages kept for dead nodes' sessions; nil without (orphan.go)

	ready     chan struct{} // closed by Ready (at once without HoldHandovers)
	readyOnce sync.Once
	leaving   atomic.Bool   // Leaving was called: hand-over requests wait for left
	left      chan struct{} // closed by Left
	leftOnce  sync.Once
	stopSeq   atomic.Uint64 // the stop record Left was given (leave.go)

	mu      sync.Mutex
	clients map[string]*claimState // guarded by mu
	stops   map[string]stopMark    // nodes that said they stopped (leave.go); guarded by mu
}

// claimState is what this node knows of one client ID it has claimed.
type claimState struct {
	epoch   uint64  // the newest epoch this node claimed
	fence   uint64  // the newest epoch known, this node's or another's
	pending []*flow // claims of this node still fetching their session
}

// flow is one claim of this node from its compare-and-set until its
// connection attaches or gives up (Settle).
type flow struct {
	epoch   uint64        // set before known closes
	known   chan struct{} // closed once the compare-and-set is decided
	fetched chan struct{} // closed once the session fetched is registered (or the claim failed)
	closed  bool          // fetched is closed; guarded by Owners.mu
}

// handoverRequest is the body of a hand-over request.
type handoverRequest struct {
	ClientID string `json:"client_id"`
	Epoch    uint64 `json:"epoch"`
	Node     string `json:"node"` // the claimer
}

// Hand-over replies: a status byte, then the session (store.EncodeSession)
// when the status is handoverSession.
const (
	handoverNone    = 0 // no persistent session here
	handoverSession = 1
	handoverStale   = 2 // this node holds a newer claim than the request's
	handoverStopped = 3 // this node is stopping and holds no connection; then its stop record's sequence (uvarint)
	handoverBusy    = 4 // a claim of this node older than the request still fetches the session: ask again
)

// StartOwners opens (creating when absent) the ownership bucket, serves
// hand-over requests for cfg.Node and watches the bucket. Close stops it.
func StartOwners(cfg OwnersConfig, local Handovers) (*Owners, error) {
	if cfg.NC == nil || cfg.JS == nil || cfg.Node == "" || local == nil {
		return nil, errors.New("cluster: StartOwners: want a NATS connection, JetStream, a node name and Handovers")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "glassmq"
	}
	if cfg.Bucket == "" {
		cfg.Bucket = "glassmq_owners"
	}
	cfg.Replicas = max(1, min(cfg.Replicas, 3))
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	var kv jetstream.KeyValue
	var err error
	logged := time.Now()
	for {
		// JetStream answers only once the cluster has elected its meta
		// leader: a node starting with its peers retries until then.
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		kv, err = cfg.JS.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{Bucket: cfg.Bucket, History: ownerHistory,
			Replicas: cfg.Replicas, Storage: jetstream.FileStorage,
			Description: "glassmq: client ID -> owning node; the revision is the ownership epoch"})
		acancel()
		if err == nil {
			break
		}
		if time.Since(logged) > 5*time.Second {
			cfg.Logger.Info("cluster: waiting for JetStream (a majority of the nodes must run)", "err", err)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: ownership bucket %q: %w", cfg.Bucket, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	o := &Owners{cfg: cfg, local: local, kv: kv, log: cfg.Logger, sem: make(chan struct{}, 256),
		done: make(chan struct{}), left: make(chan struct{}), ready: make(chan struct{}), clients: make(map[string]*claimState),
		stops: map[string]stopMark{}}
	if !cfg.HoldHandovers {
		o.Ready()
	}
	if err := o.startLease(ctx); err != nil {
		return nil, err
	}
	o.sub, err = cfg.NC.Subscribe(o.handoverSubject(cfg.Node), o.serveHandover)
	if err != nil {
		o.stopLease()
		return nil, fmt.Errorf("cluster: hand-over subject: %w", err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	o.stop = wcancel
	err = retryJS(ctx, func() (err error) {
		o.watch, err = kv.WatchAll(wctx, jetstream.UpdatesOnly())
		return err
	})
	if err != nil {
		wcancel()
		o.sub.Unsubscribe()
		o.stopLease()
		return nil, fmt.Errorf("cluster: watch ownership bucket: %w", err)
	}
	go o.watchLoop()
	return o, nil
}

// Close stops serving hand-over requests and watching the bucket. Safe for
// concurrent use; call once.
func (o *Owners) Close() error {
	o.stop()
	err := o.sub.Unsubscribe()
	o.watch.Stop()
	<-o.done
	o.stopLease()
	return err
}

// KV returns the ownership bucket. Safe for concurrent use.
func (o *Owners) KV() jetstream.KeyValue { return o.kv }

// Node returns this node's name. Safe for concurrent use.
func (o *Owners) Node() string { return o.cfg.Node }

// OwnerKey returns the bucket key of clientID (EncodeToken: any UTF-8
// client ID maps, reversibly, into the characters keys allow).
func OwnerKey(clientID string) string { return EncodeToken(clientID) }

// ClientOfKey is the inverse of OwnerKey.
func ClientOfKey(key string) (string, error) { return DecodeToken(key) }

func (o *Owners) handoverSubject(node string) string {
	return o.cfg.Prefix + ".own." + OwnerKey(node)
}

// Claim makes this node the owner of clientID cluster-wide and returns its
// epoch, with the persistent session the previous owner handed over (nil
// when there was none, or when the previous owner did not answer within
// the timeout: its connection is then closed by its own watch). It blocks
// on the network; never call it on an event loop. After registering the
// session, call Fetched with the epoch, and Settle once the connection
// attached or gave up; with an error, the CONNECT must be refused and
// neither is needed. Safe for concurrent use.
func (o *Owners) Claim(clientID string) (epoch uint64, handed *session.Restored, err error) {
	if o.lease.fenced.Load() {
		o.Stats.Errors.Add(1)
		return 0, nil, errFenced
	}
	f := &flow{known: make(chan struct{}), fetched: make(chan struct{})}
	o.mu.Lock()
	st := o.stateLocked(clientID)
	st.pending = append(st.pending, f)
	o.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), o.cfg.Timeout)
	defer cancel()
	prev, prevRev, epoch, err := o.cas(ctx, clientID)
	o.mu.Lock()
	f.epoch = epoch
	close(f.known)
	if err != nil {
		o.endFlowLocked(clientID, f)
		o.mu.Unlock()
		o.Stats.Errors.Add(1)
		return 0, nil, err
	}
	st.epoch = max(st.epoch, epoch)
	st.fence = max(st.fence, epoch)
	o.mu.Unlock()
	o.Stats.Claims.Add(1)
	if prev == "" || prev == o.cfg.Node {
		// A local takeover, if any, is the broker's own; a claim of this
		// node that timed out yet was written leaves no session here
		// (replicate_owner.go). An older claim of this node may still be
		// fetching the session (its connection closed meanwhile, as when
		// this node fenced itself): rebuilt twice, the session would get
		// the records kept for its dead node replayed twice.
		if prev == o.cfg.Node && !o.waitOlder(clientID, epoch, o.cfg.Lease+4*o.cfg.Timeout) {
			o.log.Warn("cluster: an older claim of this node still fetches the session; claiming without waiting for it", "client", clientID)
		}
		return epoch, o.rebuildOwnDead(clientID, prev), nil
	}
	o.Stats.Takeovers.Add(1)
	start := time.Now()
	// A hand-over has its own timeout: a compare-and-set that was slow
	// (the bucket electing a leader) must not leave it none.
	hctx, hcancel := context.WithTimeout(context.Background(), o.cfg.Timeout)
	defer hcancel()
	handed, err = o.askHandoverUntilFetched(hctx, prev, clientID, epoch)
	o.Stats.HandoverMillis.Add(uint64(time.Since(start).Milliseconds()))
	if stop, ok := err.(ownerStopped); ok {
		// The previous owner is stopping gracefully and closed every
		// connection before it answered: no lease to wait out. Its
		// session is in the replica, and what it did not take is kept
		// for it from its stop record on (leave.go).
		o.log.Info("cluster: the previous owner is stopping; session rebuilt from its replica", "client", clientID, "node", prev)
		o.deadOwnerWill(clientID, prev)
		return epoch, o.rebuildStopped(clientID, prev, uint64(stop)), nil
	}
	if seq, ok := o.stoppedAfter(prev, prevRev); ok && err != nil {
		// It did not answer, but it said it stopped after it wrote the
		// claim this one replaces: that run holds no connection any more
		// (a later run's claim would have a higher revision).
		o.log.Info("cluster: the previous owner stopped; session rebuilt from its replica", "client", clientID, "node", prev, "err", err)
		o.deadOwnerWill(clientID, prev)
		return epoch, o.rebuildStopped(clientID, prev, seq), nil
	}
	if err != nil {
		// The previous owner is dead, cut off or overloaded. Give it a
		// whole lease to notice and close its connection, so the two are
		// never live together (owner_lease.go).
		o.Stats.Errors.Add(1)
		waited := o.waitOutLease(prev)
		o.log.Warn("cluster: no session from the previous owner; waited out its lease", "client", clientID, "node", prev,
			"waited", waited, "err", err)
		o.deadOwnerWill(clientID, prev)                  // its connection's will, if it had one (wills.go)
		return epoch, o.rebuildDead(clientID, prev), nil // replicated sessions (replicate_owner.go), and what was kept for them (orphan_owner.go)
	}
	if handed != nil {
		o.Stats.Received.Add(1)
	}
	return epoch, handed, nil
}

// cas writes this node as the owner of clientID with compare-and-set and
// returns the previous owner ("" for none) with the revision of its
// claim, and the new revision.
func (o *Owners) cas(ctx context.Context, clientID string) (prev string, prevRev, epoch uint64, err error) {
	key, me := OwnerKey(clientID), []byte(o.cfg.Node)
	for {
		e, err := o.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if epoch, err = o.kv.Create(ctx, key, me); err == nil {
				return "", 0, epoch, nil
			}
		case err != nil:
			return "", 0, 0, fmt.Errorf("cluster: read owner of %q: %w", cut(clientID), err)
		default:
			if epoch, err = o.kv.Update(ctx, key, me, e.Revision()); err == nil {
				return string(e.Value()), e.Revision(), epoch, nil
			}
		}
		if ctx.Err() != nil {
			return "", 0, 0, fmt.Errorf("cluster: claim %q: %w", cut(clientID), err)
		}
		o.Stats.Conflicts.Add(1) // another claim won the race: read again
	}
}

// askHandoverUntilFetched asks node for clientID's session, again while
// it answers that an older claim of its own still fetches the session:
// node is alive and will hold the session once that claim is done (it
// waits out at most a lease, then rebuilds within two timeouts). Treating
// it as dead instead would leave the session it then registers with
// nobody to hand it to, and route messages to it that the client never
// gets. ctx bounds the first request; each later one has a timeout of its
// own.
func (o *Owners) askHandoverUntilFetched(ctx context.Context, node, clientID string, epoch uint64) (*session.Restored, error) {
	until := time.Now().Add(o.cfg.Lease + 2*o.cfg.Timeout)
	r, err := o.askHandover(ctx, node, clientID, epoch)
	if errors.Is(err, errHandoverBusy) {
		o.log.Info("cluster: the previous owner is still claiming the session; asking again", "client", clientID, "node", node)
	}
	for errors.Is(err, errHandoverBusy) && time.Now().Before(until) {
		actx, cancel := context.WithTimeout(context.Background(), o.cfg.Timeout)
		r, err = o.askHandover(actx, node, clientID, epoch)
		cancel()
	}
	return r, err
}

// errHandoverBusy is askHandover's error when the previous owner's own
// older claim of the client has not fetched the session yet.
var errHandoverBusy = errors.New("the previous owner is still claiming the session")

// askHandover asks node for clientID's session on behalf of the claim with
// epoch.
func (o *Owners) askHandover(ctx context.Context, node, clientID string, epoch uint64) (*session.Restored, error) {
	req, _ := json.Marshal(handoverRequest{ClientID: clientID, Epoch: epoch, Node: o.cfg.Node})
	msg, err := o.cfg.NC.RequestWithContext(ctx, o.handoverSubject(node), req)
	if err != nil {
		return nil, err
	}
	if len(msg.Data) == 0 {
		return nil, errors.New("empty hand-over reply")
	}
	switch msg.Data[0] {
	case handoverNone, handoverStale:
		return nil, nil
	case handoverStopped:
		seq, _, _ := uvarint(msg.Data[1:])
		return nil, ownerStopped(seq)
	case handoverBusy:
		return nil, errHandoverBusy
	case handoverSession:
		r, err := store.DecodeSession(msg.Data[1:])
		if err != nil {
			return nil, err
		}
		if r.Record.ClientID != clientID {
			return nil, fmt.Errorf("hand-over of %q answered with %q", cut(clientID), cut(r.Record.ClientID))
		}
		return &r, nil
	}
	return nil, fmt.Errorf("hand-over reply status %d", msg.Data[0])
}

// Fetched says the claim of clientID with epoch registered the session it
// fetched, if any, so hand-over requests waiting for it may proceed. Safe
// for concurrent use.
func (o *Owners) Fetched(clientID string, epoch uint64) {
	if orph := o.orphans.Load(); orph != nil {
		orph.registered(clientID) // a rebuilt session not adopted gets no replay later (orphan_replay.go)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if f := o.flowLocked(clientID, epoch); f != nil && !f.closed {
		f.closed = true
		close(f.fetched)
	}
}

// Settle ends the claim of clientID with epoch, once its connection has
// attached (or closed first), and reports whether epoch is still the
// newest claim this node knows of: a connection attached under an epoch
// that is not must be closed as taken over. Safe for concurrent use.
func (o *Owners) Settle(clientID string, epoch uint64) (current bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if f := o.flowLocked(clientID, epoch); f != nil {
		o.endFlowLocked(clientID, f)
	}
	st := o.clients[clientID]
	return st != nil && st.fence <= epoch
}

func (o *Owners) flowLocked(clientID string, epoch uint64) *flow {
	if st := o.clients[clientID]; st != nil {
		for _, f := range st.pending {
			if f.epoch == epoch {
				return f
			}
		}
	}
	return nil
}

// Forget drops what this node knows of clientID once its session here has
// ended and no claim is in progress. Safe for concurrent use.
func (o *Owners) Forget(clientID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if st := o.clients[clientID]; st != nil && len(st.pending) == 0 {
		delete(o.clients, clientID)
	}
}

// Known returns how many client IDs this node keeps claim state for. Safe
// for concurrent use.
func (o *Owners) Known() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.clients)
}

func (o *Owners) stateLocked(clientID string) *claimState {
	st := o.clients[clientID]
	if st == nil {
		st = &claimState{}
		o.clients[clientID] = st
	}
	return st
}

// endFlowLocked removes f from clientID's pending claims and releases the
// requests waiting for it.
func (o *Owners) endFlowLocked(clientID string, f *flow) {
	st := o.clients[clientID]
	if st == nil {
		return
	}
	for i, p := range st.pending {
		if p == f {
			st.pending = append(st.pending[:i], st.pending[i+1:]...)
			if !f.closed {
				f.closed = true
				close(f.fetched)
			}
			break
		}
	}
}

// raiseFence records epoch as known for clientID and returns the claims of
// this node with lower epochs, which a hand-over must wait for, and
// whether this node holds a newer claim (the request is stale).
func (o *Owners) raiseFence(clientID string, epoch uint64) (wait []*flow, stale bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.stateLocked(clientID)
	st.fence = max(st.fence, epoch)
	if st.epoch > epoch {
		return nil, true
	}
	return append([]*flow(nil), st.pending...), false
}

// waitOlder waits, at most d, until every claim of this node for
// clientID older than epoch has registered the session it fetched, or
// failed; false when d ran out first.
func (o *Owners) waitOlder(clientID string, epoch uint64, d time.Duration) bool {
	o.mu.Lock()
	var wait []*flow
	if st := o.clients[clientID]; st != nil {
		wait = append(wait, st.pending...)
	}
	o.mu.Unlock()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	return waitFetched(wait, epoch, deadline.C)
}

// waitFetched waits until each claim of wait with an epoch below below has
// fetched its session (claims that failed, and those at below or later,
// are not waited for); false when deadline fired first.
func waitFetched(wait []*flow, below uint64, deadline <-chan time.Time) bool {
	for _, f := range wait {
		select {
		case <-f.known:
		case <-deadline:
			return false
		}
		if f.epoch == 0 || f.epoch >= below {
			continue
		}
		select {
		case <-f.fetched:
		case <-deadline:
			return false
		}
	}
	return true
}

// serveHandover answers one hand-over request, on a goroutine of its own
// (it may wait for this node's claims), at most cap(sem) at once.
func (o *Owners) serveHandover(m *nats.Msg) {
	var req handoverRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.Epoch == 0 {
		o.Stats.Errors.Add(1)
		return // not ours to answer; the asker times out
	}
	// At most cap(sem) at once; past that, wait (NATS holds the requests
	// behind this one), but not past the timeout, after which the asker
	// has given up anyway.
	select {
	case o.sem <- struct{}{}:
	default:
		t := time.NewTimer(o.cfg.Timeout)
		defer t.Stop()
		select {
		case o.sem <- struct{}{}:
		case <-t.C:
			o.Stats.Errors.Add(1)
			o.log.Warn("cluster: hand-overs backed up, one dropped", "client", req.ClientID, "node", req.Node)
			return
		}
	}
	go func() {
		defer func() { <-o.sem }()
		o.respond(m, o.handover(&req))
	}()
}

// handover closes this node's connection of req's client and takes out its
// session, once this node's older claims have fetched theirs. It answers
// within half a timeout of the request's arrival, so well before the asker
// gives up: a session taken out after that would be sent to nobody and
// lost with the messages queued in it. An older claim still fetching by
// then gets a busy answer, and the asker asks again.
func (o *Owners) handover(req *handoverRequest) []byte {
	until := time.Now().Add(o.cfg.Timeout / 2)
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	deadline := timer.C
	if o.leaving.Load() {
		return o.stopping()
	}
	select {
	case <-o.ready:
	case <-deadline:
		return []byte{handoverBusy} // still starting (orphan_resume.go)
	}
	if b := o.handResuming(req.ClientID); b != nil {
		return b
	}
	wait, stale := o.raiseFence(req.ClientID, req.Epoch)
	if stale {
		return []byte{handoverStale}
	}
	if !waitFetched(wait, req.Epoch+1, deadline) { // claims up to the request's epoch
		return []byte{handoverBusy}
	}
	if _, stale := o.raiseFence(req.ClientID, req.Epoch); stale {
		return []byte{handoverStale} // a claim of this node newer than the request won meanwhile
	}
	if orph := o.orphans.Load(); orph != nil && !orph.waitReplayed(req.ClientID, deadline) {
		o.log.Warn("cluster: a session handed over before the messages kept for it while its node was dead were all replayed", "client", req.ClientID)
	}
	o.release(req.ClientID) // the claimer writes its replica from now on (replicate_owner.go)
	r, ok := o.local.HandOver(req.ClientID, max(time.Until(until), 0))
	if !ok && o.holds(req.ClientID) {
		return []byte{handoverBusy} // its connection is still closing
	}
	o.Forget(req.ClientID)
	if !ok {
		return []byte{handoverNone}
	}
	o.Stats.HandedOver.Add(1)
	return store.EncodeSession([]byte{handoverSession}, &r)
}

// holds reports whether the broker still holds a session of clientID.
func (o *Owners) holds(clientID string) bool {
	h, ok := o.local.(sessionHolder)
	var info session.Info
	return ok && h.SessionInfo(clientID, &info)
}

func (o *Owners) respond(m *nats.Msg, data []byte) {
	if err := m.Respond(data); err != nil {
		o.Stats.Errors.Add(1)
		o.log.Warn("cluster: hand-over reply failed", "err", err)
	}
}

// watchLoop closes local connections of client IDs another node claimed,
// as soon as the bucket says so.
func (o *Owners) watchLoop() {
	defer close(o.done)
	for e := range o.watch.Updates() {
		if e == nil || e.Operation() != jetstream.KeyValuePut || string(e.Value()) == o.cfg.Node {
			continue
		}
		id, err := ClientOfKey(e.Key())
		if err != nil {
			continue
		}
		o.mu.Lock()
		st := o.clients[id]
		fenced := st != nil && st.epoch < e.Revision() && st.fence < e.Revision()
		if fenced {
			st.fence = e.Revision()
		}
		o.mu.Unlock()
		if fenced && o.local.CloseTakenOver(id) {
			o.Stats.Fenced.Add(1)
		}
	}
}
