package broker

import (
	"slices"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// handlePublish takes a PUBLISH from the client through its QoS flow.
// Loop-only.
func (c *Conn) handlePublish(frame []byte) {
	p := &c.ls.publish
	if _, err := p.Decode(frame); err != nil {
		c.fail(codec.TypePublish, err)
		return
	}
	c.ls.msgsIn++
	before := c.ls.ticket
	var ack [4]byte
	if p.QoS == 2 {
		s := c.sess
		if _, dup := s.Loop.AwaitingRel[p.PacketID]; dup {
			// Already received and forwarded: acknowledge again, deliver
			// nothing [MQTT-4.3.3-2].
			c.writeAck(codec.AppendPubrec(ack[:0], p.PacketID), before)
			c.countSent(codec.TypePubrec, 0, 4)
			return
		}
		if s.Loop.AwaitingRel == nil {
			s.Loop.AwaitingRel = make(map[uint16]struct{})
		}
		s.Loop.AwaitingRel[p.PacketID] = struct{}{}
		s.SyncLoopGauges()
		c.persist(session.Op{Kind: session.OpPutRel, PacketID: p.PacketID})
		if !c.e.syncAcks {
			// PUBREC goes out before the message is forwarded. (With -fsync
			// always it waits for the store instead; see writeAck.)
			c.out = codec.AppendPubrec(c.out, p.PacketID)
			c.countSent(codec.TypePubrec, 0, 4)
			c.flushOut()
		}
	}
	allowed := len(p.TopicName) == 0 || p.TopicName[0] != '$' // clients may not publish to $-topics: acknowledged, not delivered
	if perms := c.permissions(); allowed && perms != nil && !perms.CanPublish(p.TopicName) {
		allowed = false // denied by the ACL: acknowledged, not delivered, counted
		c.ls.st.Denied.Add(1)
	}
	if allowed {
		var msg *session.Message
		if p.Retain {
			msg = session.NewMessage(p.TopicName, p.Payload, p.QoS, true)
			c.e.setRetained(c.ls, msg)
		}
		c.ls.route(p.TopicName, p.Payload, p.QoS, msg) // forwarded with RETAIN 0 [MQTT-3.3.1-9]
	}
	switch {
	case p.QoS == 1:
		c.writeAck(codec.AppendPuback(ack[:0], p.PacketID), before) // [MQTT-4.3.2-2]
		c.countSent(codec.TypePuback, 0, 4)
	case p.QoS == 2 && c.e.syncAcks:
		c.writeAck(codec.AppendPubrec(ack[:0], p.PacketID), before)
		c.countSent(codec.TypePubrec, 0, 4)
	}
}

// handleAck handles PUBACK, PUBREC, PUBREL and PUBCOMP. Loop-only.
func (c *Conn) handleAck(frame []byte) {
	a := &c.ls.ack
	if _, err := a.Decode(frame); err != nil {
		c.fail(codec.PacketType(frame), err)
		return
	}
	s := c.sess
	switch a.Type {
	case codec.TypePuback:
		if c.ackInflight(a.PacketID, 1, false) {
			c.needPump = true
		}
	case codec.TypePubrec:
		for i := range s.Loop.Inflight {
			f := &s.Loop.Inflight[i]
			if f.PacketID == a.PacketID && f.QoS == 2 && !f.Released {
				f.Released = true
				c.persist(session.Op{Kind: session.OpReleased, Seq: f.Seq})
				f.Msg = nil // the message is delivered; only the ID remains [MQTT-4.3.3-1]
				break
			}
		}
		c.out = codec.AppendPubrel(c.out, a.PacketID)
		c.countSent(codec.TypePubrel, 1, 4)
	case codec.TypePubcomp:
		if c.ackInflight(a.PacketID, 2, true) {
			c.needPump = true
		}
	case codec.TypePubrel:
		before := c.ls.ticket
		if _, ok := s.Loop.AwaitingRel[a.PacketID]; ok {
			delete(s.Loop.AwaitingRel, a.PacketID)
			s.SyncLoopGauges()
			c.persist(session.Op{Kind: session.OpDeleteRel, PacketID: a.PacketID})
		}
		var ack [4]byte
		c.writeAck(codec.AppendPubcomp(ack[:0], a.PacketID), before) // [MQTT-4.3.3-2]
		c.countSent(codec.TypePubcomp, 0, 4)
	}
}

// ackInflight removes the in-flight entry id of QoS qos (released must match
// for QoS 2) and reports whether it was found. Loop-only.
func (c *Conn) ackInflight(id uint16, qos byte, released bool) bool {
	s := c.sess
	for i := range s.Loop.Inflight {
		f := &s.Loop.Inflight[i]
		if f.PacketID == id && f.QoS == qos && f.Released == released {
			c.persist(session.Op{Kind: session.OpDeleteMessage, Seq: f.Seq})
			s.Loop.Inflight = slices.Delete(s.Loop.Inflight, i, i+1)
			s.SyncLoopGauges()
			return true
		}
	}
	return false
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
			ls.ticket = e.store.Apply(session.Op{Kind: kind, Msg: m})
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
}
