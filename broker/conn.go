package broker

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

type connState uint8

const (
	stateNew        connState = iota // waiting for CONNECT
	stateConnecting                  // CONNECT accepted, waiting for a takeover to finish
	stateConnected                   // CONNACK sent
	stateClosed                      // logically closed; the transport may still be closing
	// MQTT 5.0 enhanced authentication (enhauth.go): CONNECT decoded, AUTH
	// packets being exchanged before the CONNACK.
	stateAuthenticating
)

// Conn is one client network connection. Its fields other than the atomics
// belong to its loop. Fields are ordered by size, without padding holes: an
// idle connection costs this struct (208 bytes; with gnet's transport, one
// 224-byte object) plus its session, and rarely needed state (held acks,
// topic aliases) lives behind pointers.
type Conn struct {
	e    *Engine
	ls   *loopState
	t    Transport // its Listener and TLSCommonName (transportInfo) are read at CONNECT
	addr string    // immutable

	openedAt     int64         // unix ns, immutable
	lastActivity atomic.Int64  // unix ns of the last input; read by the ticker
	keepAlive    atomic.Uint32 // see setKeepAlive; read by the ticker
	pumpPending  atomic.Bool   // a pump request is in some loop's batch
	closeReason  atomic.Uint32
	setIdx       int32                        // position in its connSet shard; guarded by that shard's lock
	pace         atomic.Pointer[retainedPace] // retained messages still to send after SUBSCRIBE; set by the loop, read by admin

	// Loop-owned.
	sent0       uint32 // QoS 0 PUBLISHes appended to out this round, not yet in sess.Counters (see countSent0)
	sent0Bytes  uint32 // their bytes: at most -max-outbound (1 GiB) per round
	connectSize uint32 // bytes of the CONNECT frame, counted once attached
	state       connState
	touched     bool
	needPump    bool
	v5          v5Flags // MQTT 5.0 connection state (v5.go); fills what was padding
	sess        *clientSession
	meta        *session.ConnMeta
	will        *session.Message
	out         []byte
	perms       Permissions // nil without an Authorizer
	permsGen    uint32      // low 32 bits of the Authorizer generation perms came from
	offlineLeft int32       // messages queued while offline not yet sent, for traces (tracehooks.go)
	held        *heldAcks   // nil until an ack must wait for the store (-fsync always) or the cluster
	traceID     string      // client ID from CONNECT, for the trace of a refusal
	alias       *aliases    // MQTT 5.0 topic aliases of this connection (alias.go); nil while unused
}

// heldAcks are acks waiting until the messages they acknowledge are durable
// (-fsync always) or, in a cluster, confirmed by the other nodes
// (clusterack.go). They leave in order, each as soon as it and every ack
// before it wait for nothing more. Loop-owned.
type heldAcks struct {
	buf      []byte
	segs     []heldSeg // where acks end in buf and what they wait for, in order
	durable  uint64    // highest store ticket known durable
	waiting  bool      // a WhenDurable callback is registered
	cwaiting bool      // a WhenConfirmed callback is registered
}

// heldSeg is the end of one or more held acks in heldAcks.buf and what
// they, and every ack before them, wait for: a store ticket and a cluster
// number (0: nothing).
type heldSeg struct {
	end          int
	ticket, cseq uint64
}

// setKeepAlive records that a CONNECT was decoded, with a keep-alive of
// seconds (0: none). Both share one word, milliseconds plus one, 0 before
// the CONNECT. Loop-only.
func (c *Conn) setKeepAlive(seconds uint16) {
	c.keepAlive.Store(uint32(seconds)*1000 + 1)
}

// keepAliveState returns the keep-alive in nanoseconds (0 for none) and
// whether a CONNECT was decoded. Safe for concurrent use.
func (c *Conn) keepAliveState() (ns int64, gotConnect bool) {
	v := c.keepAlive.Load()
	if v == 0 {
		return 0, false
	}
	return int64(v-1) * int64(time.Millisecond), true
}

// listener returns the name of the listener c came through. Safe for
// concurrent use: a transport's listener and certificate never change.
func (c *Conn) listener() string {
	if ti, ok := c.t.(transportInfo); ok {
		return ti.Listener()
	}
	return "tcp"
}

// tlsCN returns the common name of c's verified client certificate, "" for
// none. Safe for concurrent use, like listener.
func (c *Conn) tlsCN() string {
	if ti, ok := c.t.(transportInfo); ok {
		return ti.TLSCommonName()
	}
	return ""
}

