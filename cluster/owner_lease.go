package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Leases keep ownership single across partitions.
//
// A node cut off from the majority of the cluster cannot see that another
// node claimed one of its clients, nor answer that node's hand-over
// request. So every node renews a lease: it writes its key in the
// replicated leases bucket every second (a tenth of the lease when that is
// shorter), which succeeds only while it is in contact with a JetStream
// majority. A node whose last successful renewal is more than half a lease
// old fences itself: it closes all its MQTT connections (as taken over)
// and refuses claims until a renewal succeeds again; so it holds no
// connection later than 0.6 leases after its last renewal. Every node
// watches the leases and notes, on its own clock, when it last saw each
// node renew. A claimer whose hand-over request goes unanswered (the
// previous owner is dead or cut off) lets its connection attach only a
// whole lease after it last saw that owner renew: at once for a node long
// dead, at most a lease later for one just lost. Only the nodes' clock
// rates must agree, within the margin, not their clocks.
//
// The lease is long (30 s by default) because a JetStream write stalls
// while the bucket's stream elects a new leader (NATS elections take
// seconds): a short lease would fence healthy nodes whenever one node dies.

// errFenced refuses claims while this node has no majority.
var errFenced = errors.New("cluster: this node has lost contact with the cluster majority (lease not renewed)")

// leaseState is the lease part of Owners.
type leaseState struct {
	kv      jetstream.KeyValue
	renewed atomic.Int64 // leaseNow of the last successful renewal
	fenced  atomic.Bool
	stop    chan struct{}
	done    chan struct{}
	watch   jetstream.KeyWatcher // the current watch of the leases bucket; guarded by mu once leaseWatch runs
	wdone   chan struct{}
	rewatch int64 // leaseNow of the last restart of a stalled watch; leaseLoop's only

	mu   sync.Mutex
	seen map[string]int64 // node name -> leaseNow when its renewal was last seen, moved on past blind spells; guarded by mu
	// stored is when each node's last renewal seen was stored, as the
	// bucket stamped it: the real time, which a blind spell never moves
	// (the start of a replay for a dead node's sessions, orphan_owner.go).
	// Guarded by mu.
	stored map[string]time.Time
	rev    map[string]uint64 // node name -> bucket revision of its last renewal seen; guarded by mu
	self   int64             // leaseNow when the watch last delivered this node's own renewal; guarded by mu
	wstart int64             // leaseNow when the current watch started; guarded by mu
	blind  atomic.Uint64     // times the watch was found blind (sawSelfLocked)
}

// Fencer is a broker that can close all its connections at once, as a
// node that fences itself must; broker.Engine implements it. When the
// Handovers given to StartOwners implement it, Owners uses it.
type Fencer interface {
	// CloseAllTakenOver closes every MQTT connection of this node as
	// taken over, and returns how many it closed.
	CloseAllTakenOver() int
}

// leaseBase anchors leaseNow.
var leaseBase = time.Now()

// leaseNow is monotonic nanoseconds since the process started.
func leaseNow() int64 { return int64(time.Since(leaseBase)) }

// startLease opens the leases bucket, renews once, and starts renewing.
func (o *Owners) startLease(ctx context.Context) error {
	if o.cfg.Lease <= 0 {
		o.cfg.Lease = 30 * time.Second
	}
	var err error
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		o.lease.kv, err = o.cfg.JS.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{Bucket: o.cfg.Bucket + "_leases",
			History: 1, Replicas: o.cfg.Replicas, Storage: jetstream.FileStorage,
			Description: "glassmq: each node's lease, renewed while it reaches a majority"})
		cancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: leases bucket: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	// The first renewal is written before this node may claim a client:
	// a node that died before any renewal of its lease was stored would
	// never be seen, so its lease would never run out and nobody would
	// take its clients' sessions or wills (TestClusterOrphanSessionsAdopted
	// lost that race under load: node-a died within a second of its start).
	if err = retryJS(ctx, func() error {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return o.renew(actx)
	}); err != nil {
		return fmt.Errorf("cluster: first lease renewal: %w", err)
	}
	o.lease.renewed.Store(leaseNow())
	o.lease.seen = make(map[string]int64)
	o.lease.stored = make(map[string]time.Time)
	o.lease.rev = make(map[string]uint64)
	// Starting a watch is a JetStream request of its own, which can time
	// out while the cluster settles (a node just died, leaders move):
	// retried like the bucket, until ctx ends.
	if err = retryJS(ctx, func() (err error) {
		o.lease.watch, err = o.lease.kv.WatchAll(context.Background())
		return err
	}); err != nil {
		return fmt.Errorf("cluster: watch leases: %w", err)
	}
	o.lease.wstart = leaseNow()
	o.lease.stop, o.lease.done, o.lease.wdone = make(chan struct{}), make(chan struct{}), make(chan struct{})
	go o.leaseLoop()
	go o.leaseWatch()
	return nil
}

// leaseWatch notes when each node's renewal is seen. A lease present when
// the watch starts counts as seen now: this node cannot know how old it
// is (its stored time is known, and kept for replays). When leaseLoop
// stops a stalled watch (restartStalledWatch), it starts a new one.
func (o *Owners) leaseWatch() {
	defer close(o.lease.wdone)
	for {
		o.lease.mu.Lock()
		w := o.lease.watch
		o.lease.mu.Unlock()
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			node, err := DecodeToken(e.Key())
			if err != nil {
				continue
			}
			now := leaseNow()
			o.lease.mu.Lock()
			if e.Revision() <= o.lease.rev[node] {
				o.lease.mu.Unlock()
				continue // a renewal seen before, given again by a new watch: not a sign of life
			}
			o.lease.rev[node] = e.Revision()
			o.lease.seen[node] = now
			o.lease.stored[node] = e.Created()
			if node == o.cfg.Node {
				o.sawSelfLocked(now)
			}
			o.lease.mu.Unlock()
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-o.lease.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		var nw jetstream.KeyWatcher
		err := retryJS(ctx, func() (err error) {
			nw, err = o.lease.kv.WatchAll(context.Background())
			return err
		})
		cancel()
		if err != nil {
			return // stopping
		}
		o.lease.mu.Lock()
		o.lease.watch, o.lease.wstart = nw, leaseNow()
		o.lease.mu.Unlock()
		select {
		case <-o.lease.stop:
			nw.Stop()
			return
		default:
		}
	}
}

