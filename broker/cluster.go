package broker

import (
	"github.com/glassmq/glassmq/session"
)

// Cluster is what the engine needs of a cluster of brokers: to be told
// which topic filters have local subscribers, and to send a message
// published here to the other nodes that want it. The cluster package
// implements it; a single node has none (Engine.cluster is nil and costs
// one nil check per PUBLISH).
type Cluster interface {
	// Interest reports that filter gained its first local subscriber
	// (add) or lost its last. Calls for one filter come in order, under
	// the subscription tree's write lock: it must not block.
	Interest(filter string, add bool)
	// Forward sends a PUBLISH accepted on this node to the other nodes
	// that want it. The slices are valid only during the call; from is
	// the publisher's client ID, "" for the broker. It must not block.
	// For a QoS 1/2 message it returns the message's number, which
	// Confirmed and WhenConfirmed take; otherwise 0.
	Forward(topic, payload []byte, qos byte, retain bool, props []byte, expires int64, from string) uint64
	// Flush sends what Forward gathered; every loop calls it at the end
	// of each round. With mark (the round holds acks for forwarded QoS
	// 1/2 messages) it also asks the other nodes to confirm. It must not
	// block.
	Flush(mark bool)
	// Confirmed reports whether every live node has the QoS 1/2 messages
	// numbered up to seq (or the cluster gave up waiting for one).
	Confirmed(seq uint64) bool
	// WhenConfirmed calls fn once Confirmed(seq) holds: at once on the
	// caller's goroutine when it already does, otherwise later on another
	// goroutine. fn must not block.
	WhenConfirmed(seq uint64, fn func())
}

// LoopCluster is a Cluster that keeps each event loop's forwards apart
// until the loop's Flush, so a loop forwards without a lock that every
// loop takes per message. The engine calls UseLoops once, with the number
// of loops it may bind; then each loop calls ForwardLoop and FlushLoop
// with its index instead of Forward and Flush, only from its own
// goroutine, and work outside the loops keeps calling Forward and Flush.
type LoopCluster interface {
	UseLoops(n int)
	ForwardLoop(loop int, topic, payload []byte, qos byte, retain bool, props []byte, expires int64, from string) uint64
	FlushLoop(loop int, mark bool)
}

// UseCluster makes the engine one node of a cluster: it reports the
// filters it already routes (sessions restored by UseStore) to c and, from
// then on, every first and last subscriber of a filter, and forwards the
// messages its clients publish. Call it once, before Start.
func (e *Engine) UseCluster(c Cluster) {
	e.router.lock()
	defer e.router.unlock()
	e.cluster = c
	if lc, ok := c.(LoopCluster); ok {
		lc.UseLoops(cap(e.loops)) // every loop BindLoop may bind
		e.loopCluster = lc
	}
	e.router.interest = c.Interest
	if sc, ok := c.(SharedCluster); ok { // shared subscriptions cluster-wide (clustershared.go)
		e.router.sharedInterest = sc.SharedInterest
	}
	e.router.reportInterest()
}

// DeliverRemote routes messages that another node of the cluster
// forwarded to this one: each calls deliver once per message, and the
// engine delivers it to the matching local subscriptions (storing it first
// when retain is set) exactly as a PUBLISH from a local client, except
// that it is not forwarded again. The slices need stay valid only during
// deliver. Safe for concurrent use.
func (e *Engine) DeliverRemote(each func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64))) {
	e.withForeignLoop(func(ls *loopState) {
		rm := &ls.remote
		each(func(topic, payload, props []byte, qos byte, retain bool, expires int64) {
			// Not counted as received: the origin node counted it.
			var msg *session.Message
			if retain {
				msg = session.NewMessageProps(topic, payload, props, qos, true, expires)
				e.setRetained(ls, msg)
			}
			ls.props5, ls.expires = props, expires
			ls.pubSeq++
			ls.routeTo(rm.targets(ls, topic), topic, payload, qos, msg) // live deliveries carry RETAIN 0 [MQTT-3.3.1-9]
			ls.props5, ls.expires = nil, 0
		})
		rm.reset()
	})
}

// remoteMatch keeps DeliverRemote's last match for the rest of one call:
// another node batches the messages of one topic, so a batch's messages
// share their targets, and the tree is searched once per batch rather than
// once per message. It is reset at the end of each call, so a subscription
// made meanwhile is seen from the next batch on, and no session is pinned.
type remoteMatch struct {
	topic []byte
	ts    []target
	valid bool
}

// targets returns the targets of a message on topic, as ls.match would,
// in rm's own slice, valid until the next call. Loop-only (the foreign
// loopState's).
func (rm *remoteMatch) targets(ls *loopState, topic []byte) []target {
	if rm.valid && string(rm.topic) == string(topic) {
		return rm.ts
	}
	ts := ls.match(topic)
	rm.topic, rm.ts, rm.valid = append(rm.topic[:0], topic...), append(rm.ts[:0], ts...), true
	clear(ts)
	ls.targets = ts[:0]
	return rm.ts
}

func (rm *remoteMatch) reset() {
	clear(rm.ts)
	rm.ts, rm.valid = rm.ts[:0], false
}

// StoreRetained stores retained messages that the cluster kept while this
// node was away: each calls store once per message, and the engine sets
// (or, for an empty payload, clears) the topic's retained message without
// delivering it to anyone. The slices need stay valid only during store.
// Safe for concurrent use.
func (e *Engine) StoreRetained(each func(store func(topic, payload, props []byte, qos byte, expires int64))) {
	e.withForeignLoop(func(ls *loopState) {
		each(func(topic, payload, props []byte, qos byte, expires int64) {
			e.setRetained(ls, session.NewMessageProps(topic, payload, props, qos, true, expires))
		})
	})
}

// forward hands a message published here to the cluster, if any: not
// $-topics, which each node has its own of. The number of a client's QoS
// 1/2 message waits in ls.clusterSeq for the ack writeAck writes next,
// which is then held until the other nodes confirm (clusterack.go).
// Loop-only (ls's loop).
func (e *Engine) forward(ls *loopState, topic, payload []byte, qos byte, retain bool, props []byte, expires int64, from string) {
	if e.cluster != nil && (len(topic) == 0 || topic[0] != '$') {
		var n uint64
		if e.loopCluster != nil && ls.loop != nil {
			n = e.loopCluster.ForwardLoop(ls.idx, topic, payload, qos, retain, props, expires, from)
		} else {
			n = e.cluster.Forward(topic, payload, qos, retain, props, expires, from)
		}
		if ls.from != nil && ls.loop != nil { // a client's PUBLISH (handlePublish sets from); wills and the foreign loopState acknowledge no client
			ls.clusterSeq = n
		}
	}
}

// flushCluster ends ls's round for the cluster: the round's forwards
// leave, with a marker when it held acks for QoS 1/2 ones. Loop-only
// (ls's loop).
func (ls *loopState) flushCluster() {
	if ls.e.loopCluster != nil && ls.loop != nil {
		ls.e.loopCluster.FlushLoop(ls.idx, ls.clusterMark)
	} else {
		ls.e.cluster.Flush(ls.clusterMark)
	}
	ls.clusterMark, ls.clusterSeq = false, 0
}
