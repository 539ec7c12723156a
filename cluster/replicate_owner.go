package cluster

import (
	"context"

	"github.com/glassmq/glassmq/session"
)

// UseReplica makes claims of clients whose previous owner did not answer
// (it died) rebuild the session from r, hand-overs to live nodes release
// the session in r rather than delete it, and the sessions of dead nodes
// be adopted (replicate_orphans.go). Safe for concurrent use.
func (o *Owners) UseReplica(r *Replica) {
	if o.replica.Swap(r) == nil {
		go o.sweepLoop(o.lease.stop) // replicate_orphans.go
	}
}

// rebuild returns clientID's session as replicated, nil when there is none
// or it cannot be read (the client then starts afresh, which the log says).
func (o *Owners) rebuild(clientID string) *session.Restored {
	r := o.replica.Load()
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*o.cfg.Timeout)
	defer cancel()
	rs, err := r.Fetch(ctx, clientID)
	if err != nil {
		o.Stats.Errors.Add(1)
		o.log.Error("cluster: replicated session unreadable; the client starts without it", "client", clientID, "err", err)
		return nil
	}
	if rs != nil {
		o.Stats.Received.Add(1)
		o.log.Info("cluster: session rebuilt from its replica", "client", clientID, "messages", len(rs.Messages))
	}
	return rs
}

// sessionHolder is a broker that says whether it holds a session;
// broker.Engine implements it.
type sessionHolder interface {
	SessionInfo(clientID string, dst *session.Info) bool
}

// rebuildOwn returns clientID's replicated session when prev, the owner
// the bucket named before this claim, is this node but this node holds no
// session of it: an earlier claim of this node was written although it
// timed out (JetStream slow while it elects a leader after a node died),
// so this node never received the session from the node that died. nil
// otherwise.
func (o *Owners) rebuildOwn(clientID, prev string) *session.Restored {
	if prev != o.cfg.Node || o.replica.Load() == nil {
		return nil
	}
	h, ok := o.local.(sessionHolder)
	if !ok {
		return nil
	}
	var info session.Info
	if h.SessionInfo(clientID, &info) {
		return nil
	}
	return o.rebuild(clientID)
}

// release tells the replica that clientID's session moves to a live node.
func (o *Owners) release(clientID string) {
	if r := o.replica.Load(); r != nil {
		r.Release(clientID)
	}
}
