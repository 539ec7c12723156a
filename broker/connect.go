package broker

import (
	"errors"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// CONNACK return codes [MQTT-3.2.2.3].
const (
	connAccepted          = 0x00
	connBadProtocol       = 0x01
	connIdentifierRejects = 0x02
)

// handleConnect validates a CONNECT and claims the client's session.
// Loop-only.
func (c *Conn) handleConnect(frame []byte) {
	p := &c.ls.connect
	c.ls.recv.Add(codec.TypeConnect, 0, len(frame))
	if _, err := p.Decode(frame); err != nil {
		var ce *codec.Error
		if errors.As(err, &ce) && ce.Rule == "MQTT-3.1.2-2" { // unacceptable protocol level
			c.writeConnack(false, connBadProtocol)
		}
		c.fail(codec.TypeConnect, err)
		return
	}
	id := string(p.ClientID)
	if id == "" {
		if !p.CleanSession { // [MQTT-3.1.3-8]
			c.rejectConnect(connIdentifierRejects, "empty client ID with CleanSession 0 [MQTT-3.1.3-8]")
			return
		}
		id = assignClientID() // [MQTT-3.1.3-6]
	}
	if len(id) > c.e.cfg.MaxClientIDLen {
		c.rejectConnect(connIdentifierRejects, "client ID longer than -max-client-id-len")
		return
	}
	c.meta = &session.ConnMeta{Address: c.addr, ProtocolVersion: p.ProtocolLevel, KeepAlive: p.KeepAlive,
		CleanSession: p.CleanSession, Username: string(p.Username), Listener: c.listener}
	if c.tlsCN != "" && !p.UsernameFlag {
		// A verified client certificate names the user (mutual TLS).
		c.meta.Username, c.meta.Authenticated = c.tlsCN, true
	}
	if p.WillFlag {
		c.will = session.NewMessage(p.WillTopic, p.WillMessage, p.WillQoS, p.WillRetain)
		c.meta.WillTopic = string(p.WillTopic)
	}
	c.keepAlive.Store(int64(p.KeepAlive) * int64(time.Second))
	c.gotConnect.Store(true)
	c.connectSize = len(frame)
	if c.e.auth != nil {
		c.authenticate(p, id)
		return
	}
	c.state = stateConnecting
	c.claim(id)
}

// rejectConnect answers CONNACK with a refusal code and closes [MQTT-3.2.2-5].
func (c *Conn) rejectConnect(code byte, why string) {
	c.writeConnack(false, code)
	c.ls.st.ProtocolErrors.Add(1)
	c.e.log.clientError(c.addr, codec.TypeConnect, errors.New("broker: CONNECT refused: "+why))
	c.closeWith(session.ReasonProtocolError, why, false)
}

func (c *Conn) writeConnack(present bool, code byte) {
	c.out = codec.AppendConnack(c.out, present, code)
	c.countSent(codec.TypeConnack, 0, 4)
}

// claim takes the client ID's session for c. If another connection holds it,
// that connection is closed on its own loop first (its will published), and
// only then does c attach: there is never a moment with two live owners
// [MQTT-3.1.4-2]. Loop-only.
func (c *Conn) claim(id string) {
	e := c.e
	var old *Conn
	for {
		s := e.reg.Lookup(id)
		created := false
		if s == nil {
			s = session.New(id, e.reg.NextSeq(), e.cfg.MaxQueued, e.cfg.MaxInflight,
				int64(e.cfg.SessionExpiry/time.Second), nowMillis())
			var loaded bool
			s, loaded = e.reg.LoadOrStore(s)
			created = !loaded
			if created {
				e.stats.Sessions.Add(1)
			}
		}
		s.Lock()
		if s.RemovedLocked() {
			s.Unlock()
			continue // expired or ended meanwhile: start again with a new one
		}
		old, _ = s.Owner().(*Conn)
		s.SetClaimLocked(c)
		s.SetOwnerLocked(nil)
		s.Unlock()
		c.sess, c.created = s, created
		if old != nil {
			s.Disconnected(session.ReasonTakenOver, "by "+c.addr, nowMillis())
		}
		break
	}
	if old == nil {
		c.finishConnect()
		return
	}
	old.ls.loop.Execute(func() {
		old.closeWith(session.ReasonTakenOver, "", true)
		old.ls.flush()
		c.ls.loop.Execute(c.resumeConnect)
	})
}

// resumeConnect finishes a CONNECT after a takeover and processes input that
// arrived meanwhile. Loop-only.
func (c *Conn) resumeConnect() {
	c.finishConnect()
	if c.state == stateConnected && len(c.t.Peek()) > 0 {
		if c.OnTraffic() {
			c.t.Close()
		}
		return
	}
	c.ls.flush()
}

// finishConnect attaches c to the session it claimed and answers CONNACK.
// Loop-only.
func (c *Conn) finishConnect() {
	s := c.sess
	now := nowMillis()
	s.Lock()
	if s.ClaimLocked() != any(c) { // a newer CONNECT claimed it meanwhile
		s.Unlock()
		c.sess = nil
		if c.state != stateClosed {
			c.closeReason.Store(uint32(session.ReasonTakenOver))
			c.state = stateClosed
			c.t.Close()
		}
		return
	}
	s.SetClaimLocked(nil)
	if c.state == stateClosed { // the network went away while waiting
		remove := false
		if c.meta.CleanSession && s.Owner() == nil {
			remove = c.e.reg.Delete(s)
			s.MarkRemovedLocked()
		}
		s.Unlock()
		c.sess = nil
		if remove {
			c.e.dropSession(s)
		}
		return
	}
	present := false
	var dropped []session.Subscription
	prev := s.Meta()
	st := c.e.store
	if c.meta.CleanSession || (prev != nil && prev.CleanSession) {
		if !c.created {
			c.e.stats.QueuedNow.Add(-int64(s.QueueLenLocked()))
			dropped = s.ResetLocked(now) // [MQTT-3.1.2-6]
		}
		if st != nil && s.DurableLocked() {
			c.ls.ticket = st.Apply(session.Op{Kind: session.OpDeleteSession, ClientID: s.ClientID})
		}
	} else {
		present = !c.created // [MQTT-3.2.2-2]
	}
	c.durable = st != nil && !c.meta.CleanSession
	s.SetDurableLocked(c.durable)
	if c.durable {
		// Under the lock, so the record precedes any message another loop
		// queues for the session.
		rec := s.Record()
		rec.ConnectTime, rec.DisconnectTime = now, 0
		c.ls.ticket = st.Apply(session.Op{Kind: session.OpPutSession, ClientID: s.ClientID, Record: rec})
	}
	s.SetOwnerLocked(c)
	s.Unlock()
	for _, sub := range dropped {
		c.e.router.remove(sub.TopicFilter, s)
		c.e.stats.Subscriptions.Add(-1)
	}
	c.state = stateConnected
	s.Connected(c.meta, now)
	s.Counters.Received.Add(codec.TypeConnect, 0, c.connectSize)
	c.ls.st.Connects.Add(1)
	c.writeConnack(present, connAccepted) // [MQTT-3.2.0-1]
	c.resendInflight()
	c.needPump = true
	c.ls.touch(c)
}

// resendInflight re-sends the in-flight window of a resumed session: PUBLISH
// with DUP 1 for unacknowledged messages, PUBREL for released ones
// [MQTT-4.4.0-1]. Loop-only.
func (c *Conn) resendInflight() {
	s := c.sess
	for i := range s.Loop.Inflight {
		f := &s.Loop.Inflight[i]
		if f.Released {
			c.out = codec.AppendPubrel(c.out, f.PacketID)
			c.countSent(codec.TypePubrel, 1, 4)
			continue
		}
		c.writePublish(f.Msg, f.QoS, f.Retain, true, f.PacketID) // [MQTT-3.3.1-1]
	}
}

// dropSession removes an ended session's subscriptions from the router, its
// queue from the gauges, and its record from the store. Safe for concurrent
// use once s is removed.
func (e *Engine) dropSession(s *session.Session) {
	s.Lock()
	if e.store != nil && s.DurableLocked() {
		e.store.Apply(session.Op{Kind: session.OpDeleteSession, ClientID: s.ClientID})
		s.SetDurableLocked(false)
	}
	s.Unlock()
	for _, sub := range s.Subscriptions() {
		e.router.remove(sub.TopicFilter, s)
		e.stats.Subscriptions.Add(-1)
	}
	s.Lock()
	n := s.QueueLenLocked()
	s.Unlock()
	e.stats.QueuedNow.Add(-int64(n))
	e.stats.Sessions.Add(-1)
}
