package cluster

import (
	"sync/atomic"
	"time"
)

// A node that cannot vouch for what it was sent says nothing.
//
// Answering a marker tells its origin that this node has every message
// sent before it, and lets the origin acknowledge them (confirm.go). Two
// states make that untrue:
//
//   - The engine did not store messages from other nodes durably: its
//     store closed under them while the node stops, or, with -fsync
//     always, failed or did not finish in time (RemoteStore).
//   - The node is fenced (owner_lease.go): cut off from the majority, it
//     closed its connections, and another node may own its clients now,
//     so what reaches it for them may reach nobody.
//
// While either holds, the Router answers no marker and sends no heartbeat.
// Its origins then count it as stopped after memberTimeout, before their
// own wait for its answer runs out (confirmTimeout): they keep the batches
// it did not confirm in JetStream for its sessions and write what they
// publish meanwhile there too (orphan.go), instead of acknowledging on its
// word; whoever rebuilds one of its sessions from the replica replays
// them. After a failed store the silence lasts quietAfterFailure, longer
// than an origin waits for an answer: answers are cumulative, so an answer
// to a later marker would otherwise cover the messages that were not
// stored.

// quietAfterFailure is how long the Router stays silent after the engine
// failed to store messages from other nodes: twice confirmTimeout.
const quietAfterFailure = 6 * time.Second

// RemoteStore is a Local that counts the deliveries of messages from
// other nodes it could not store durably; broker.Engine implements it.
// When the Local given to NewRouter implements it, the Router answers no
// marker behind such a delivery.
type RemoteStore interface {
	// RemoteUnstored returns how many deliveries from other nodes were
	// not stored durably since the engine started; it only grows.
	RemoteUnstored() uint64
}

// quietState is the Router's part of it.
type quietState struct {
	fence    atomic.Pointer[Owners] // whose fencing silences the Router; nil: none (UseFence)
	until    atomic.Int64           // unix nanoseconds until which the Router is silent after a failed store
	unstored atomic.Uint64          // RemoteUnstored when last looked at
	logged   atomic.Bool            // the silence was logged; cleared when it ends
}

// UseFence makes the Router silent (no marker answered, no heartbeat)
// while o has fenced this node. Call it once, before clients connect.
// Safe for concurrent use.
func (r *Router) UseFence(o *Owners) { r.quiet.fence.Store(o) }

// silent reports whether the Router must neither answer markers nor beat
// now.
func (r *Router) silent(now time.Time) bool {
	if r.left.Load() {
		return true // stopping (leave.go)
	}
	r.noticeUnstored(now)
	if o := r.quiet.fence.Load(); o != nil && o.Fenced() {
		return true
	}
	return now.UnixNano() < r.quiet.until.Load()
}

// noticeUnstored starts quietAfterFailure of silence when the engine
// failed to store a delivery since the last look. The engine counts a
// failure before it lets the marker behind the delivery be answered
// (broker.Engine.WhenRemoteDurable), and a store that takes too long
// counts while the marker still waits, so the heartbeat (which looks
// here too) stops even when no answer is due. Safe for concurrent use.
func (r *Router) noticeUnstored(now time.Time) {
	rs, ok := r.local.(RemoteStore)
	if !ok {
		return
	}
	n := rs.RemoteUnstored()
	if old := r.quiet.unstored.Load(); n != old && r.quiet.unstored.CompareAndSwap(old, n) {
		r.quiet.until.Store(now.Add(quietAfterFailure).UnixNano())
		r.log.Error("cluster: messages from other nodes not stored here; their markers are not answered, and this node sends no heartbeat, so their origins keep them for its sessions",
			"for", quietAfterFailure)
	}
}

// mayAnswer reports whether a marker may be answered now (see silent). A
// marker not answered is counted in Withheld. Called with answerMu held.
func (r *Router) mayAnswer() bool {
	now := time.Now()
	if !r.silent(now) {
		if r.quiet.logged.Swap(false) {
			r.log.Warn("cluster: answering markers and beating again")
		}
		return true
	}
	r.Withheld.Add(1)
	if !r.quiet.logged.Swap(true) {
		r.log.Warn("cluster: fenced or not storing: markers not answered, no heartbeat")
	}
	return false
}