// OnTraffic processes the input buffered in the transport. It reports
// whether the transport should close the connection now. Loop-only.
func (c *Conn) OnTraffic() (closeNow bool) {
	if c.state == stateClosed {
		return true
	}
	if c.state == stateConnecting {
		return false // input waits in the transport until the takeover ends
	}
	buf := c.t.Peek()
	off := 0
	var run recvRun
	for off < len(buf) && (c.state == stateNew || c.state == stateConnected || c.state == stateAuthenticating) {
		n, err := codec.FrameV(buf[off:], c.e.cfg.MaxPacketSize, c.v5.level())
		if err != nil {
			c.fail(codec.TypeReserved, err)
			break
		}
		if n == 0 {
			break
		}
		c.handle(buf[off:off+n], &run)
		off += n
	}
	run.flush(c)
	if c.state != stateClosed {
		c.t.Discard(off)
	}
	if off > 0 {
		// Keep-alive counts whole control packets [MQTT-3.1.2-24]: bytes
		// of a packet that never completes do not keep a client alive.
		now := c.e.now()
		c.lastActivity.Store(now.UnixNano())
		if c.sess != nil && c.state == stateConnected {
			c.sess.Touch(now.UnixMilli())
		}
	}
	c.ls.touch(c)
	c.ls.flush()
	return c.state == stateClosed
}

// OnClose tells the engine the transport has closed; err is nil for a close
// the engine asked for. Loop-only.
func (c *Conn) OnClose(err error) {
	if c.state != stateClosed {
		r := session.Reason(c.closeReason.Load())
		if r == session.ReasonNone {
			r = session.ReasonNetworkError
		}
		detail := ""
		if err != nil && r == session.ReasonNetworkError {
			detail = err.Error()
		}
		c.closeWith(r, detail, r != session.ReasonShutdown)
	}
	c.dropExchange()
	c.e.conns.remove(c)
	c.e.stats.Connections.Add(-1)
	c.ls.st.Disconnects.Add(1)
	c.ls.flush()
}

// recvRun counts a run of received packets of one type and QoS, so a burst
// of PUBLISHes costs the session's counters two atomic adds, not two per
// packet. Loop-only.
type recvRun struct {
	t       codec.Type
	qos     byte
	n, size uint64
}

func (r *recvRun) add(c *Conn, t codec.Type, qos byte, size int) {
	if r.n != 0 && (r.t != t || r.qos != qos) {
		r.flush(c)
	}
	r.t, r.qos = t, qos
	r.n++
	r.size += uint64(size)
}

func (r *recvRun) flush(c *Conn) {
	if r.n != 0 && c.sess != nil {
		c.sess.Counters.Received.AddN(r.t, r.qos, r.n, r.size)
	}
	r.n, r.size = 0, 0
}

// handle dispatches one whole frame, counting it in run once connected.
// Loop-only.
func (c *Conn) handle(frame []byte, run *recvRun) {
	t := codec.PacketType(frame)
	if c.state == stateNew {
		if t != codec.TypeConnect { // [MQTT-3.1.0-1]
			c.protocolError(t, fmt.Sprintf("first packet is %s, want CONNECT [MQTT-3.1.0-1]", t))
			return
		}
		c.handleConnect(frame)
		return
	}
	if c.state == stateAuthenticating {
		c.handleExchangeFrame(frame)
		return
	}
	qos := byte(0)
	switch t {
	case codec.TypePublish:
		qos = (frame[0] >> 1) & 3
	case codec.TypePubrel, codec.TypeSubscribe, codec.TypeUnsubscribe:
		qos = 1
	}
	run.add(c, t, qos, len(frame))
	c.ls.recv.Add(t, qos, len(frame))
	switch t {
	case codec.TypePublish:
		c.handlePublish(frame)
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		c.handleAck(frame)
	case codec.TypeSubscribe:
		c.handleSubscribe(frame)
	case codec.TypeUnsubscribe:
		c.handleUnsubscribe(frame)
	case codec.TypePingreq:
		if _, err := codec.DecodeEmptyV(frame, codec.TypePingreq, c.v5.level()); err != nil {
			c.fail(t, err)
			return
		}
		c.out = codec.AppendPingresp(c.out) // [MQTT-3.12.4-1]
		c.countSent(codec.TypePingresp, 0, 2)
	case codec.TypeDisconnect:
		if c.v5&v5On != 0 {
			c.ls.closeCode = clientDisconnectCode(frame)
			c.handleDisconnectV5(frame)
			return
		}
		if _, err := codec.DecodeEmpty(frame, codec.TypeDisconnect); err != nil {
			c.fail(t, err)
			return
		}
		c.closeWith(session.ReasonClient, "", false) // will discarded [MQTT-3.14.4-3]
	case codec.TypeAuth: // framed at level 5 only
		c.handleAuth(frame)
	case codec.TypeConnect: // [MQTT-3.1.0-2]
		c.protocolError(t, "second CONNECT on one connection [MQTT-3.1.0-2]")
	default: // packets only a server sends: CONNACK, SUBACK, UNSUBACK, PINGRESP, reserved
		c.protocolError(t, fmt.Sprintf("a client may not send %s", t))
	}
}

