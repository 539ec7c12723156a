package cluster

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/nats-io/nats.go"
)

// A node that stops gracefully says so.
//
// Without a word, a node restarted within memberTimeout is never counted
// dead: its origins release what it did not confirm after confirmTimeout,
// and nothing keeps what is published while it is down for its sessions,
// nor for a client that resumes one of them on another node meanwhile.
//
// So a stopping node calls Owners.Leaving and Node.Leaving, closes its
// connections, then calls Leave before its store closes:
//
//  0. It waits for its claims to register the sessions they fetch and
//     for its replays to end (settle).
//  1. Through the Router's queue, everything that arrived goes to the
//     engine; from then on nothing more is taken (batches and markers are
//     dropped unanswered) and no heartbeat leaves.
//  2. It waits until the engine has made what it took durable (store and
//     replica): what it took is then in its sessions on its disk and in
//     their replicas.
//  3. With messages kept for stopped nodes' sessions (orphan.go), it
//     writes a stop record on its subject of GLASSMQ_ORPHAN (stopSuffix).
//     Everything its origins keep for it from now on is stored after it.
//  4. It publishes a notice on stopSubject: its name, the stream sequence
//     of its stop record, the ownership bucket's last revision
//     (owner_leave.go), and per origin the number of the last QoS 1/2
//     message it took from it (when step 2 succeeded).
//
// An origin that reads the notice stops waiting for the node at once and,
// with replicated sessions, keeps for it every batch numbered past what it
// took, and writes every batch it publishes from then on, as for a dead
// node (orphan.go). The node, restarted, replays them to the sessions it
// restores from its disk (orphan_resume.go); a client that resumed its
// session on another node meanwhile gets them through that node's replay
// (orphan_replay.go), which starts at the stop record. The window closes
// adoptedGrace and a lease after the restarted node has fixed its replay
// point (orphan.go, adopted).

const (
	// stopSubject carries the notices of stopping nodes.
	stopSubject = "mq.stop"
	// stopSuffix follows a node's orphan subject for its stop records.
	stopSuffix = ".stop"
)

// Leave stops this node's part in routing, as above, within timeout, and
// returns the stream sequence of its stop record (0 when none was
// written). Call it once, after the node's connections closed and before
// its store closes; the Router takes nothing more from other nodes. Safe
// for concurrent use.
func (r *Router) Leave(timeout time.Duration) uint64 {
	if o := r.orph.Load(); o != nil {
		o.settle(time.Now().Add(leaveSettle))
	}
	deadline := time.Now().Add(timeout)
	ch := make(chan map[string]uint64, 1)
	r.qmu.Lock()
	r.leaveTaken = ch
	r.enqueueLocked(inMsg{kind: leaving})
	r.qmu.Unlock()
	r.signal()
	var taken map[string]uint64
	select {
	case taken = <-ch:
	case <-time.After(time.Until(deadline)):
		r.left.Store(true) // run is behind: stop anyway, and say nothing of what was taken
		r.log.Warn("cluster: stopping: the receive queue did not drain in time")
	}
	if taken != nil && !r.durableBy(deadline) {
		taken = nil // not all stored: the origins keep everything they did not hear confirmed
	}
	var seq, rev uint64
	if o := r.orph.Load(); o != nil {
		seq = o.writeStop(deadline)
		if o.cfg.Owners != nil {
			rev = o.cfg.Owners.revision(deadline)
		}
	}
	if err := r.node.nc.Publish(stopSubject, appendStopNotice(nil, stopNotice{r.node.Name(), r.origin, seq, rev, taken})); err != nil {
		r.log.Warn("cluster: stop notice", "err", err)
	}
	r.node.nc.FlushTimeout(max(time.Until(deadline), 100*time.Millisecond))
	r.log.Info("cluster: stopping; other nodes keep what is published for this node's sessions", "stop_record", seq, "origins", len(taken))
	return seq
}

// leaveSettle bounds Leave's wait for this node's claims and replays.
const leaveSettle = 15 * time.Second

