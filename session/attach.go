package session

// Claim makes c the connection taking the session over: from now on only c
// may Attach, and the session has no owner until it does. It returns the
// connection that was attached (nil if none), which the caller must close
// on its own loop before c attaches, so there is never a moment with two
// live owners [MQTT-3.1.4-2]; the old connection's end is recorded as taken
// over, with the detail "by " and the claimant's address by (the text is
// built only then, not for every CONNECT). ok is false when the session
// ended meanwhile: look it up again. Safe for concurrent use.
func (s *Session[C]) Claim(c *C, by string, now int64) (old *C, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return nil, false
	}
	old = s.owner.Load()
	s.claim = c
	s.owner.Store(nil)
	if old != nil {
		s.leaving = old
		detail := ""
		if by != "" {
			detail = "by " + by
		}
		s.disconnectedLocked(ReasonTakenOver, detail, takenOverCode(s.meta.Load()), now)
		return old, true
	}
	// A connection taken over by an earlier claim may still be running on
	// its loop: this claimant too must wait until it has closed.
	return s.leaving, true
}

// Attached is what Attach did.
type Attached struct {
	// Present is the CONNACK session-present flag [MQTT-3.2.2-2].
	Present bool
	// Dropped lists the subscriptions a clean start removed; the caller
	// removes them from its router.
	Dropped []Subscription
	// Resend is the in-flight window to send again, oldest first: PUBLISH
	// with DUP 1, or PUBREL for released entries [MQTT-4.4.0-1]. It is a
	// view, valid until the next Loop-only call.
	Resend []Inflight
}

// Attach finishes c's claim at now: c becomes the owner, described by m.
// A connection with CleanSession (5.0: Clean Start), or one taking over a
// session whose expiry was 0 (it ends with the connection it had), starts
// from an empty session [MQTT-3.1.2-6]; otherwise the session resumes. The
// session then outlives c by m.SessionExpiry seconds, and is kept in the
// Store when that is not 0. ok is false when a newer claim replaced c's: c
// must close without attaching. Loop-only (c's loop).
func (s *Session[C]) Attach(c *C, m *ConnMeta, now int64) (a Attached, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claim != c {
		return Attached{}, false
	}
	s.claim = nil
	st := s.reg.Store
	if m.CleanSession || (!s.fresh && s.expiry.Load() == 0) {
		if !s.fresh {
			a.Dropped = s.resetLocked(now)
		}
		if st != nil && s.durable {
			st.Apply(Op{Kind: OpDeleteSession, ClientID: s.ClientID})
		}
	} else {
		a.Present = !s.fresh
	}
	s.fresh = false
	s.expiry.Store(m.SessionExpiry)
	s.durable = st != nil && m.SessionExpiry > 0
	s.connectedAt(m, now)
	if s.durable {
		// Under the lock, so the record precedes any message another loop
		// queues for the session.
		rec := s.Record()
		rec.DisconnectTime = 0
		st.Apply(Op{Kind: OpPutSession, ClientID: s.ClientID, Record: rec})
	}
	s.owner.Store(c)
	s.loop.window, s.loop.countAll = int32(min(s.reg.Limits.InflightMax, 1<<31-1)), m.ProtocolVersion == 5
	if rm := int32(m.ReceiveMaximum); m.ProtocolVersion == 5 && rm > 0 && rm < s.loop.window {
		s.loop.window = rm // [MQTT5-4.9.0-1]: no more unacknowledged QoS 1/2 than the client allows
	}
	a.Resend = s.loop.f.sent()
	return a, true
}

// resetLocked turns s into a new, empty session created at now: no
// subscriptions, queue, in-flight window, QoS 2 state or counters; the
// history is kept. It returns the subscriptions dropped.
func (s *Session[C]) resetLocked(now int64) []Subscription {
	var old []Subscription
	if p := s.subs.Swap(nil); p != nil {
		old = p.list
	}
	s.reg.addQueued(-s.q.Load().len())
	s.q.Store(nil) // with its dropped and expired counts
	s.queueLen.Store(0)
	s.nextSeq = 0
	s.loop.nextPacketID = 0
	s.loop.f = nil
	s.syncLoopGauges()
	s.Counters.Received.Reset()
	s.Counters.Sent.Reset()
	s.createTime.Store(now)
	s.connectTime.Store(0)
	s.disconnectTime.Store(0)
	s.connections.Store(0)
	s.last.Store(nil)
	return old
}

