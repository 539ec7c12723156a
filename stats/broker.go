package stats

import "sync/atomic"

// Loop is the broker-wide counters written by one event loop. Each loop owns
// one Loop; readers sum them through Broker.Snapshot.
type Loop struct {
	Received Counters // client to server, all clients of this loop
	Sent     Counters // server to client, all clients of this loop

	MessagesReceived atomic.Uint64 // PUBLISH packets accepted from clients
	MessagesSent     atomic.Uint64 // PUBLISH packets written to clients
	DroppedQoS0      atomic.Uint64 // QoS 0 deliveries dropped: outbound buffer full
	DroppedTooLarge  atomic.Uint64 // 5.0 deliveries not sent: over the subscriber's Maximum Packet Size
	DroppedQueue     atomic.Uint64 // QoS 1/2 messages dropped: session queue full (oldest first)
	DroppedHandoff   atomic.Uint64 // QoS 0 deliveries this loop (as producer) dropped: the target loop's hand-off queue was full
	Malformed        atomic.Uint64 // connections closed for malformed packets
	ProtocolErrors   atomic.Uint64 // connections closed for protocol violations
	Connects         atomic.Uint64 // CONNECTs accepted
	Denied           atomic.Uint64 // PUBLISH and SUBSCRIBE filters refused by the ACL
	Unavailable      atomic.Uint64 // CONNECTs refused with 0x03: authentication queue full
	Disconnects      atomic.Uint64 // connections closed, for any reason

	Handoff Handoff // the queue other goroutines hand this loop's work to

	_ [64]byte // keep the next loop's shard off this cache line
}

// Broker is the set of per-loop shards plus gauges that are not per loop.
// Create it with NewBroker.
type Broker struct {
	loops []Loop

	Connections   atomic.Int64 // network connections open now
	Sessions      atomic.Int64 // sessions in the registry now (online and offline)
	Subscriptions atomic.Int64 // subscriptions in the router now
	Retained      atomic.Int64 // retained messages stored now
	QueuedNow     atomic.Int64 // QoS 1/2 messages waiting in session queues now
}

// NewBroker returns counters for n event loops plus one shard for work done
// outside any loop (index n), such as $SYS publishing and admin kicks.
func NewBroker(n int) *Broker {
	return &Broker{loops: make([]Loop, n+1)}
}

// Loop returns shard i. The shard's writer is loop i. Safe for concurrent use.
func (b *Broker) Loop(i int) *Loop { return &b.loops[i] }

// NumLoops returns the number of shards. Safe for concurrent use.
func (b *Broker) NumLoops() int { return len(b.loops) }

// BrokerSnapshot is the sum of all shards at one moment, plus the gauges.
type BrokerSnapshot struct {
	Received, Sent   Snapshot
	MessagesReceived uint64
	MessagesSent     uint64
	DroppedQoS0      uint64
	DroppedTooLarge  uint64
	DroppedQueue     uint64
	DroppedHandoff   uint64
	Malformed        uint64
	ProtocolErrors   uint64
	Connects         uint64
	Disconnects      uint64
	Denied           uint64
	Unavailable      uint64

	Connections   int64
	Sessions      int64
	Subscriptions int64
	Retained      int64
	QueuedNow     int64
}

// Snapshot sums the shards into dst. Safe for concurrent use.
func (b *Broker) Snapshot(dst *BrokerSnapshot) {
	var recv, sent Counters
	*dst = BrokerSnapshot{Received: Snapshot{Items: dst.Received.Items}, Sent: Snapshot{Items: dst.Sent.Items}}
	for i := range b.loops {
		l := &b.loops[i]
		recv.merge(&l.Received)
		sent.merge(&l.Sent)
		dst.MessagesReceived += l.MessagesReceived.Load()
		dst.MessagesSent += l.MessagesSent.Load()
		dst.DroppedQoS0 += l.DroppedQoS0.Load()
		dst.DroppedTooLarge += l.DroppedTooLarge.Load()
		dst.DroppedQueue += l.DroppedQueue.Load()
		dst.DroppedHandoff += l.DroppedHandoff.Load()
		dst.Malformed += l.Malformed.Load()
		dst.ProtocolErrors += l.ProtocolErrors.Load()
		dst.Connects += l.Connects.Load()
		dst.Disconnects += l.Disconnects.Load()
		dst.Denied += l.Denied.Load()
		dst.Unavailable += l.Unavailable.Load()
	}
	recv.Snapshot(&dst.Received)
	sent.Snapshot(&dst.Sent)
	dst.Connections = b.Connections.Load()
	dst.Sessions = b.Sessions.Load()
	dst.Subscriptions = b.Subscriptions.Load()
	dst.Retained = b.Retained.Load()
	dst.QueuedNow = b.QueuedNow.Load()
}

// merge adds o's counts into c; c must be private to the caller.
func (c *Counters) merge(o *Counters) {
	c.bytes.Add(o.bytes.Load())
	var n [numSlots]uint64
	o.load(&n)
	for i, v := range n {
		if v != 0 {
			c.addSlot(i, v)
		}
	}
}
