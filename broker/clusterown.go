package broker

import (
	"errors"
	"sync"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// This file is the engine's seam to cluster-wide ownership of client IDs:
// in a cluster, a CONNECT first claims its client ID for this node (off the
// event loop, on a bounded pool of workers like authentication's), which
// may bring the client's persistent session over from the node that owned
// it; only then does the usual local claim run. Outside a cluster nothing
// here runs: claimOwned goes straight to claim.

// Owners claims client IDs cluster-wide. cluster.Owners implements it;
// its methods are safe for concurrent use.
type Owners interface {
	// Claim makes this node the owner of clientID and returns the claim's
	// epoch and the persistent session the previous owner handed over (nil
	// when none). It blocks on the network.
	Claim(clientID string) (epoch uint64, handed *session.Restored, err error)
	// Fetched says the handed session of the claim is registered here.
	Fetched(clientID string, epoch uint64)
	// Settle ends the claim once its connection attached or gave up, and
	// reports whether it is still the newest claim known.
	Settle(clientID string, epoch uint64) (current bool)
	// Forget drops what is kept for clientID once its session ended here.
	Forget(clientID string)
}

// Claim workers: as many as the authentication workers, and as deep a
// queue; a claim waits on the network, not on a processor.
const (
	ownWorkersPerLoop = 2
	ownQueuePerWorker = 16
	handOverPoll      = time.Millisecond
)

// ownSeam is the engine's cluster state; nil outside a cluster.
type ownSeam struct {
	owners Owners
	queue  chan ownJob
	epochs sync.Map // *Conn -> uint64: the epoch of its claim, until it attaches or closes
}

// ownJob is one CONNECT waiting for its cluster-wide claim.
type ownJob struct {
	c  *Conn
	id string
}

// SetOwners makes every CONNECT claim its client ID through o before it
// attaches, and starts the claim workers, which stop at Shutdown. Call it
// once, before Start.
func (e *Engine) SetOwners(o Owners) {
	workers := ownWorkersPerLoop * e.cfg.loops()
	e.own = &ownSeam{owners: o, queue: make(chan ownJob, ownQueuePerWorker*workers)}
	for range workers {
		go e.ownWorker()
	}
}

func (e *Engine) ownWorker() {
	for {
		select {
		case <-e.stop:
			return
		case j := <-e.own.queue:
			e.claimCluster(j)
		}
	}
}

// claimOwned claims id for c: cluster-wide first when the engine is in a
// cluster, then locally. Loop-only.
func (c *Conn) claimOwned(id string) {
	if c.e.own == nil {
		c.claim(id)
		return
	}
	select {
	case c.e.own.queue <- ownJob{c: c, id: id}:
		c.state = stateConnecting
	default:
		c.ls.st.Unavailable.Add(1)
		c.writeConnack(false, connServerUnavailable) // [MQTT-3.2.2-5] then close
		c.e.log.clientError(c.addr, codec.TypeConnect, errors.New("broker: CONNECT refused: server unavailable, cluster claim queue full"))
		c.closeWith(session.ReasonProtocolError, "server unavailable: cluster claim queue full", false)
	}
}

// claimCluster runs one cluster-wide claim on a worker, registers the
// session it brought, and continues the CONNECT on the connection's loop.
func (e *Engine) claimCluster(j ownJob) {
	c, o := j.c, e.own.owners
	if c.closeReason.Load() != 0 {
		return // gone while queued: claim nothing
	}
	claimed := e.clusterWillReturning(j.id) // a will left on a dead node is not published (clusterwill.go)
	epoch, handed, err := o.Claim(j.id)
	claimed()
	if err != nil {
		e.log.clientError(c.addr, codec.TypeConnect, errors.New("broker: CONNECT refused: "+err.Error()))
		c.ls.loop.Execute(func() {
			if c.state != stateClosed {
				c.rejectConnect(connServerUnavailable, "cluster claim failed")
			}
			c.ls.flush()
		})
		return
	}
	if handed != nil {
		e.adopt(handed)
	}
	o.Fetched(j.id, epoch)
	e.own.epochs.Store(c, epoch)
	c.ls.loop.Execute(func() {
		if c.state == stateClosed {
			e.own.epochs.Delete(c)
			o.Settle(j.id, epoch)
			return
		}
		c.claim(j.id)
		if c.state == stateConnected && len(c.t.Peek()) > 0 && c.OnTraffic() {
			c.t.Close()
		}
		c.ls.flush()
	})
}

// adopt registers a session another node handed over, with its
// subscriptions in the router, as UseStore does at start. Safe for
// concurrent use.
func (e *Engine) adopt(r *session.Restored) {
	s, replaced, ok := e.reg.Adopt(r, e.nowMillis())
	if replaced != nil {
		e.dropSession(replaced)
	}
	if !ok {
		// A CONNECT of this node holds the client ID: it took the client
		// over locally meanwhile, and its session stands.
		e.log.clientError("", codec.TypeConnect, errors.New("broker: a session handed over by another node was dropped: a local CONNECT holds its client ID"))
		return
	}
	e.stats.Sessions.Add(1)
	var perms Permissions
	if e.auth != nil {
		perms = e.auth.For(s.Meta().Username, s.ClientID)
	}
	done := e.adopting(s.ClientID) // messages kept for a dead node's session (clusterorphan.go)
	defer done()
	for _, sub := range s.Subscriptions() {
		var only Permissions
		if perms != nil {
			if granted, filtered := perms.CanSubscribe(sub.TopicFilter); !granted || filtered {
				only = perms
			}
		}
		e.router.add(sub.TopicFilter, s, sub.QoS, only)
		e.stats.Subscriptions.Add(1)
	}
}

// settleOwned ends c's cluster claim once it attached, and closes c as
// taken over when another node claimed the client meanwhile. Loop-only.
func (c *Conn) settleOwned() {
	if c.e.own == nil {
		return
	}
	v, ok := c.e.own.epochs.LoadAndDelete(c)
	if !ok {
		return
	}
	if !c.e.own.owners.Settle(c.sess.ClientID, v.(uint64)) && c.state == stateConnected {
		c.closeWith(session.ReasonTakenOver, "by a newer claim on another node", true)
	}
}

// settleAbandoned ends the cluster claim of a connection that closed
// before it attached. Loop-only.
func (c *Conn) settleAbandoned(id string) {
	if c.e.own == nil {
		return
	}
	if v, ok := c.e.own.epochs.LoadAndDelete(c); ok {
		c.e.own.owners.Settle(id, v.(uint64))
	}
}

// HandOver closes the local connection of clientID, if any, as taken over
// (will published, DISCONNECT 0x8E for MQTT 5.0), waits up to timeout for
// it to close, then ends the client's persistent session here and returns
// it; ok is false when no session is left (a clean session ends with its
// connection). Safe for concurrent use; it blocks, so never call it on an
// event loop.
func (e *Engine) HandOver(clientID string, timeout time.Duration) (r session.Restored, ok bool) {
	deadline := time.Now().Add(timeout)
	for {
		s := e.reg.Lookup(clientID)
		if s == nil {
			return session.Restored{}, false
		}
		if c := s.Owner(); c != nil {
			e.closeTakenOver(c)
		} else if r, ok = s.Handover(); ok {
			e.dropSession(s)
			return r, true
		}
		if time.Now().After(deadline) {
			return session.Restored{}, false
		}
		time.Sleep(handOverPoll)
	}
}

// CloseTakenOver closes the local connection of clientID, if any, as taken
// over, without waiting, and reports whether there was one. Safe for
// concurrent use.
func (e *Engine) CloseTakenOver(clientID string) bool {
	s := e.reg.Lookup(clientID)
	if s == nil {
		return false
	}
	c := s.Owner()
	if c == nil {
		return false
	}
	e.closeTakenOver(c)
	return true
}

// closeTakenOver has c closed on its loop as taken over, and reports
// false when it was closing already.
func (e *Engine) closeTakenOver(c *Conn) bool {
	if !c.closeReason.CompareAndSwap(0, uint32(session.ReasonTakenOver)) {
		return false // closing already
	}
	c.ls.loop.Execute(func() {
		c.closeWith(session.ReasonTakenOver, "by another node", true)
		c.ls.flush()
	})
	return true
}

// forgetOwned tells the cluster that clientID's session ended here.
func (e *Engine) forgetOwned(clientID string) {
	if e.own != nil {
		e.own.owners.Forget(clientID)
	}
}

// CloseAllTakenOver closes every connection as taken over (wills
// published, DISCONNECT 0x8E for MQTT 5.0), without waiting, and returns
// how many it closed: what a cluster node cut off from the majority does,
// since another node may now own its clients. Safe for concurrent use.
func (e *Engine) CloseAllTakenOver() int {
	n := 0
	e.conns.each(func(c *Conn) {
		if e.closeTakenOver(c) {
			n++
		}
	})
	return n
}
