package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Leases keep ownership single across partitions.
//
// A node cut off from the majority of the cluster cannot see that another
// node claimed one of its clients, nor answer that node's hand-over
// request. So every node renews a lease: it writes its key in the
// replicated leases bucket every Lease/9, which succeeds only while it is
// in contact with a JetStream majority. A node whose last successful
// renewal is more than 4/9 of a Lease old fences itself: it closes all its
// MQTT connections (as taken over) and refuses claims until a renewal
// succeeds again. Checked every Lease/9, that happens at most 5/9 of a
// Lease after the node lost the majority. A claimer whose hand-over
// request fails (no answer: the previous owner is dead or cut off) waits a
// whole Lease before it lets its connection attach, by which time a cut-off
// owner has closed its connections. Both sides measure on their own
// monotonic clocks; only their rates must agree within the margin.

// errFenced refuses claims while this node has no majority.
var errFenced = errors.New("cluster: this node has lost contact with the cluster majority (lease not renewed)")

// leaseState is the lease part of Owners.
type leaseState struct {
	kv      jetstream.KeyValue
	renewed atomic.Int64 // monoNow of the last successful renewal
	fenced  atomic.Bool
	stop    chan struct{}
	done    chan struct{}
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
		o.cfg.Lease = 9 * time.Second
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
	o.lease.renewed.Store(leaseNow())
	o.lease.stop, o.lease.done = make(chan struct{}), make(chan struct{})
	go o.leaseLoop()
	return nil
}

// leaseLoop renews the lease and fences the node when renewals fail.
func (o *Owners) leaseLoop() {
	defer close(o.lease.done)
	every := o.cfg.Lease / 9
	t := time.NewTicker(every)
	defer t.Stop()
	key := OwnerKey(o.cfg.Node)
	for {
		select {
		case <-o.lease.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		_, err := o.lease.kv.Put(ctx, key, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
		cancel()
		if err == nil {
			o.lease.renewed.Store(leaseNow())
			if o.lease.fenced.Swap(false) {
				o.log.Warn("cluster: lease renewed, this node takes clients again")
			}
			continue
		}
		if time.Duration(leaseNow()-o.lease.renewed.Load()) <= o.cfg.Lease*4/9 || o.lease.fenced.Load() {
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

func (o *Owners) stopLease() {
	if o.lease.stop != nil {
		close(o.lease.stop)
		<-o.lease.done
	}
}

// Fenced reports whether this node has fenced itself for want of a
// majority. Safe for concurrent use.
func (o *Owners) Fenced() bool { return o.lease.fenced.Load() }
