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
	unstored uint64                 // RemoteUnstored when last looked at; run's only
	logged   atomic.Bool            // the silence was logged; cleared when it ends
}

// UseFence makes the Router silent (no marker answered, no heartbeat)
// while o has fenced this node. Call it once, before clients connect.
// Safe for concurrent use.
func (r *Router) UseFence(o *Owners) { r.quiet.fence.Store(o) }

// silent reports whether the Router must neither answer markers nor beat
// now.
func (r *Router) silent(now time.Time) bool {
	if o := r.quiet.fence.Load(); o != nil && o.Fenced() {
		return true
	}
	return now.UnixNano() < r.quiet.until.Load()
}

// mayAnswer reports whether run may answer a marker now: it first looks
// whether the engine failed to store a delivery since it last looked
// (the deliveries before the marker have been handed over by then), which
// starts quietAfterFailure of silence. A marker not answered is counted in
// Withheld. Called on run's goroutine only.
func (r *Router) mayAnswer() bool {
	now := time.Now()
	if rs, ok := r.local.(RemoteStore); ok {
		if n := rs.RemoteUnstored(); n != r.quiet.unstored {
			r.quiet.unstored = n
			r.quiet.until.Store(now.Add(quietAfterFailure).UnixNano())
			r.log.Error("cluster: messages from other nodes not stored here; their markers are not answered, and this node sends no heartbeat, so their origins keep them for its sessions",
				"for", quietAfterFailure)
		}
	}
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
