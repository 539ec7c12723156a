package session

import (
	"errors"
	"fmt"
	"slices"

	"github.com/glassmq/glassmq/codec"
)

// ErrWrongAck is a protocol violation by the client: an acknowledgement of
// the wrong kind for a packet ID in flight (PUBREC or PUBCOMP answering a
// QoS 1 delivery, PUBACK answering a QoS 2 one, PUBCOMP before PUBREC). The
// connection must be closed.
var ErrWrongAck = errors.New("acknowledgement of the wrong kind")

// Deliver queues a QoS 1/2 delivery, giving it the session's next Seq and
// recording it in the Store first when the session is persistent. A full
// queue drops its oldest message, counted [dropped]. It returns the
// attached connection, which the caller asks to Send (nil when offline or
// claimed: the claimant sends on Attach), and the store ticket of the
// write (0 when none). A session that ended meanwhile takes nothing. Safe
// for concurrent use.
func (s *Session[C]) Deliver(q Queued) (owner *C, dropped bool, ticket uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return nil, false, 0 // matched just before the session ended: nobody will read it
	}
	s.nextSeq++
	q.Seq = s.nextSeq
	var old Queued
	qu := s.queueLocked()
	if qu.max > 0 && qu.size == qu.max {
		old = qu.buf[qu.head]
	}
	dropped = qu.push(q)
	if st := s.reg.Store; st != nil && s.durable && qu.max > 0 { // with no queue at all, nothing is kept
		// Under the session lock, so the store sees this session's ops in
		// the order memory does, whichever loop they come from.
		ticket = st.Apply(Op{Kind: OpPutMessage, ClientID: s.ClientID, Seq: q.Seq, QoS: q.QoS, Retain: q.Retain, Msg: q.Msg})
		if dropped && old.Msg != nil {
			ticket = st.Apply(Op{Kind: OpDeleteMessage, ClientID: s.ClientID, Seq: old.Seq})
		}
	}
	if dropped {
		qu.dropped.Add(1)
	} else {
		s.reg.addQueued(1)
	}
	s.queueLen.Store(int32(qu.size))
	return s.owner.Load(), dropped, ticket
}

// Send moves queued messages into the in-flight window while it has room,
// giving each an unused packet ID and recording that in the Store, and
// appends them to dst for the connection to write as first deliveries (DUP
// 0 [MQTT-3.3.1-1]). The entries' Msg stay valid; dst is the caller's.
//
// The window holds at most InflightMax messages awaiting PUBACK or PUBREC.
// For a 3.1.1 client a QoS 2 delivery whose PUBREC arrived holds no message
// any more, only its packet ID until PUBCOMP, so it leaves the window; such
// entries are bounded by InflightMax of their own. For a 5.0 client the
// window is also at most its Receive Maximum and counts every delivery
// until PUBACK or PUBCOMP [MQTT5-4.9.0-2]. A queued message whose expiry
// passed at now (epoch ms) is dropped, counted, instead of sent. Loop-only.
func (s *Session[C]) Send(dst []Inflight, now int64) []Inflight {
	room := s.windowRoom()
	if room <= 0 {
		return dst
	}
	start := len(dst)
	popped, expired := 0, 0
	s.mu.Lock()
	for len(dst)-start < room {
		m, ok := s.q.Load().pop()
		if !ok {
			break
		}
		popped++
		if m.Msg.Expired(now) {
			expired++
			if s.durable && s.reg.Store != nil {
				s.reg.Store.Apply(Op{Kind: OpDeleteMessage, ClientID: s.ClientID, Seq: m.Seq})
			}
			continue
		}
		dst = append(dst, Inflight{Seq: m.Seq, Msg: m.Msg, QoS: m.QoS, Retain: m.Retain, Via: m.Via})
	}
	n := len(dst) - start
	if popped > 0 {
		s.queueLen.Store(int32(s.q.Load().len()))
		s.reg.addQueued(-popped)
		if expired > 0 {
			s.q.Load().expired.Add(uint64(expired))
		}
	}
	durable := s.durable && s.reg.Store != nil
	s.mu.Unlock()
	for i := start; i < len(dst); i++ {
		f := &dst[i]
		f.PacketID = s.nextPacketID()
		if durable {
			s.reg.Store.Apply(Op{Kind: OpInflight, ClientID: s.ClientID, Seq: f.Seq, PacketID: f.PacketID})
		}
		fl := s.flightLoop()
		fl.inflight = append(fl.inflight, *f)
	}
	if n > 0 {
		s.syncLoopGauges()
	}
	return dst
}

// windowRoom returns how many more messages the in-flight window takes.
// Loop-only.
func (s *Session[C]) windowRoom() int {
	w := int(s.loop.window)
	if w == 0 {
		w = s.reg.Limits.InflightMax
	}
	fl := s.loop.f
	if fl == nil {
		return w
	}
	if s.loop.countAll {
		return w - len(fl.inflight)
	}
	return min(w-(len(fl.inflight)-int(fl.released)), 2*w-len(fl.inflight))
}