// countSent counts one packet written to the client. Loop-only.
func (c *Conn) countSent(t codec.Type, qos byte, size int) {
	if c.sess != nil {
		c.sess.Counters.Sent.Add(t, qos, size)
	}
	c.ls.sent.Add(t, qos, size)
}

// writeQoS0 appends an encoded QoS 0 PUBLISH unless the connection's
// outbound bytes would pass the limit, in which case it is dropped and
// counted: a slow consumer never grows memory or stalls others. Loop-only.
func (c *Conn) writeQoS0(pkt []byte) {
	if c.alias != nil && c.writeQoS0Alias(pkt) { // MQTT 5.0 outbound topic aliases
		return
	}
	if len(c.out)+c.t.OutboundBuffered()+len(pkt) > c.e.cfg.MaxOutbound {
		c.ls.st.DroppedQoS0.Add(1)
		return
	}
	c.reserve(len(pkt))
	c.out = append(c.out, pkt...)
	c.countSent0(len(pkt))
	c.ls.touch(c)
}

// writeQoS0Run writes n encoded QoS 0 PUBLISHes, back to back in pkts, as
// n calls of writeQoS0 would: with one append when they all fit under the
// outbound limit, else one by one, so that as many as fit go. Loop-only.
func (c *Conn) writeQoS0Run(pkts []byte, n int) {
	if n == 1 {
		c.writeQoS0(pkts)
		return
	}
	if c.alias != nil || len(c.out)+c.t.OutboundBuffered()+len(pkts) > c.e.cfg.MaxOutbound {
		for len(pkts) > 0 {
			k, err := codec.Frame(pkts, 0)
			if err != nil || k == 0 {
				return // cannot happen: this engine encoded them, whole
			}
			c.writeQoS0(pkts[:k])
			pkts = pkts[k:]
		}
		return
	}
	c.reserve(len(pkts))
	c.out = append(c.out, pkts...)
	c.sent0 += uint32(n)
	c.sent0Bytes += uint32(len(pkts))
	c.ls.sent.AddN(codec.TypePublish, 0, n, len(pkts))
	c.ls.msgsOut += uint64(n)
	c.ls.touch(c)
}

// countSent0 counts a QoS 0 PUBLISH of size bytes appended to out. The
// session's counters get the round's total from flushOut, with two atomic
// adds instead of two per message. Loop-only.
func (c *Conn) countSent0(size int) {
	c.sent0++
	c.sent0Bytes += uint32(size)
	c.ls.sent.Add(codec.TypePublish, 0, size)
	c.ls.msgsOut++
}

// reserve makes room for n more bytes in out, from the loop's buffer pool
// when out must grow and a pooled buffer is free (see loopState.regrow);
// small buffers with an empty pool grow by append as usual. Loop-only.
func (c *Conn) reserve(n int) {
	need := len(c.out) + n
	if need > cap(c.out) && (need > smallOut || len(c.ls.bufs) > 0) {
		c.out = c.ls.regrow(c.out, need)
	}
}

// smallOut is the size up to which an output buffer grows by append.
const smallOut = 4 << 10

// flushCounts adds the round's QoS 0 PUBLISHes (countSent0) to the session's
// counters.
// Loop-only.
func (c *Conn) flushCounts() {
	if c.sent0 == 0 {
		return
	}
	if c.sess != nil {
		c.sess.Counters.Sent.AddN(codec.TypePublish, 0, uint64(c.sent0), uint64(c.sent0Bytes))
	}
	c.sent0, c.sent0Bytes = 0, 0
}

// writePublish appends a QoS 1/2 PUBLISH of m; via says which
// subscriptions caused it (5.0 subscription identifiers). Loop-only.
func (c *Conn) writePublish(m *session.Message, qos byte, retain, dup bool, id uint16, via session.Via) {
	if c.v5&v5On != 0 {
		n := c.publishV5(m, qos, retain, dup, id, via)
		if n == 0 {
			if !dup { // a resend iterates the window itself: the entry stays until the next session
				c.notSentV5(qos, id)
			}
			return
		}
		c.countSent(codec.TypePublish, qos, n)
		c.ls.msgsOut++
		return
	}
	c.reserve(codec.PublishSize(qos, len(m.Topic), len(m.Payload)))
	n := len(c.out)
	c.out = codec.AppendPublishParts(c.out, dup, qos, retain, m.Topic, id, m.Payload)
	c.countSent(codec.TypePublish, qos, len(c.out)-n)
	c.ls.msgsOut++
}

