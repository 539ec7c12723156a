package cluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
)

// rebuildDead returns clientID's session as replicated, as rebuild does,
// for a claim whose previous owner, dead, did not hand it over; when a
// session comes back and messages are kept for dead nodes (orphan.go), it
// also tells the Router to replay the dead node's records to the session
// once the engine registers it (Router.Adopting).
func (o *Owners) rebuildDead(clientID, dead string) *session.Restored {
	rs := o.rebuild(clientID)
	if rs == nil {
		return nil
	}
	if orph := o.orphans.Load(); orph != nil {
		orph.expectRebuilt(clientID, dead, o.replayFrom(orph, dead, 0), rs)
	}
	return rs
}

// rebuildStopped is rebuildDead for a claim whose previous owner answered
// that it stopped (leave.go): its records are read from its stop record,
// seq.
func (o *Owners) rebuildStopped(clientID, node string, seq uint64) *session.Restored {
	rs := o.rebuild(clientID)
	if orph := o.orphans.Load(); rs != nil && orph != nil {
		orph.expectRebuilt(clientID, node, o.replayFrom(orph, node, seq), rs)
	}
	return rs
}

// replayFrom returns where a replay of dead's records starts: after its
// stop record, seq or the one its stop notice named (leave.go), else at
// its last renewal.
func (o *Owners) replayFrom(orph *orphans, dead string, seq uint64) replayFrom {
	if seq == 0 {
		seq = orph.stopRecord(dead)
	}
	return replayFrom{since: o.lastRenewal(dead), seq: seq}
}

// lastRenewal returns when node's last renewal that this node saw was
// stored, as the leases bucket stamped it, less a margin for the clocks of
// the JetStream servers that stamp the records; zero when it never saw one
// (then every record is read). It is the stored time, not when the watch
// delivered it nor the sighting that a blind watch moves on
// (sawSelfLocked): a replay that started later than the death would skip
// the records written right after it.
func (o *Owners) lastRenewal(node string) time.Time {
	o.lease.mu.Lock()
	at, ok := o.lease.stored[node]
	o.lease.mu.Unlock()
	if !ok || at.IsZero() {
		return time.Time{}
	}
	return at.Add(-orphanClockMargin)
}

// orphanClockMargin is how much earlier than a dead node's last renewal a
// replay starts reading: its records are written after its heartbeats
// stopped, which is after its last renewal, on the clocks of the
// JetStream servers.
const orphanClockMargin = 5 * time.Second

// adoptedAll tells every node that the sessions of dead are all adopted
// here: their subscriptions route again, so what is published from now on
// reaches them without being kept (orphan.go). The notice leaves after the
// adopted sessions' interest on this node's one connection, so a node
// that reads it already routes to them.
func (o *Owners) adoptedAll(dead string) {
	if orph := o.orphans.Load(); orph != nil {
		orph.adopted(&nats.Msg{Data: []byte(dead)}) // this node's own connection does not hear its notice
	}
	if err := o.cfg.NC.Publish(adoptedSubject, []byte(dead)); err != nil {
		o.log.Warn("cluster: adoption notice", "node", dead, "err", err)
	}
}

// rebuildOwnDead is rebuildOwn (an earlier claim of this node was written
// but never got the session) for a client whose owner before those claims
// is dead: the session rebuilt from its replica also gets what was kept
// for that node's sessions.
func (o *Owners) rebuildOwnDead(clientID, prev string) *session.Restored {
	rs := o.rebuildOwn(clientID, prev)
	orph := o.orphans.Load()
	if rs == nil || orph == nil {
		return rs
	}
	if dead := o.ownerBefore(clientID); dead != "" && !orph.r.beating(dead) {
		orph.expectRebuilt(clientID, dead, o.replayFrom(orph, dead, 0), rs)
	}
	return rs
}

// ownerBefore returns the newest owner of clientID in the bucket's history
// that is not this node, "" when there is none or the history cannot be
// read.
func (o *Owners) ownerBefore(clientID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), o.cfg.Timeout)
	defer cancel()
	h, err := o.kv.History(ctx, OwnerKey(clientID))
	if err != nil {
		o.log.Warn("cluster: owner history", "client", clientID, "err", err)
		return ""
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Operation() == jetstream.KeyValuePut && string(h[i].Value()) != o.cfg.Node {
			return string(h[i].Value())
		}
	}
	return ""
}
