package broker

import (
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// handlePublish takes a PUBLISH from the client through its QoS flow.
// Loop-only.
func (c *Conn) handlePublish(frame []byte) {
	p := &c.ls.publish
	if _, err := p.DecodeV(frame, c.v5.level()); err != nil {
		c.fail(codec.TypePublish, err)
		return
	}
	if !c.publishCapable(p) || c.v5&v5On != 0 && c.publishCarries(p) && !c.publishV5In(p) { // capabilities.go, v5.go
		return
	}
	c.ls.msgsIn++
	before := c.ls.ticket
	var ack [5]byte // with a 5.0 reason code
	if p.QoS == 2 {
		first, ticket := c.sess.Receive(p.PacketID)
		c.ls.noteTicket(ticket)
		if !first {
			// Already received and forwarded: acknowledge again, deliver
			// nothing [MQTT-4.3.3-2].
			c.ls.props5, c.ls.expires = c.ls.props5[:0], 0
			c.writeAck(codec.AppendPubrec(ack[:0], p.PacketID), before)
			c.countSent(codec.TypePubrec, 0, 4)
			return
		}
		if c.v5&v5On != 0 && c.sess.AwaitingRel() > int(c.e.receiveMaximum()) {
			c.receiveMaximumExceeded()
			return
		}
	}
	allowed := len(p.TopicName) == 0 || p.TopicName[0] != '$' // clients may not publish to $-topics: acknowledged, not delivered
	if perms := c.permissions(); allowed && perms != nil && !perms.CanPublish(p.TopicName) {
		allowed = false // denied by the ACL: acknowledged, not delivered, counted
		c.ls.st.Denied.Add(1)
	}
	matched := false
	if allowed {
		c.ls.msgID = c.tracePublish(p.QoS)
		var msg *session.Message
		if p.Retain {
			msg = session.NewMessageProps(p.TopicName, p.Payload, c.ls.props5, c.e.routeQoS(p.QoS), true, c.ls.expires)
			msg.TraceID = c.ls.msgID
			c.e.setRetained(c.ls, msg)
		}
		c.ls.from = c.sess                                                     // No Local at 5.0; the publisher's client ID for shared subscriptions
		matched = c.ls.route(p.TopicName, p.Payload, c.e.routeQoS(p.QoS), msg) // forwarded with RETAIN 0 [MQTT-3.3.1-9]; at most -max-qos
		if c.e.cluster != nil {
			c.e.forward(c.ls, p.TopicName, p.Payload, c.e.routeQoS(p.QoS), p.Retain, c.ls.props5, c.ls.expires, c.sess.ClientID)
		}
		c.ls.msgID, c.ls.from = 0, nil
	}
	c.ls.props5, c.ls.expires = c.ls.props5[:0], 0 // later routes on this loop are not this PUBLISH's
	if !allowed && p.QoS > 0 && c.v5&v5On != 0 {
		c.refusePublish(p, before) // 5.0 says why: 0x87 and a reason string (problem.go)
		return
	}
	none := !matched && c.v5&v5On != 0 // 5.0 says so: 0x10 [MQTT5-3.4.2.1]
	switch p.QoS {
	case 1:
		pkt := appendPubAck(ack[:0], codec.TypePuback, p.PacketID, none)
		c.writeAck(pkt, before) // [MQTT-4.3.2-2]
		c.countSent(codec.TypePuback, 0, len(pkt))
	case 2:
		pkt := appendPubAck(ack[:0], codec.TypePubrec, p.PacketID, none)
		c.writeAck(pkt, before) // [MQTT-4.3.3-2]
		c.countSent(codec.TypePubrec, 0, len(pkt))
	}
}

// appendPubAck appends to dst the PUBACK or PUBREC (t) accepting the
// PUBLISH id. With none, the message matched no subscription, and a 5.0
// client is told so with reason 0x10 No matching subscribers
// [MQTT5-3.4.2.1], [MQTT5-3.5.2.1]: the standard leaves it to the server,
// and Mosquitto and EMQX (by default) send it, so a client can tell a
// topic nobody listens to. It is a success code: the QoS flow goes on as
// usual. A 3.1.1 ack has no reason code.
func appendPubAck(dst []byte, t codec.Type, id uint16, none bool) []byte {
	switch {
	case none:
		return codec.AppendAckV5(dst, t, id, codec.ReasonNoMatchingSubscribers, nil)
	case t == codec.TypePuback:
		return codec.AppendPuback(dst, id)
	}
	return codec.AppendPubrec(dst, id)
}

// handleAck handles PUBACK, PUBREC, PUBREL and PUBCOMP. An acknowledgement
// for a packet ID not in flight is ignored; one of the wrong kind closes
// the connection. Loop-only.
func (c *Conn) handleAck(frame []byte) {
	a := &c.ls.ack
	if _, err := a.DecodeV(frame, c.v5.level()); err != nil {
		c.fail(codec.PacketType(frame), err)
		return
	}
	s := c.sess
	if a.Type == codec.TypePubrel {
		before, had := c.ls.ticket, s.AwaitingRel()
		c.ls.noteTicket(s.Release(a.PacketID))
		c.writePubcomp(a.PacketID, s.AwaitingRel() < had, before) // [MQTT-4.3.3-2]; 0x92 at 5.0 when not found (v5flow.go)
		return
	}
	ok, err := s.Ack(a.Type, a.PacketID)
	switch {
	case err != nil:
		c.fail(a.Type, &codec.Error{Type: a.Type, Field: "packet identifier", Offset: 2, Detail: err.Error(), Err: codec.ErrProtocol})
	case !ok:
		// Not in flight (a late duplicate): ignored.
	default:
		if a.Type == codec.TypePubrec && a.ReasonCode >= 0x80 {
			s.Ack(codec.TypePubcomp, a.PacketID) // a refusing PUBREC ends the flow: no PUBREL, never resent [MQTT5-4.4.0-2]
		} else if a.Type == codec.TypePubrec {
			c.out = codec.AppendPubrel(c.out, a.PacketID)
			c.countSent(codec.TypePubrel, 1, 4)
		}
		c.needPump = true // the window may have room
	}
}

// setRetained stores or clears a retained message, persisting it unless
// it is a $-topic (those are regenerated). Loop-only (ls's loop).
func (e *Engine) setRetained(ls *loopState, m *session.Message) {
	var apply func(*session.Message)
	if e.store != nil && (len(m.Topic) == 0 || m.Topic[0] != '$') {
		apply = func(m *session.Message) {
			kind := session.OpPutRetained
			if len(m.Payload) == 0 {
				kind = session.OpDeleteRetained
			}
			ls.noteTicket(e.store.Apply(session.Op{Kind: kind, Msg: m}))
		}
	}
	if d := e.retained.set(m, apply); d != 0 {
		e.stats.Retained.Add(int64(d))
	}
}

// publishMessage publishes m as the broker: wills and $SYS. Messages to
// $-topics from clients' wills are dropped. Loop-only (ls's loop).
func (e *Engine) publishMessage(ls *loopState, m *session.Message) {
	if m.Retain {
		e.setRetained(ls, m)
	}
	ls.route(m.Topic, m.Payload, m.QoS, m) // immutable, so shared by every QoS 1/2 delivery
	e.forward(ls, m.Topic, m.Payload, m.QoS, m.Retain, m.Props, m.Expires, "")
}
