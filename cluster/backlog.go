package cluster

// The receive queue's bound. What other nodes send waits in the Router's
// queue until its goroutine hands it to the engine. The queue never blocks
// nats.go (which would cut the connection off as a slow consumer and lose
// QoS 1/2 messages with everything else), so it is bounded by what it
// drops and by who waits:
//
//   - Past queueLimit bytes a batch of live QoS 0 messages only is dropped
//     and counted (Router.Shed, glassmq_cluster_shed_total): QoS 0 may be
//     lost, as when a subscriber's own queue is full.
//   - A batch with a QoS 1/2 or retained message, and every marker, is
//     always queued. Its origin holds the publishers' acks until this node
//     answers the marker behind it, which it does only once everything
//     before the marker reached the engine. So the QoS 1/2 bytes queued
//     here are at most what publishers may have unacknowledged: their
//     in-flight windows. One gap would remain: an origin stops waiting at
//     confirmTimeout, and a node merely slow would then let publishers go
//     on. So a node whose queue holds more than half of queueLimit says so
//     in its heartbeats (backlogged), and an origin does not give up on a node
//     that beats and says it is backlogged: the acks wait, the publishers'
//     windows fill, and they stop until the node catches up.

// queueLimit bounds the bytes waiting in a Router's receive queue before
// live QoS 0 batches are dropped: 64 MiB, a constant. A variable only so
// that tests can lower it before they start routers.
var queueLimit = 64 << 20

// sheddable reports whether the NATS message on subject with data holds
// only live QoS 0 messages, which may be dropped, and how many.
func sheddable(subject string, data []byte) (int, bool) {
	if subject == MarkerSubject || subject == SharedMarkerSubject || len(subject) > len(RetainedPrefix) && subject[:len(RetainedPrefix)+1] == RetainedPrefix+"." {
		return 0, false
	}
	var br batchReader
	if br.init(data) != nil {
		return 0, false // undecodable: take counts it
	}
	n := 0
	for b := br.rest; len(b) > 0; n++ {
		rec, rest, ok := field(b)
		if !ok || len(rec) < 1 || rec[0]&(flagQoS|flagRetain) != 0 {
			return 0, false
		}
		b = rest
	}
	return n, true
}

// backlogged reports whether the receive queue holds more than half of
// queueLimit: it is shedding QoS 0, or close to. Safe for concurrent use.
func (r *Router) backlogged() bool {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	return r.qbytes > queueLimit/2
}
