package broker

import (
	"strings"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/trace"
)

// This file holds the engine's side of connection and message traces
// (package trace): a few calls at CONNECT, close, publish and delivery
// points record events into the loop's own ring, without locks. With no
// tracer every hook is one nil check; with one, the per-message cost is a
// 48-byte store into the ring; the clock is read once per round.

// SetTracer makes the engine record traces into t, which must have
// TraceRings rings. Call it before Start.
func (e *Engine) SetTracer(t *trace.Tracer) {
	if t.Rings() != e.TraceRings() {
		panic("broker: tracer has the wrong number of rings")
	}
	e.tracer = t
}

// TraceRings returns the number of rings a tracer for e needs: one per
// event loop and one for work outside the loops. Safe for concurrent use.
func (e *Engine) TraceRings() int { return e.stats.NumLoops() }

// Tracer returns the engine's tracer, nil when none is set. Safe for
// concurrent use after Start.
func (e *Engine) Tracer() *trace.Tracer { return e.tracer }

// traceNow returns the time of this round's trace events in epoch µs: the
// clock is read once per round (flush resets it), not once per event.
// Loop-only.
func (ls *loopState) traceNow() int64 {
	if ls.traceTime == 0 {
		ls.traceTime = ls.e.now().UnixMicro()
	}
	return ls.traceTime
}

// ring returns the loop's trace ring. Loop-only.
func (ls *loopState) ring() *trace.Ring { return ls.e.tracer.Ring(ls.idx) }

// channel returns the connection's trace ID: its open time in ns with the
// loop index in the low byte, so connections opened in the same
// nanosecond on different loops differ.
func (c *Conn) channel() uint64 { return uint64(c.openedAt)&^0xff | uint64(c.ls.idx)&0xff }

// traceConnect records an accepted CONNECT. Loop-only.
func (c *Conn) traceConnect() {
	if c.e.tracer == nil {
		return
	}
	c.offlineLeft = int32(c.sess.QueueLen()) // queued while offline: sent first; a queue holds at most -max-queued
	c.ls.ring().Add(trace.Event{Time: c.ls.traceNow(), Channel: c.channel(), ClientID: c.sess.ClientID,
		Kind: trace.KindConnect, Info: trace.InfoAccepted})
}

// traceRefused records a CONNECT refused with CONNACK code. Loop-only.
func (c *Conn) traceRefused(code byte) {
	if c.e.tracer == nil {
		return
	}
	info := trace.InfoNotAuthorized
	if code < 4 {
		info = trace.InfoInvalidParam // bad protocol level or client ID
	}
	c.ls.ring().Add(trace.Event{Time: c.ls.traceNow(), Channel: c.channel(), ClientID: c.traceID,
		Kind: trace.KindClose, Info: info})
}

// traceClose records the end of an accepted connection. Loop-only.
func (c *Conn) traceClose(r session.Reason, detail string) {
	if c.e.tracer == nil {
		return
	}
	kind, info := trace.KindClose, closeInfo(r, detail)
	if r == session.ReasonClient {
		kind = trace.KindDisconnect
	}
	c.ls.ring().Add(trace.Event{Time: c.ls.traceNow(), Channel: c.channel(), ClientID: c.sess.ClientID,
		Kind: kind, Info: info})
}

// closeInfo maps a close reason to the cloud's words.
func closeInfo(r session.Reason, detail string) trace.Info {
	switch r {
	case session.ReasonClient:
		return trace.InfoDisconnectedByClient
	case session.ReasonKeepAlive:
		return trace.InfoNoHeart
	case session.ReasonTakenOver:
		return trace.InfoClientIDConflict
	case session.ReasonProtocolError:
		return trace.InfoInvalidParam
	case session.ReasonKicked:
		return trace.InfoKicked
	case session.ReasonSlowConsumer:
		return trace.InfoSlowConsumer
	case session.ReasonShutdown:
		return trace.InfoShutdown
	case session.ReasonStoreError:
		return trace.InfoStoreError
	}
	// Network: the peer closing (EOF, reset) or a failed read or write.
	if detail == "" || strings.Contains(detail, "EOF") || strings.Contains(detail, "reset by peer") {
		return trace.InfoClosedByClient
	}
	return trace.InfoSocketIOException
}

// tracePublish gives a message the client published at qos a message ID
// and records it, when the mode traces that QoS; it returns 0 otherwise.
// Loop-only.
func (c *Conn) tracePublish(qos byte) uint64 {
	t := c.e.tracer
	if t == nil || !t.Messages().Traces(qos) {
		return 0
	}
	r := c.ls.ring()
	id := r.NextMsgID()
	r.Add(trace.Event{Time: c.ls.traceNow(), MsgID: id, ClientID: c.sess.ClientID,
		Kind: trace.KindPublish, Info: trace.InfoPubFromClient})
	return id
}

// tracePublishAPI gives a message the admin API publishes a message ID and
// records it; it returns 0 when the mode does not trace m's QoS.
// Loop-only (the foreign loopState's holder).
func (ls *loopState) tracePublishAPI(qos byte) uint64 {
	t := ls.e.tracer
	if t == nil || !t.Messages().Traces(qos) {
		return 0
	}
	r := ls.ring()
	id := r.NextMsgID()
	r.Add(trace.Event{Time: ls.traceNow(), MsgID: id, Kind: trace.KindPublishAPI, Info: trace.InfoPubFromAPI})
	return id
}

// tracePush0 records a traced QoS 0 message routed to clientID (it is
// then written on the subscriber's loop, or dropped there if its output is
// full). Loop-only.
func (ls *loopState) tracePush0(clientID string) {
	ls.ring().Add(trace.Event{Time: ls.traceNow(), MsgID: ls.msgID, ClientID: clientID,
		Kind: trace.KindPush, Info: trace.InfoPushToClient})
}

// tracePush records the first sending of a QoS 1/2 message to the
// client: push_offline for those that were queued while it was offline
// (the first sent after CONNECT, the queue being in order), otherwise a
// live push. Loop-only.
func (c *Conn) tracePush(m *session.Message) {
	if c.e.tracer == nil {
		return
	}
	kind, info := trace.KindPush, trace.InfoPushToClient
	if c.offlineLeft > 0 {
		c.offlineLeft--
		kind, info = trace.KindPushOffline, trace.InfoPushOffline
	}
	if m.TraceID == 0 {
		return
	}
	c.ls.ring().Add(trace.Event{Time: c.ls.traceNow(), MsgID: m.TraceID, ClientID: c.sess.ClientID,
		Kind: kind, Info: info})
}

// traceResend records a message re-sent (DUP 1) on CONNECT: it was in
// flight when the client went away, so it is an offline push. Loop-only.
func (c *Conn) traceResend(m *session.Message) {
	if c.e.tracer == nil || m.TraceID == 0 {
		return
	}
	c.ls.ring().Add(trace.Event{Time: c.ls.traceNow(), MsgID: m.TraceID, ClientID: c.sess.ClientID,
		Kind: trace.KindPushOffline, Info: trace.InfoPushOffline})
}