// flushOut hands the connection's pending output to the transport in one
// write. Loop-only.
func (c *Conn) flushOut() {
	c.flushCounts()
	if len(c.out) == 0 {
		return
	}
	if pending := c.t.OutboundBuffered() + len(c.out); pending > c.e.outboundHardLimit {
		// Only a client that stops reading gets here: QoS 0 stops at
		// -max-outbound and QoS 1/2 at the in-flight window, so what is
		// left is protocol replies to a client that keeps asking.
		c.out = c.out[:0]
		c.closeWith(session.ReasonSlowConsumer, fmt.Sprintf("%d bytes waiting to be sent", pending), true)
		return
	}
	if err := c.t.Write(c.out); err != nil {
		c.closeWith(session.ReasonNetworkError, err.Error(), true)
	}
	if cap(c.out) > keepOut {
		c.ls.release(c.out)
		c.out = nil // idle connections keep no large buffer
	} else {
		c.out = c.out[:0]
	}
}

// pump moves queued QoS 1/2 messages into the in-flight window while it has
// room, and writes them. Loop-only.
func (c *Conn) pump() {
	s := c.sess
	if c.state != stateConnected || s == nil {
		return
	}
	q := s.Send(c.ls.sending[:0], c.e.nowMillis())
	for i := range q {
		c.writePublish(q[i].Msg, q[i].QoS, q[i].Retain, false, q[i].PacketID, q[i].Via) // first delivery: DUP 0 [MQTT-3.3.1-1]
		c.tracePush(q[i].Msg)
		q[i] = session.Inflight{}
	}
	c.ls.sending = q[:0]
	c.stepRetained(paceConnSlice) // retained messages after SUBSCRIBE take what room is left
	c.ls.touch(c)
}

// writeAck appends an acknowledgement of a client's PUBLISH or PUBREL. With
// -fsync always, an ack whose message produced store writes in this round
// (ticket after before) waits until those are durable; in a cluster, the
// ack of a QoS 1/2 message just forwarded waits until the other nodes
// confirm it (clusterack.go). Every later ack of the connection waits
// behind a held one, keeping acks in order [MQTT-4.6.0-2]. Loop-only.
func (c *Conn) writeAck(pkt []byte, before uint64) {
	cseq := c.ls.clusterSeq
	c.ls.clusterSeq = 0
	store := c.e.syncAcks && c.ls.ticket > before && c.ls.ticket > c.e.store.Durable()
	if store || cseq != 0 || c.held != nil && len(c.held.buf) > 0 {
		h := c.held
		if h == nil {
			h = &heldAcks{}
			c.held = h
		}
		var seg heldSeg
		if k := len(h.segs); k > 0 {
			seg = h.segs[k-1]
		}
		if c.e.syncAcks {
			seg.ticket = max(seg.ticket, c.ls.ticket)
		}
		if cseq != 0 {
			seg.cseq = max(seg.cseq, cseq)
			c.ls.clusterMark = true
		}
		h.buf = append(h.buf, pkt...)
		if k := len(h.segs); k > 0 && h.segs[k-1].ticket == seg.ticket && h.segs[k-1].cseq == seg.cseq {
			h.segs[k-1].end = len(h.buf) // waits for the same as the ack before it
		} else {
			seg.end = len(h.buf)
			h.segs = append(h.segs, seg)
		}
		if !h.waiting && !h.cwaiting {
			c.ls.heldConns = append(c.ls.heldConns, c)
		}
		return
	}
	c.out = append(c.out, pkt...)
}

// waitHeld writes the held acks that wait for nothing more and registers
// for what the first of the others waits for: the store's ticket, the
// cluster's confirmation, or both. Loop-only.
func (c *Conn) waitHeld() {
	h := c.held
	if h == nil {
		return
	}
	c.writeReady()
	if len(h.segs) == 0 {
		return
	}
	s := h.segs[0]
	if s.ticket > h.durable && !h.waiting {
		h.waiting = true
		t := s.ticket
		c.e.store.WhenDurable(t, func(err error) { c.ls.loop.Execute(func() { c.releaseHeld(t, err) }) })
	}
	if s.cseq != 0 && !h.cwaiting {
		c.waitConfirmed(s.cseq)
	}
}

