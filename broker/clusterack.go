package broker

// Acks held for the cluster. A client's QoS 1/2 PUBLISH forwarded to other
// nodes is acknowledged (PUBACK, PUBREC) only once every live node has it.
// The event loop never waits for that: writeAck holds the ack on its
// connection, as it does for -fsync always, the round's Flush sends a
// marker after the round's forwards, and the cluster's confirmation (or
// its decision that a silent node is dead, or that a wait ran out) comes
// back through the loop's Execute and writes the held acks. Meanwhile the
// loop serves every other connection, and this one too: its later acks
// wait behind the held ones, so a connection's acks keep the order of its
// PUBLISHes.

// waitConfirmed asks the cluster to release the held acks waiting for
// number n once it has confirmed it. (Acks whose numbers are confirmed
// already, as on a node with no live peers, went in this round:
// writeReady.) Loop-only.
func (c *Conn) waitConfirmed(n uint64) {
	c.held.cwaiting = true
	c.e.cluster.WhenConfirmed(n, func() { c.ls.loop.Execute(c.releaseConfirmed) })
}

// releaseConfirmed writes the held acks that wait for nothing more now
// that the cluster confirmed what the first of them waited for. Loop-only.
func (c *Conn) releaseConfirmed() {
	h := c.held
	if h == nil {
		return
	}
	h.cwaiting = false
	if c.state != stateConnected {
		c.held = nil
		return
	}
	c.writeReleased()
}