// restartStalledWatch stops the lease watch when it has not delivered this
// node's own renewal for half a lease (counted from its start for a watch
// that never did) although renewals succeed (a watch's consumer can be
// lost for good while JetStream elects leaders under load): leaseWatch
// then starts a new one. A watch that stays silent
// would freeze every sighting, so that no dead node's lease would ever run
// out, nor its clients' sessions and wills be taken over. Called by
// leaseLoop after a successful renewal.
func (o *Owners) restartStalledWatch(now int64) {
	o.lease.mu.Lock()
	self, w := max(o.lease.self, o.lease.wstart), o.lease.watch // a watch that never showed it counts from its start
	o.lease.mu.Unlock()
	half := int64(o.cfg.Lease / 2)
	if now-self <= half || now-o.lease.rewatch <= half {
		return
	}
	o.lease.rewatch = now
	o.log.Warn("cluster: the lease watch stopped delivering although renewals succeed; watching again",
		"silent", time.Duration(now-self).Round(time.Millisecond))
	w.Stop()
}

// sawSelfLocked notes that the watch delivered this node's own renewal at
// now. When the one before is more than a quarter lease old, the watch
// was blind meanwhile (the leases bucket was electing a leader, or this
// process was frozen): other nodes could not renew either, or did and the
// watch did not say. Their silence during that spell says nothing about
// them, so it does not count: every other node's last sighting moves on
// by the spell's length (capped at now). A live node's lease then does
// not run out because this node could not look, and no live node's
// clients are taken; a node that was already silent while the watch
// worked keeps that silence, so a dead node is still found dead (and its
// sessions adopted) a lease of watched silence after its death, however
// often the watch goes blind under load. The caller holds lease.mu.
func (o *Owners) sawSelfLocked(now int64) {
	last := o.lease.self
	o.lease.self = now
	if last == 0 || time.Duration(now-last) <= o.cfg.Lease/4 {
		return
	}
	spell := now - last
	for node, seen := range o.lease.seen {
		if node != o.cfg.Node && seen < now {
			o.lease.seen[node] = min(seen+spell, now)
		}
	}
	o.lease.blind.Add(1)
	if o.log != nil {
		o.log.Warn("cluster: the lease watch showed nothing for a while; other nodes' silence meanwhile does not count against their leases",
			"blind", time.Duration(spell).Round(time.Millisecond))
	}
}

// livePeers returns the other nodes whose last renewal seen was stored
// less than a lease ago. Safe for concurrent use.
func (o *Owners) livePeers() []string {
	o.lease.mu.Lock()
	defer o.lease.mu.Unlock()
	var live []string
	for node, at := range o.lease.stored {
		if node != o.cfg.Node && time.Since(at) < o.cfg.Lease {
			live = append(live, node)
		}
	}
	return live
}

// waitOutLease returns once node's lease, as last seen here, has run out:
// a whole lease after its last renewal seen, or after now when none was.
func (o *Owners) waitOutLease(node string) time.Duration {
	o.lease.mu.Lock()
	seen, ok := o.lease.seen[node]
	o.lease.mu.Unlock()
	if !ok {
		seen = leaseNow()
	}
	wait := time.Duration(seen + int64(o.cfg.Lease) - leaseNow())
	if wait > 0 {
		time.Sleep(wait)
	}
	return max(wait, 0)
}

// leaseLoop renews the lease and fences the node when renewals fail.
func (o *Owners) leaseLoop() {
	defer close(o.lease.done)
	every := min(time.Second, o.cfg.Lease/10)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-o.lease.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := o.renew(ctx)
		cancel()
		if err == nil {
			o.lease.renewed.Store(leaseNow())
			if o.lease.fenced.Swap(false) {
				o.log.Warn("cluster: lease renewed, this node takes clients again")
			}
			o.restartStalledWatch(leaseNow())
			continue
		}
		if time.Duration(leaseNow()-o.lease.renewed.Load()) <= o.cfg.Lease/2 || o.lease.fenced.Load() {
			continue
		}
		o.lease.fenced.Store(true)
		n := 0
		if f, ok := o.local.(Fencer); ok {
			n = f.CloseAllTakenOver()
		}
		o.Stats.Fenced.Add(uint64(n))
		o.log.Error("cluster: lease not renewed: no contact with the cluster majority; connections closed, claims refused until it is",
			"closed", n, "err", err)
	}
}

// renew writes this node's lease.
func (o *Owners) renew(ctx context.Context) error {
	_, err := o.lease.kv.Put(ctx, OwnerKey(o.cfg.Node), []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	return err
}

func (o *Owners) stopLease() {
	if o.lease.stop != nil {
		close(o.lease.stop)
		<-o.lease.done
		o.lease.mu.Lock()
		w := o.lease.watch
		o.lease.mu.Unlock()
		w.Stop()
		<-o.lease.wdone
	}
}

// Fenced reports whether this node has fenced itself for want of a
// majority. Safe for concurrent use.
func (o *Owners) Fenced() bool { return o.lease.fenced.Load() }

// retryJS calls fn until it succeeds or ctx ends, 250 ms apart, and
// returns fn's last error.
func retryJS(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}