// settle waits, until deadline, for the claims of this node to register
// the sessions they fetch and for the replays to rebuilt sessions to end:
// a session being rebuilt here when the node stops is then in its store
// and replica with what was kept for it, so the next node that rebuilds
// it misses nothing.
func (o *orphans) settle(deadline time.Time) {
	for time.Now().Before(deadline) {
		rp := &o.replay
		rp.mu.Lock()
		busy := len(rp.expect) > 0 || len(rp.jobs) > 0 || len(rp.active) > 0
		rp.mu.Unlock()
		if !busy && (o.cfg.Owners == nil || !o.cfg.Owners.fetching()) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	o.r.log.Warn("cluster: stopping with claims or replays of this node unfinished", "waited", leaveSettle)
}

// stopTaking is run's side of Leave: it hands what it gathered to the
// engine, stops taking, and answers Leave with what it took.
func (r *Router) stopTaking(rs *runState) {
	r.deliver(rs)
	r.left.Store(true)
	taken := make(map[string]uint64, len(rs.taken))
	for origin, seq := range rs.taken {
		taken[origin] = *seq
	}
	r.qmu.Lock()
	ch := r.leaveTaken
	r.qmu.Unlock()
	ch <- taken
}

// noteTaken records the number of the last QoS 1/2 message of each origin
// in batch, just handed to the engine. Called on run's goroutine.
func noteTaken(taken map[string]*uint64, it records) {
	var last *uint64
	var lastOrigin []byte
	for e := (envelope{}); it.next(&e); {
		if e.qos == 0 {
			continue
		}
		if last == nil || string(e.origin) != string(lastOrigin) {
			if last = taken[string(e.origin)]; last == nil {
				last = new(uint64)
				taken[string(e.origin)] = last
			}
			lastOrigin = e.origin
		}
		*last = max(*last, e.seq)
	}
}

// durableBy waits until the engine made what it took from other nodes
// durable, and reports whether it did by deadline without a failure.
func (r *Router) durableBy(deadline time.Time) bool {
	if dl, ok := r.local.(durableLocal); ok {
		ch := make(chan struct{})
		dl.WhenRemoteDurable(func() { close(ch) })
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
			return false
		}
	}
	now := time.Now()
	r.noticeUnstored(now)
	return now.UnixNano() >= r.quiet.until.Load()
}

// writeStop writes this run's stop record and returns its stream
// sequence, 0 when JetStream did not store it by deadline.
func (o *orphans) writeStop(deadline time.Time) uint64 {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ack, err := o.js.Publish(ctx, o.subject(o.r.node.Name())+stopSuffix, []byte(o.r.origin))
	if err != nil {
		o.r.log.Error("cluster: stop record not written; this node will not replay what is kept for it while it is down", "err", err)
		return 0
	}
	return ack.Sequence
}

// appendStopNotice appends n: node, origin, the stop record's sequence,
// the ownership bucket's revision, then 0 when taken is nil, else one
// more than its length and its origins and numbers.
func appendStopNotice(b []byte, n stopNotice) []byte {
	b = appendField(appendField(b, n.node), n.origin)
	b = binary.AppendUvarint(binary.AppendUvarint(b, n.seq), n.rev)
	if n.taken == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(n.taken))+1)
	for o, s := range n.taken {
		b = binary.AppendUvarint(appendField(b, o), s)
	}
	return b
}

// stopNotice is what a stopping node says.
type stopNotice struct {
	node, origin string
	seq          uint64            // its stop record, 0 for none
	rev          uint64            // the ownership bucket's last revision once it claimed nothing more, 0 when unknown
	taken        map[string]uint64 // nil: not known (the node could not store everything it took)
}

func parseStopNotice(b []byte) (n stopNotice, ok bool) {
	var f []byte
	if f, b, ok = field(b); !ok {
		return n, false
	}
	n.node = string(f)
	if f, b, ok = field(b); !ok {
		return n, false
	}
	n.origin = string(f)
	var k uint64
	if n.seq, b, ok = uvarint(b); ok {
		if n.rev, b, ok = uvarint(b); ok {
			k, b, ok = uvarint(b)
		}
	}
	if !ok {
		return n, false
	}
	if k == 0 {
		return n, true
	}
	n.taken = make(map[string]uint64, min(k-1, 64))
	for range k - 1 {
		var s uint64
		if f, b, ok = field(b); ok {
			s, b, ok = uvarint(b)
		}
		if !ok {
			return n, false
		}
		n.taken[string(f)] = s
	}
	return n, true
}

// stopNotice handles another node's stop notice: that node is no longer
// waited for, and what it did not take is kept for its sessions.
func (r *Router) stopNotice(m *nats.Msg) {
	n, ok := parseStopNotice(m.Data)
	if !ok || n.node == r.node.Name() {
		return
	}
	c := &r.confirm
	now := time.Now()
	c.mu.Lock()
	var confirmed uint64
	if mb := c.members[n.node]; mb != nil {
		if s, ok := n.taken[r.origin]; ok {
			mb.confirmed = max(mb.confirmed, s) // it took these, and they are durable there
		}
		confirmed = mb.confirmed
		mb.heard = time.Time{} // silent from now on
	}
	var fns []func()
	if !c.closed {
		if o := r.orph.Load(); o != nil {
			o.stoppedLocked(n, confirmed, now)
			if o.cfg.Owners != nil {
				o.cfg.Owners.noteStop(n.node, n.rev, n.seq)
			}
		}
		fns = r.advanceLocked(now)
	}
	c.mu.Unlock()
	run(fns)
}