// SendNow puts one delivery straight into the in-flight window, past the
// queue, and returns it with its packet ID for the connection to write as
// a first delivery; ok is false when the window is full (or the session
// ended). It serves retained messages sent on SUBSCRIBE, which the broker
// paces by the window instead of queueing, so the queue bound never cuts
// them. The delivery gets the session's next Seq and is recorded in the
// Store as a message Send moved into the window would be. Loop-only.
func (s *Session[C]) SendNow(q Queued) (f Inflight, ok bool) {
	if s.windowRoom() <= 0 {
		return Inflight{}, false
	}
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		return Inflight{}, false
	}
	s.nextSeq++
	q.Seq = s.nextSeq
	st := s.reg.Store
	durable := s.durable && st != nil
	if durable {
		st.Apply(Op{Kind: OpPutMessage, ClientID: s.ClientID, Seq: q.Seq, QoS: q.QoS, Retain: q.Retain, Msg: q.Msg})
	}
	s.mu.Unlock()
	f = Inflight{Seq: q.Seq, Msg: q.Msg, QoS: q.QoS, Retain: q.Retain, Via: q.Via, PacketID: s.nextPacketID()}
	if durable {
		st.Apply(Op{Kind: OpInflight, ClientID: s.ClientID, Seq: f.Seq, PacketID: f.PacketID})
	}
	fl := s.flightLoop()
	fl.inflight = append(fl.inflight, f)
	s.syncLoopGauges()
	return f, true
}

// nextPacketID returns an unused packet ID; IDs start at 1 for each new
// session and increase, skipping IDs still in flight [MQTT-2.3.1-2].
func (s *Session[C]) nextPacketID() uint16 {
	for {
		s.loop.nextPacketID++
		if s.loop.nextPacketID == 0 {
			s.loop.nextPacketID = 1
		}
		id := s.loop.nextPacketID
		if s.inflightIndex(id) < 0 {
			return id
		}
	}
}

func (s *Session[C]) inflightIndex(id uint16) int {
	sent := s.loop.f.sent()
	for i := range sent {
		if sent[i].PacketID == id {
			return i
		}
	}
	return -1
}

// Ack records the client's acknowledgement of kind (PUBACK, PUBREC or
// PUBCOMP) for packet ID id of an outgoing delivery:
//   - PUBACK completes a QoS 1 delivery [MQTT-4.3.2-1];
//   - PUBREC releases a QoS 2 delivery: its message is dropped, only the ID
//     stays in flight, and the caller sends PUBREL (again, for a repeated
//     PUBREC) [MQTT-4.3.3-1]; the window has room for another message;
//   - PUBCOMP completes a released QoS 2 delivery.
//
// ok is false for an id that is not in flight: the caller ignores the
// packet. err wraps ErrWrongAck for an acknowledgement of the wrong kind:
// the caller closes the connection. After ok the window may have room:
// call Send. Loop-only.
func (s *Session[C]) Ack(kind codec.Type, id uint16) (ok bool, err error) {
	i := s.inflightIndex(id)
	if i < 0 {
		return false, nil
	}
	fl := s.loop.f // not nil: id is in flight
	f := &fl.inflight[i]
	switch {
	case kind == codec.TypePuback && f.QoS == 1,
		kind == codec.TypePubcomp && f.QoS == 2 && f.Released:
		s.persist(Op{Kind: OpDeleteMessage, Seq: f.Seq})
		if f.Released {
			fl.released--
		}
		fl.inflight = slices.Delete(fl.inflight, i, i+1)
		s.syncLoopGauges()
		return true, nil
	case kind == codec.TypePubrec && f.QoS == 2:
		if !f.Released {
			f.Released = true
			fl.released++
			f.Msg = nil // delivered; only the ID remains [MQTT-4.3.3-1]
			s.persist(Op{Kind: OpReleased, Seq: f.Seq})
		}
		return true, nil
	}
	what := "a QoS 1 delivery"
	switch {
	case f.QoS == 2 && f.Released:
		what = "a QoS 2 delivery already released"
	case f.QoS == 2:
		what = "a QoS 2 delivery before its PUBREC"
	}
	return false, fmt.Errorf("%s for packet ID %d, %s: %w", kind, id, what, ErrWrongAck)
}

// Receive records an inbound QoS 2 PUBLISH with packet ID id. first is
// false when id already awaits its PUBREL: the message was received and
// forwarded before, so the caller acknowledges it again and forwards
// nothing [MQTT-4.3.3-2]. ticket is the store write of a first receipt
// (0 when none). Loop-only.
func (s *Session[C]) Receive(id uint16) (first bool, ticket uint64) {
	fl := s.flightLoop()
	if _, dup := fl.awaitingRel[id]; dup {
		return false, 0
	}
	if fl.awaitingRel == nil {
		fl.awaitingRel = make(map[uint16]struct{})
	}
	fl.awaitingRel[id] = struct{}{}
	s.syncLoopGauges()
	return true, s.persist(Op{Kind: OpPutRel, PacketID: id})
}

// Release records the client's PUBREL for id: from now on a PUBLISH with
// id is a new message. The caller answers PUBCOMP whether or not id was
// awaited. ticket is the store write (0 when none). Loop-only.
func (s *Session[C]) Release(id uint16) (ticket uint64) {
	fl := s.loop.f
	if fl == nil {
		return 0
	}
	if _, ok := fl.awaitingRel[id]; !ok {
		return 0
	}
	delete(fl.awaitingRel, id)
	s.syncLoopGauges()
	return s.persist(Op{Kind: OpDeleteRel, PacketID: id})
}

// persist applies op for this session when it is persistent. It reads
// durable without the lock: durable changes only in Attach, on the
// owner's loop, and in End, when no loop owns the session, so the owner's
// loop always sees its current value.
func (s *Session[C]) persist(op Op) uint64 {
	st := s.reg.Store
	if st == nil || !s.durable {
		return 0
	}
	op.ClientID = s.ClientID
	return st.Apply(op)
}
