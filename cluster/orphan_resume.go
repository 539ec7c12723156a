package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A node restarted after a graceful stop (leave.go) replays what its
// origins kept for it while it was down to the sessions it restored from
// its own disk, with the cut-over of any replay (orphan_cut.go): their
// subscriptions entered its router before any message from another node
// did (the engine restores them before it joins the cluster), and the
// Router logs every arrival from its start, so what reached a session
// directly is left out. Once every live origin has answered its cut, what
// it publishes later reaches this node directly; the node then says so on
// adoptedSubject, and the origins stop keeping messages for it
// adoptedGrace and a lease later, which leaves time to a claim on another
// node that is rebuilding one of its sessions. Its stop record is purged
// once the replay is over, so a later start does not replay the same
// records. The sessions of its disk that the ownership bucket gives to
// another node are dropped first (owner_leave.go).

// sessionRanger is a Local that lists its sessions; broker.Engine
// implements it.
type sessionRanger interface {
	RangeSessions(fn func(clientID string, connected bool) bool)
}

// WithoutOrphans tells the Router that StartOrphans will not be called:
// it stops logging arrivals for a replay after a restart. Safe for
// concurrent use.
func (r *Router) WithoutOrphans() {
	r.deliverMu.Lock()
	r.boot = nil
	r.deliverMu.Unlock()
}

// resumeJob returns the replay to this node's sessions after a graceful
// stop, nil when its last run left no stop record. Called by
// StartOrphans.
func (o *orphans) resumeJob() *replayJob {
	r := o.r
	ranger, ok := r.local.(sessionRanger)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var m *jetstream.RawStreamMsg
	err := retryJS(ctx, func() (err error) {
		m, err = o.stream.GetLastMsgForSubject(ctx, o.subject(r.node.Name())+stopSuffix)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			m, err = nil, nil
		}
		return err
	})
	if err != nil {
		r.log.Error("cluster: cannot read this node's stop record; what was kept for its sessions while it was down is not replayed", "err", err)
		return nil
	}
	if m == nil {
		return nil
	}
	r.mu.Lock()
	self := r.seq.Load()
	r.mu.Unlock()
	j := &replayJob{dead: r.node.Name(), from: replayFrom{seq: m.Sequence}, resume: true}
	var ids []string
	ranger.RangeSessions(func(id string, _ bool) bool {
		ids = append(ids, id)
		return true
	})
	if own := o.cfg.Owners; own != nil {
		ids, j.ghosts = own.dropGhosts(ids)
	}
	for _, id := range ids {
		j.clients = append(j.clients, rebuiltClient{id: id, self: self})
	}
	r.log.Info("cluster: started after a graceful stop; replaying what was kept for this node's sessions meanwhile",
		"sessions", len(j.clients), "stop_record", m.Sequence)
	return j
}

// takeBoot hands the arrivals the Router logged since it started to the
// replay of j, and stops that log. The caller holds deliverMu, before the
// orphans are visible to the Router.
func (o *orphans) takeBoot(j *replayJob) {
	r, rp := o.r, &o.replay
	boot := r.boot
	r.boot = nil
	if j == nil {
		return
	}
	// A claimer that made the bucket name it while this node was down may
	// ask for a dropped session still: it is answered as by a stopped
	// node while the others keep this node's records.
	for _, id := range j.ghosts {
		rp.resuming[id] = j.from.seq
	}
	time.AfterFunc(adoptedGrace+o.cfg.Lease, func() {
		rp.mu.Lock()
		for _, id := range j.ghosts {
			if rp.resuming[id] == j.from.seq {
				delete(rp.resuming, id)
			}
		}
		rp.mu.Unlock()
	})
	if len(j.clients) == 0 || boot == nil {
		return
	}
	rp.arrivals = *boot // the clients' registration is at index 0
	rp.recording.Add(int32(len(j.clients)))
	for _, c := range j.clients {
		rp.active[c.id] = make(chan struct{})
		rp.resuming[c.id] = j.from.seq
	}
}

// resumingStop returns the stop record of this node when clientID's
// session, restored from its disk after that stop, still waits for its
// replay. Safe for concurrent use.
func (o *orphans) resumingStop(clientID string) (seq uint64, ok bool) {
	rp := &o.replay
	rp.mu.Lock()
	defer rp.mu.Unlock()
	seq, ok = rp.resuming[clientID]
	return seq, ok
}

// resumePeerWait bounds how long a restarted node's replay waits for the
// heartbeats of the nodes whose leases are current.
const resumePeerWait = 5 * time.Second

// awaitPeers waits, until deadline, until this node hears the heartbeats
// of every other node whose lease is current: a node that has just
// started may not have heard them yet, and the cut-over asks only the
// nodes it hears for their cut; one not asked has its records replayed
// even when they reach the session directly.
func (o *orphans) awaitPeers(deadline time.Time) {
	own := o.cfg.Owners
	if own == nil {
		return
	}
	for time.Now().Before(deadline) {
		waiting := false
		for _, node := range own.livePeers() {
			if !o.r.beating(node) {
				waiting = true
			}
		}
		if !waiting {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	o.r.log.Warn("cluster: replaying after a restart without hearing every node whose lease is current", "waited", resumePeerWait)
}

// resumed tells the other nodes that this node's replay point is fixed:
// they stop keeping messages for it adoptedGrace later.
func (o *orphans) resumed() {
	if err := o.r.node.nc.Publish(adoptedSubject, []byte(o.r.node.Name())); err != nil {
		o.r.log.Warn("cluster: resume notice", "err", err)
	}
}

// forgetStop purges this node's stop records up to seq, once their replay
// is over.
func (o *orphans) forgetStop(seq uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := retryJS(ctx, func() error {
		return o.stream.Purge(ctx, jetstream.WithPurgeSubject(o.subject(o.r.node.Name())+stopSuffix), jetstream.WithPurgeSequence(seq+1))
	})
	if err != nil {
		o.r.log.Warn("cluster: stop record not purged; a later start may replay its records again", "err", err)
	}
}

// startResume runs j, or, without sessions to replay to, tells the others
// at once that this node is back.
func (o *orphans) startResume(j *replayJob) {
	if j == nil {
		return
	}
	if len(j.clients) > 0 {
		go o.replayJob(j)
		return
	}
	o.resumed()
	go o.forgetStop(j.from.seq)
}
