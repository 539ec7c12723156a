package session

// This file moves a session between brokers of a cluster: the node losing a
// client takes its session out (Handover), the node gaining it registers it
// (Registry.Adopt). What moves is exactly what a Store keeps, so one
// encoding serves both.

// Handover ends the session when no connection owns or claims it, and
// returns what a broker taking the client over needs to resume it: the
// record (subscriptions, times, expiry, user name), the queued and
// in-flight messages in Seq order, and the inbound QoS 2 packet IDs
// awaiting PUBREL. ok is false, and nothing changes, while a connection
// owns or claims the session or when it has ended already. With ok true
// the caller calls End, as after Expire. Safe for concurrent use.
func (s *Session[C]) Handover() (r Restored, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner.Load() != nil || s.claim != nil || s.removed {
		return Restored{}, false
	}
	r.Record = *s.Record()
	// In-flight entries were queued before anything still in the queue, so
	// window then queue is Seq order.
	for _, f := range s.loop.f.sent() {
		r.Messages = append(r.Messages, StoredMessage{Seq: f.Seq, Msg: f.Msg, QoS: f.QoS, Retain: f.Retain,
			PacketID: f.PacketID, Released: f.Released})
	}
	s.q.Load().each(func(q Queued) {
		r.Messages = append(r.Messages, StoredMessage{Seq: q.Seq, Msg: q.Msg, QoS: q.QoS, Retain: q.Retain})
	})
	if f := s.loop.f; f != nil {
		for id := range f.awaitingRel {
			r.Rel = append(r.Rel, id)
		}
	}
	s.removeLocked()
	return r, true
}

// Adopt registers a session handed over by another broker as an offline
// persistent session, replacing an offline, unclaimed session of the same
// client ID (whose End the caller gets to call: replaced is it, nil when
// there was none; it may be set even when ok is false), and writes it to
// the Store. ok is false when a connection owns or claims the local
// session of that client ID, or registered one meanwhile: nothing is
// adopted. Safe for concurrent use.
func (r *Registry[C]) Adopt(rs *Restored, now int64) (s, replaced *Session[C], ok bool) {
	if old := r.Lookup(rs.Record.ClientID); old != nil {
		if !old.EndIfIdle() {
			return nil, nil, false
		}
		replaced = old
		// Its stored state goes now, before the adopted session is
		// written under the same client ID, not at its End afterwards.
		old.mu.Lock()
		if old.durable && r.Store != nil {
			r.Store.Apply(Op{Kind: OpDeleteSession, ClientID: old.ClientID})
		}
		old.durable = false
		old.mu.Unlock()
	}
	if s, ok = r.Restore(rs, now); !ok {
		return nil, replaced, false // a CONNECT registered one meanwhile
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := r.Store; st != nil && s.expiry.Load() > 0 {
		s.saveLocked(0)
		for _, m := range rs.Messages {
			st.Apply(Op{Kind: OpPutMessage, ClientID: s.ClientID, Seq: m.Seq, QoS: m.QoS, Retain: m.Retain, Msg: m.Msg})
			if m.PacketID != 0 {
				st.Apply(Op{Kind: OpInflight, ClientID: s.ClientID, Seq: m.Seq, PacketID: m.PacketID})
			}
			if m.Released {
				st.Apply(Op{Kind: OpReleased, ClientID: s.ClientID, Seq: m.Seq})
			}
		}
		for _, id := range rs.Rel {
			st.Apply(Op{Kind: OpPutRel, ClientID: s.ClientID, PacketID: id})
		}
	} else {
		s.durable = false
	}
	return s, replaced, true
}
