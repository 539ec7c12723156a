package cluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
)

// Orphans are the persistent sessions of a node that died. Until a client
// returns, nobody holds its session, so nobody subscribes for it and what
// is published for it goes nowhere. Once a node's lease has run out (no
// renewal seen for a whole lease, so it holds no connection any more),
// the first live node in name order claims each client the ownership
// bucket still gives to the dead node, rebuilds its session from the
// replica and registers it offline: its subscriptions route again, and
// messages queue for it until it reconnects, to this node or any other
// (a live hand-over then moves it).

// Orphans is a broker that can take in a session rebuilt for a client that
// is not connected; broker.Engine implements it. When the Handovers given
// to StartOwners implement it and a replica is in use, Owners adopts the
// sessions of dead nodes.
type Orphans interface {
	// AdoptOffline registers r as an offline persistent session and
	// reports whether it did (false when a connection of the client came
	// first, whose session stands).
	AdoptOffline(r *session.Restored) bool
}

// sweepLoop watches for nodes whose lease ran out and adopts their
// clients' sessions.
func (o *Owners) sweepLoop(stop <-chan struct{}) {
	every := max(o.cfg.Lease/4, 250*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	swept := map[string]int64{} // dead node -> the renewal time it was swept at
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if o.replica.Load() == nil || o.Fenced() {
			continue
		}
		dead, last, first := o.deadNodes() // wills_dead.go
		if !first {
			continue // the first live node sweeps
		}
		for _, node := range dead {
			if swept[node] == last[node] {
				continue
			}
			if o.sweep(node) {
				swept[node] = last[node]
				o.adoptedAll(node) // publishers stop keeping messages for it (orphan.go)
			}
		}
	}
}

// sweep adopts every client the ownership bucket gives to the dead node,
// and reports false when some could not be read (the next round tries
// them again).
func (o *Owners) sweep(dead string) bool {
	ad, ok := o.local.(Orphans)
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	w, err := o.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		cancel()
		o.log.Warn("cluster: cannot list the clients of a dead node", "node", dead, "err", err)
		return false
	}
	var ids []string
	for e := range w.Updates() {
		if e == nil {
			break // the current values are all delivered
		}
		if string(e.Value()) != dead {
			continue
		}
		if id, err := ClientOfKey(e.Key()); err == nil {
			ids = append(ids, id)
		}
	}
	w.Stop()
	cancel()
	adopted, unread := 0, 0
	r := o.replica.Load()
	for _, id := range ids {
		if o.claiming(id) {
			// A CONNECT of the client on this node is claiming it: a claim
			// of the sweep now would write a newer epoch and fence that
			// connection as soon as it attached. The CONNECT rebuilds the
			// session itself.
			continue
		}
		// Read before claiming: a claim whose session cannot be read
		// would leave the client owned here with nothing.
		fctx, fcancel := context.WithTimeout(context.Background(), 2*o.cfg.Timeout)
		_, err := r.Fetch(fctx, id)
		fcancel()
		if err != nil {
			unread++
			continue
		}
		epoch, rs, err := o.Claim(id)
		if err != nil {
			continue
		}
		if rs != nil && ad.AdoptOffline(rs) {
			adopted++
		}
		o.Fetched(id, epoch)
		o.Settle(id, epoch)
		if rs == nil {
			o.Forget(id)
		}
	}
	o.log.Warn("cluster: a dead node's sessions adopted", "node", dead, "clients", len(ids), "adopted", adopted, "unread", unread)
	return unread == 0
}

// claiming reports whether a claim of this node for clientID is still
// fetching its session or waiting for its connection to attach.
func (o *Owners) claiming(clientID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.clients[clientID]
	return st != nil && len(st.pending) > 0
}
