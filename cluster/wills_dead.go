package cluster

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// This file is the publishing side of the replicated wills (wills.go):
// the wills of a dead node's clients, published by the node that claims
// each client from it, or found by listing on the first live node.

// dueWill is a dead node's will waiting for its delay.
type dueWill struct {
	listedWill
	due     int64 // leaseNow
	claimed bool  // this node took the client from the dead node: publish whatever the bucket says
}

// sweepLoop finds nodes whose lease ran out and publishes their clients'
// wills when due.
func (w *Wills) sweepLoop() {
	defer close(w.sdone)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	swept := map[string]int64{} // dead node -> the renewal it was swept at
	var waiting []dueWill
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		if w.own.Fenced() {
			continue
		}
		w.mu.Lock()
		waiting = append(waiting, w.claimed...)
		clear(w.claimed)
		w.claimed = w.claimed[:0]
		w.mu.Unlock()
		dead, last, first := w.own.deadNodes()
		if !first {
			kept := waiting[:0] // another node sweeps now; what this node claimed stays its own
			for _, d := range waiting {
				if d.claimed {
					kept = append(kept, d)
				}
			}
			waiting = kept
		}
		for _, node := range dead {
			if !first {
				break
			}
			if swept[node] == last[node] {
				continue
			}
			recs, err := w.list(node)
			if err != nil {
				w.log.Warn("cluster: cannot list the wills of a dead node", "node", node, "err", err)
				continue
			}
			swept[node] = last[node]
			for _, r := range recs {
				waiting = append(waiting, dueWill{r, last[node] + int64(r.rec.delay)*int64(time.Second), false})
			}
			w.log.Warn("cluster: a dead node's wills taken over", "node", node, "wills", len(recs))
		}
		now := leaseNow()
		kept := waiting[:0]
		for _, d := range waiting {
			if d.due > now {
				kept = append(kept, d)
				continue
			}
			if !w.fire(d) {
				kept = append(kept, d) // the bucket did not answer: try again
			}
		}
		waiting = kept
	}
}

// fire publishes a dead node's will unless its record changed since it
// was listed (its client is back, or another node published it), or,
// for a will found by listing, its client is no longer the dead node's
// (a claim took it, and that claim settles the will). It reports false
// when the bucket did not answer, to be tried again.
func (w *Wills) fire(d dueWill) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !d.claimed {
		e, err := w.own.kv.Get(ctx, OwnerKey(mustClient(d.key)))
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return false
		}
		if err == nil && string(e.Value()) != d.rec.node {
			return true // claimed meanwhile: the claim decides (deadOwnerWill)
		}
	}
	err := w.kv.Delete(ctx, d.key, jetstream.LastRevision(d.rev))
	if err != nil {
		if isWrongRevision(err) {
			w.Stats.Cancelled.Add(1)
			return true
		}
		w.Stats.Errors.Add(1)
		w.log.Warn("cluster: a dead node's will not published yet", "key", d.key, "err", err)
		return false
	}
	w.pub.PublishWill(d.rec.message(time.Now().UnixMilli()))
	w.Stats.Published.Add(1)
	w.log.Info("cluster: a dead node's client's will published", "client", mustClient(d.key), "node", d.rec.node)
	return true
}

// mustClient returns the client ID of a bucket key, the key itself when
// it does not decode.
func mustClient(key string) string {
	if id, err := ClientOfKey(key); err == nil {
		return id
	}
	return key
}

// deadOwnerWill settles the will of clientID once a claim of this node
// took the client from dead, a node whose lease ran out: dropped when a
// CONNECT of the client made the claim (it is back), else (a survivor
// adopting the dead node's sessions) published when due. Safe for
// concurrent use; it blocks on the bucket for a few seconds at most.
func (o *Owners) deadOwnerWill(clientID, dead string) {
	w := o.wills.Load()
	if w == nil {
		return
	}
	back := w.takeReturning(clientID)
	key := EncodeToken(clientID)
	var e jetstream.KeyValueEntry
	err := retryJS(timeoutCtx(10*time.Second), func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e, err = w.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		return err
	})
	if err != nil || e == nil {
		return // none, or unreadable: the listing sweep may still find it
	}
	r, err := decodeWill(e.Value())
	if err != nil || r.node != dead {
		return
	}
	l := listedWill{key, e.Revision(), r}
	if back {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.kv.Delete(ctx, key, jetstream.LastRevision(l.rev)); err == nil {
			w.Stats.Deleted.Add(1)
		}
		return
	}
	o.lease.mu.Lock()
	seen, ok := o.lease.seen[dead]
	o.lease.mu.Unlock()
	if !ok {
		seen = leaseNow()
	}
	w.mu.Lock()
	w.claimed = append(w.claimed, dueWill{l, seen + int64(r.delay)*int64(time.Second), true})
	w.mu.Unlock()
}

// timeoutCtx returns a context that ends after d; its resources go when
// it does.
func timeoutCtx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	time.AfterFunc(d, cancel)
	return ctx
}

// deadNodes returns the nodes whose lease ran out as seen here, with when
// each last renewed (leaseNow), and whether this node is the first live
// node in name order, which acts for the dead ones.
func (o *Owners) deadNodes() (dead []string, last map[string]int64, first bool) {
	now := leaseNow()
	last = map[string]int64{}
	var live []string
	o.lease.mu.Lock()
	for node, seen := range o.lease.seen {
		last[node] = seen
		if time.Duration(now-seen) > o.cfg.Lease {
			dead = append(dead, node)
		} else {
			live = append(live, node)
		}
	}
	o.lease.mu.Unlock()
	slices.Sort(live)
	return dead, last, len(live) > 0 && live[0] == o.cfg.Node
}
