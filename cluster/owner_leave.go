package cluster

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
)

// Ownership around a graceful stop (leave.go).
//
// A stopping node answers hand-over requests only once it has stopped
// taking messages from other nodes, and then without a session
// (handoverStopped, with its stop record): its connections are closed,
// its sessions are in their replicas, and what it did not take is kept
// for them by the other nodes. The claimer needs no lease wait: it
// rebuilds the session from the replica and replays from the stop
// record. So does a claimer whose request the stopped node could not
// answer any more, when the claim it replaces is older than the node's
// stop (the ownership bucket's revision in the stop notice).
//
// Restarted, the node drops the sessions of its disk that another node
// owns now, and answers a request for one it has not replayed to yet as
// if it were still stopped.

// stopMark is what a stopping node said: the ownership bucket's revision
// once it claimed nothing more, and its stop record.
type stopMark struct{ rev, seq uint64 }

// handResuming answers a hand-over request for a session this node
// restored from its disk after a graceful stop and has not replayed to
// yet (orphan_resume.go), when no connection of the client attached here
// since: as if this node were still stopped. Its replica holds what the
// disk does, and the claimer replays the records kept since the stop, as
// this node would have (they are kept until this node's replay point is
// fixed and a while after). Waiting for the replay instead could outlast
// the claimer's hand-over timeout. The local copy is dropped. nil when
// the request is answered as usual.
func (o *Owners) handResuming(clientID string) []byte {
	orph := o.orphans.Load()
	if orph == nil {
		return nil
	}
	seq, ok := orph.resumingStop(clientID)
	if !ok {
		return nil
	}
	o.mu.Lock()
	st := o.clients[clientID]
	claimed := st != nil && (st.epoch != 0 || len(st.pending) > 0) // a CONNECT of it here claimed it, or is claiming
	o.mu.Unlock()
	if claimed {
		return nil
	}
	var info session.Info
	if h, ok := o.local.(sessionHolder); !ok || h.SessionInfo(clientID, &info) {
		o.release(clientID)
		if _, ok := o.local.HandOver(clientID, 0); !ok {
			return nil // a connection holds it: the usual hand-over
		}
	} // else dropped at start, the claimer being the bucket's owner (dropGhosts)
	o.log.Info("cluster: a session restored from disk, not yet replayed to, handed over as from a stopped node", "client", clientID)
	return binary.AppendUvarint([]byte{handoverStopped}, seq)
}

// ownerStopped is askHandover's error when the previous owner is
// stopping: the sequence of its stop record (leave.go).
type ownerStopped uint64

func (e ownerStopped) Error() string { return "the previous owner is stopping" }

// Ready lets hand-over requests be answered (see HoldHandovers). Call it
// once messages kept for stopped nodes' sessions are started
// (Router.StartOrphans), or will not be. Safe for concurrent use.
func (o *Owners) Ready() { o.readyOnce.Do(func() { close(o.ready) }) }

// Leaving says this node is stopping: from now on hand-over requests are
// answered only once Left is called, with no session (this node's
// connections are closed by then, and what it did not take is kept for
// its sessions by the other nodes). Call it before the node closes its
// connections. Safe for concurrent use.
func (o *Owners) Leaving() { o.leaving.Store(true) }

// noteStop records that node said it stopped (leave.go), with the
// ownership bucket's revision rev (0: unknown) and its stop record seq.
// Safe for concurrent use.
func (o *Owners) noteStop(node string, rev, seq uint64) {
	o.mu.Lock()
	o.stops[node] = stopMark{rev, seq}
	o.mu.Unlock()
}

// stoppedAfter reports whether node said it stopped after the bucket
// held its claim of revision rev, and returns its stop record. Safe for
// concurrent use.
func (o *Owners) stoppedAfter(node string, rev uint64) (seq uint64, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	st, ok := o.stops[node]
	return st.seq, ok && rev != 0 && rev <= st.rev
}

// revision returns the ownership bucket's last revision, 0 when it cannot
// be read by deadline.
func (o *Owners) revision(deadline time.Time) uint64 {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	st, err := o.kv.Status(ctx)
	if err != nil {
		return 0
	}
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		return bs.StreamInfo().State.LastSeq
	}
	return 0
}

// fetching reports whether a claim of this node has not yet registered
// the session it fetched (or failed). Safe for concurrent use.
func (o *Owners) fetching() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, st := range o.clients {
		for _, f := range st.pending {
			if !f.closed {
				return true
			}
		}
	}
	return false
}

// dropGhosts ends the sessions of ids on this node, restored from its
// disk at start, that the ownership bucket gives to another node (their
// clients resumed there while this node was down, or are claiming them
// from this node right now): they would only gather copies of what
// reaches their owners. The replicas are left to the owners. It returns
// the ids it kept, all of them when the bucket cannot be read, and those
// it dropped. It blocks on the bucket (one listing).
func (o *Owners) dropGhosts(ids []string) (kept, dropped []string) {
	mine := make(map[string]bool, len(ids))
	for _, id := range ids {
		mine[OwnerKey(id)] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := o.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		o.log.Warn("cluster: cannot list the owners of the sessions restored from disk", "err", err)
		return ids, nil
	}
	defer w.Stop()
	elsewhere := map[string]string{}
	for e := range w.Updates() {
		if e == nil {
			break // the current values are all delivered
		}
		if mine[e.Key()] && string(e.Value()) != o.cfg.Node {
			elsewhere[e.Key()] = string(e.Value())
		}
	}
	if ctx.Err() != nil {
		return ids, nil
	}
	for _, id := range ids {
		owner, gone := elsewhere[OwnerKey(id)]
		if !gone {
			kept = append(kept, id)
			continue
		}
		o.release(id)
		if _, ok := o.local.HandOver(id, 0); ok {
			dropped = append(dropped, id)
			o.log.Info("cluster: a session restored from disk is owned by another node now; dropped here", "client", id, "owner", owner)
		}
	}
	return kept, dropped
}

// Left says this node has stopped taking messages from other nodes, with
// seq its stop record (Router.Leave): waiting hand-over requests are
// answered. Safe for concurrent use.
func (o *Owners) Left(seq uint64) {
	o.leftOnce.Do(func() {
		o.stopSeq.Store(seq)
		close(o.left)
	})
}

// stopping answers a hand-over request while this node stops, once Left
// was called; an empty answer (an error to the asker, who then waits out
// this node's lease) when it was not within the hand-over timeout.
func (o *Owners) stopping() []byte {
	select {
	case <-o.left:
		return binary.AppendUvarint([]byte{handoverStopped}, o.stopSeq.Load())
	case <-time.After(o.cfg.Timeout):
		return []byte{}
	}
}