// Abandon ends c's claim without attaching: its connection closed while
// the claim was pending (a takeover or authentication took time). A clean
// session left with no owner ends; ended reports it, and the caller then
// calls End. Loop-only (c's loop).
func (s *Session[C]) Abandon(c *C, clean bool) (ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claim != c {
		return false // a newer claim owns the session's future
	}
	s.claim = nil
	if clean && s.owner.Load() == nil {
		return s.removeLocked()
	}
	return false
}

// Detach records the end of c's attachment at now with reason r. A
// session with expiry 0 (3.1.1 CleanSession) ends with its connection
// [MQTT-3.1.2-6] (ended true: call End); any other stays, its disconnect
// time saved for expiry after a restart. wasOwner is false when c had been taken over
// already, in which case nothing changes. Loop-only (c's loop).
func (s *Session[C]) Detach(c *C, r Reason, detail string, now int64) (wasOwner, ended bool) {
	return s.DetachCode(c, r, detail, DisconnectCode{}, now)
}

// DetachCode is Detach for a connection whose end exchanged an MQTT 5.0
// DISCONNECT: code says who sent it and its reason code, kept as the last
// disconnect's for the admin API. Loop-only (c's loop).
func (s *Session[C]) DetachCode(c *C, r Reason, detail string, code DisconnectCode, now int64) (wasOwner, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner.Load() != c {
		if s.leaving == c {
			s.leaving = nil // closed: a claimant may now attach
		}
		return false, false // taken over: the new connection recorded the disconnect
	}
	s.owner.Store(nil)
	if s.expiry.Load() == 0 && s.claim == nil {
		ended = s.removeLocked()
	} else {
		s.saveLocked(now) // the disconnect time counts for expiry after a restart
	}
	s.disconnectedLocked(r, detail, code, now)
	return true, ended
}

// Expire ends the session if it is offline and unclaimed and its expiry
// interval has passed since it was disconnected, at now (epoch ms). ended
// true: call End. Safe for concurrent use.
func (s *Session[C]) Expire(now int64) (ended bool) {
	if s.connected.Load() {
		return false
	}
	exp := s.expiry.Load()
	if exp >= NeverExpires {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dt := s.disconnectTime.Load()
	if s.owner.Load() != nil || s.claim != nil || s.removed || dt == 0 || dt+exp*1000 > now {
		return false
	}
	return s.removeLocked()
}

// SetExpiry changes the session expiry interval while attached (MQTT 5.0
// DISCONNECT). The broker checks the rule that an interval of 0 from
// CONNECT cannot become non-zero [MQTT5-3.14.2-2]. Loop-only.
func (s *Session[C]) SetExpiry(seconds int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiry.Store(seconds)
}

// WhileOffline runs fn under the session's lock when no connection owns or
// claims the session and it has not ended, so fn may make the changes the
// owner's loop makes otherwise (Subscribe, Unsubscribe): no CONNECT can
// attach meanwhile. It then saves the record, and reports whether fn ran.
// fn must not call back into s. Safe for concurrent use.
func (s *Session[C]) WhileOffline(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner.Load() != nil || s.claim != nil || s.removed {
		return false
	}
	fn()
	s.saveLocked(0)
	return true
}

// EndIfIdle ends the session when no connection owns or claims it (ended
// true: call End), as an operator's delete does. Safe for concurrent use.
func (s *Session[C]) EndIfIdle() (ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner.Load() != nil || s.claim != nil || s.removed {
		return false
	}
	return s.removeLocked()
}

// removeLocked deletes s from its registry; from then on it takes no
// messages and no claim. It reports whether s was still registered.
func (s *Session[C]) removeLocked() bool {
	s.removed = true
	return s.reg.delete(s)
}

// End releases what an ended session holds: its Store record and messages,
// and its queue (from the registry's gauge). It returns the subscriptions,
// for the caller to remove from its router. Call once, after Abandon,
// Detach or Expire reported ended. Safe for concurrent use.
func (s *Session[C]) End() []Subscription {
	s.mu.Lock()
	if s.durable && s.reg.Store != nil {
		s.reg.Store.Apply(Op{Kind: OpDeleteSession, ClientID: s.ClientID})
	}
	s.durable = false
	s.reg.addQueued(-s.q.Load().len())
	s.q.Store(nil)
	s.queueLen.Store(0)
	s.mu.Unlock()
	return s.Subscriptions()
}