// writeReady moves the held acks that wait for nothing more to out.
// Loop-only.
func (c *Conn) writeReady() {
	h := c.held
	k := 0
	for ; k < len(h.segs); k++ {
		s := h.segs[k]
		if s.ticket > h.durable {
			h.durable = max(h.durable, c.e.store.Durable())
			if s.ticket > h.durable {
				break
			}
		}
		if s.cseq != 0 && !c.e.cluster.Confirmed(s.cseq) {
			break
		}
	}
	if k == 0 {
		return
	}
	end := h.segs[k-1].end
	c.out = append(c.out, h.buf[:end]...)
	h.buf = h.buf[:copy(h.buf, h.buf[end:])]
	n := copy(h.segs, h.segs[k:])
	for i := range n {
		h.segs[i].end -= end
	}
	h.segs = h.segs[:n]
	c.ls.touch(c)
}

// releaseHeld notes that store ticket t is durable and writes the held
// acks that wait for nothing more. When the store failed (err != nil) the
// held acks are dropped, never sent, and the connection is closed, so the
// client sends its unacknowledged messages again on a new connection:
// nothing is acknowledged that is not stored. Loop-only.
func (c *Conn) releaseHeld(t uint64, err error) {
	h := c.held
	if h == nil {
		return // dropped when the connection closed
	}
	h.waiting = false
	if c.state != stateConnected {
		c.held = nil
		return
	}
	if err != nil {
		c.held = nil
		c.closeWith(session.ReasonStoreError, err.Error(), true)
		return
	}
	h.durable = max(h.durable, t)
	c.writeReleased()
}

// writeReleased writes the held acks that wait for nothing more and
// registers again for what the others wait for. Loop-only.
func (c *Conn) writeReleased() {
	c.ls.heldConns = append(c.ls.heldConns, c) // flush's waitHeld writes and registers
	c.ls.touch(c)
	c.ls.flush()
}

// fail closes the connection for a codec error, logging and counting it.
// Loop-only.
func (c *Conn) fail(t codec.Type, err error) {
	if errors.Is(err, codec.ErrMalformed) {
		c.ls.st.Malformed.Add(1)
	} else {
		c.ls.st.ProtocolErrors.Add(1)
	}
	c.serverDisconnect(codec.ReasonFor(err), problemDetail(err)) // [MQTT5-4.13.1-1]
	c.e.log.clientErrorFor(c.clientID(), c.addr, t, err)
	c.closeWith(session.ReasonProtocolError, err.Error(), true)
}

// protocolError closes the connection for a protocol violation found by the
// broker rather than the codec. Loop-only.
func (c *Conn) protocolError(t codec.Type, detail string) {
	c.fail(t, &codec.Error{Type: t, Field: "packet type", Detail: detail, Err: codec.ErrProtocol})
}

// closeWith closes the connection logically: detaches its session (deleting
// a clean session), records why, publishes the will when publishWill is
// true and the connection has one, and asks the transport to close.
// Idempotent. Loop-only.
func (c *Conn) closeWith(r session.Reason, detail string, publishWill bool) {
	if c.state == stateClosed {
		return
	}
	if rc := disconnectReason(r); rc != 0 {
		c.serverDisconnect(rc, "") // 5.0 only, connected only
	}
	prev := c.state
	c.state = stateClosed
	c.closeReason.CompareAndSwap(0, uint32(r))
	c.flushOut() // a CONNACK or acks already produced still go out
	if prev == stateConnected {
		c.traceClose(r, detail)
		c.clusterWillClosed() // clusterwill.go
		c.detach(r, detail)
	}
	if publishWill && prev == stateConnected && c.will != nil {
		c.publishWill()
	}
	c.will = nil
	c.out = nil
	c.ls.closeCode = session.DisconnectCode{}
	c.t.Close()
}

// publishWill publishes the connection's will message [MQTT-3.1.2-8].
// Loop-only.
func (c *Conn) publishWill() {
	w := c.will
	c.will = nil
	if len(w.Topic) > 0 && w.Topic[0] == '$' {
		return // a client may not publish to $-topics, by will either
	}
	if p := c.permissions(); p != nil && !p.CanPublish(w.Topic) {
		c.ls.st.Denied.Add(1)
		return
	}
	c.sendWill(w) // now, or after its Will Delay Interval (willdelay.go)
}

// detach unbinds the connection from its session. Loop-only.
func (c *Conn) detach(r session.Reason, detail string) {
	s := c.sess
	if _, ended := s.DetachCode(c, r, detail, c.ls.closeCode, c.e.nowMillis()); ended {
		c.e.dropSession(s)
	}
}
