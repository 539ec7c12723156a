package broker

import (
	"github.com/glassmq/glassmq/session"
)

// This file is the engine's seam to the wills of a cluster: a node that
// dies cannot publish the wills of its connections, so in a cluster the
// engine tells ClusterWills about each connection's will when it attaches
// and when it closes, and a surviving node publishes the dead node's
// wills through PublishWill. Outside a cluster nothing here runs.

// ClusterWills keeps the wills of this node's connections where the other
// nodes of a cluster can publish them should this node die.
// cluster.Wills implements it; its methods never wait for the network and
// are safe for concurrent use.
type ClusterWills interface {
	// Connected says clientID attached here with will (nil for none, or
	// one its client may not publish), described by m.
	Connected(clientID string, will *session.Message, m *session.ConnMeta)
	// Closed says clientID's connection with a will closed here: its
	// will was published or discarded here.
	Closed(clientID string)
	// Returning says a CONNECT of clientID is about to claim it: the
	// will of a connection it had on a node that died is not published.
	Returning(clientID string)
	// Claimed says that claim has ended, won or failed.
	Claimed(clientID string)
}

// SetClusterWills makes every attach and close of a connection tell w.
// Call it once, before Start.
func (e *Engine) SetClusterWills(w ClusterWills) { e.cwills = w }

// PublishWill publishes m, the will of a client of another node that
// died, as a connection's end publishes its will: to local subscribers,
// retained if asked, and to the other nodes. Safe for concurrent use.
func (e *Engine) PublishWill(m *session.Message) {
	e.withForeignLoop(func(ls *loopState) { e.publishMessage(ls, m) })
}

// clusterWillReturning tells the cluster that a CONNECT of clientID is
// claiming it, and returns the function to call once the claim ended.
// Safe for concurrent use.
func (e *Engine) clusterWillReturning(clientID string) (claimed func()) {
	w := e.cwills
	if w == nil {
		return func() {}
	}
	w.Returning(clientID)
	return func() { w.Claimed(clientID) }
}

// clusterWillAttached tells the cluster about c's will once c attached.
// Loop-only.
func (c *Conn) clusterWillAttached() {
	w := c.e.cwills
	if w == nil {
		return
	}
	will := c.will
	if will != nil {
		if len(will.Topic) > 0 && will.Topic[0] == '$' {
			will = nil // never published (publishWill)
		} else if p := c.permissions(); p != nil && !p.CanPublish(will.Topic) {
			will = nil
		}
	}
	w.Connected(c.sess.ClientID, will, c.meta)
}

// clusterWillClosed tells the cluster that c, attached with a will,
// closed. Loop-only.
func (c *Conn) clusterWillClosed() {
	if w := c.e.cwills; w != nil && c.meta != nil && c.meta.Will != nil && c.sess != nil {
		w.Closed(c.sess.ClientID)
	}
}
