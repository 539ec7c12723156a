package cluster

import "bytes"

// durableLocal is a Local whose deliveries may become durable only after
// DeliverRemote returns: broker.Engine, whose store (with its replica)
// holds messages for persistent sessions. WhenRemoteDurable calls fn once
// everything delivered so far is durable, at once or later on another
// goroutine; fn must not block.
type durableLocal interface {
	WhenRemoteDurable(fn func())
}

// answerWhenDurable answers a marker once the engine made durable every
// message delivered before it, so the origin's held acks wait for the
// store and the replica, while run goes on taking messages: the receiving
// side never waits for a JetStream round trip. Answers may leave out of
// order; the origin keeps the highest number each node answered, and a
// later marker becomes durable only after an earlier one. Called on run's
// goroutine.
func (r *Router) answerWhenDurable(data []byte) {
	dl, ok := r.local.(durableLocal)
	if !ok {
		r.answerSerial(data)
		return
	}
	data = bytes.Clone(data)
	dl.WhenRemoteDurable(func() { r.answerSerial(data) })
}

// answerSerial answers one marker, unless the Router closed meanwhile;
// answers share the Router's scratch buffer. Safe for concurrent use.
func (r *Router) answerSerial(data []byte) {
	select {
	case <-r.done:
		return // a late durability callback: the origin stops waiting for a closed node
	default:
	}
	r.answerMu.Lock()
	r.answer(data)
	r.answerMu.Unlock()
}
