package broker

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/session"
)

// This file is the engine's seam to replicated sessions: in a cluster, the
// store the engine writes its persistent sessions to can be wrapped by one
// that also copies them to the cluster's replicated storage
// (cluster.Replica), so a node that claims a client of a dead node
// rebuilds its session. With -fsync always the engine already holds a
// client's acknowledgement until the store calls its ticket durable; a
// replicating store calls it durable only once replicated, so the same
// hold covers both. Messages arriving from other nodes wait likewise
// (WhenRemoteDurable) before this node tells their origin it has them.

// ReplicateStore makes the engine write through the store wrap returns,
// given the store UseStore set. Call it once, after UseStore and before
// Start. It returns an error when the engine has no store
// (-persistence off): there is nothing to replicate.
func (e *Engine) ReplicateStore(wrap func(local session.Store) (session.Store, error)) error {
	if e.store == nil {
		return errors.New("broker: replicated sessions need -persistence on")
	}
	st, err := wrap(e.store)
	if err != nil {
		return err
	}
	e.store = st
	e.reg.Store = st
	return nil
}

// remoteDurableWait is how long messages from another node may take to
// become durable (-fsync always) before the delay counts as a failure to
// store them (RemoteUnstored).
const remoteDurableWait = 10 * time.Second

// WhenRemoteDurable calls fn once what the foreign loop stored so far
// (messages from other nodes queued in persistent sessions) is durable,
// so that with -fsync always the origin's acks wait for it: at once on the
// caller's goroutine without -fsync always or when it already is,
// otherwise later on another goroutine. The cluster's receiving side
// answers a confirmation marker through it instead of waiting, so it
// keeps taking messages while the store and its replica catch up. When
// the store fails (it closed under a stopping node), or has not finished
// after remoteDurableWait, the failure is counted (RemoteUnstored) before
// fn runs: the cluster then answers no marker for those messages
// (cluster/quiet.go). fn must not block. Safe for concurrent use.
func (e *Engine) WhenRemoteDurable(fn func()) {
	if !e.syncAcks || e.store == nil {
		fn()
		return
	}
	e.foreign.Lock()
	t := e.foreignLS.ticket
	e.foreign.Unlock()
	if t == 0 || e.store.Durable() >= t {
		fn()
		return
	}
	var done atomic.Bool
	late := time.AfterFunc(remoteDurableWait, func() {
		if !done.Load() {
			e.remoteUnstored.Add(1)
			e.log.logger.Warn("broker: messages from another node not durable in time", "waited", remoteDurableWait)
		}
	})
	e.store.WhenDurable(t, func(err error) {
		done.Store(true)
		late.Stop()
		if err != nil {
			e.remoteUnstored.Add(1)
			e.log.logger.Warn("broker: messages from another node not stored", "err", err)
		}
		fn()
	})
}

// RemoteUnstored returns how many times, since the engine started,
// messages from other nodes were not stored durably (-fsync always): the
// store failed or did not finish in time. It only grows. Safe for
// concurrent use.
func (e *Engine) RemoteUnstored() uint64 { return e.remoteUnstored.Load() }

// AdoptOffline registers a session rebuilt for a client of a node that
// died, offline, with its subscriptions in the router, so messages queue
// for it until the client returns. It reports false when a connection of
// the client registered a session first. Safe for concurrent use.
func (e *Engine) AdoptOffline(r *session.Restored) bool {
	before := e.reg.Lookup(r.Record.ClientID)
	e.adopt(r)
	s := e.reg.Lookup(r.Record.ClientID)
	return s != nil && s != before && s.Owner() == nil
}
