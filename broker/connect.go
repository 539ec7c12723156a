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
	if _, err := p.DecodeV(frame, codec.ProtocolLevel5); err != nil {
		var ce *codec.Error
		switch level := connectLevel(frame); {
		case level == codec.ProtocolLevel5:
			// A malformed 5.0 CONNECT gets CONNACK with its reason [MQTT5-3.1.4-2].
			c.out = codec.AppendConnackV5(c.out, false, codec.ReasonFor(err), nil)
			c.countSent(codec.TypeConnack, 0, 5)
		case errors.As(err, &ce) && ce.Rule == "MQTT-3.1.2-2" && level > codec.ProtocolLevel5:
			// A level newer than 5.0 is refused in 5.0 form [MQTT5-3.1.2-2].
			c.out = codec.AppendConnackV5(c.out, false, codec.ReasonUnsupportedProtocolVersion, nil)
			c.countSent(codec.TypeConnack, 0, 5)
		case errors.As(err, &ce) && ce.Rule == "MQTT-3.1.2-2": // an older level [MQTT-3.1.2-2]
			c.writeConnack(false, connBadProtocol)
		}
		c.fail(codec.TypeConnect, err)
		return
	}
	id := string(p.ClientID)
	v5 := p.ProtocolLevel == codec.ProtocolLevel5
	if v5 {
		c.v5 = v5On // CONNACK in 5.0 form from here on
	}
	assigned := false
	if id == "" {
		if !p.CleanSession && !v5 { // [MQTT-3.1.3-8]; 5.0 assigns one whatever Clean Start [MQTT5-3.1.3-6]
			c.rejectConnect(connIdentifierRejects, "empty client ID with CleanSession 0 [MQTT-3.1.3-8]")
			return
		}
		id, assigned = assignClientID(), true // [MQTT-3.1.3-6]
	}
	c.traceID = id
	if len(id) > c.e.cfg.MaxClientIDLen {
		c.rejectConnect(connIdentifierRejects, "client ID longer than -max-client-id-len")
		return
	}
	c.meta = &session.ConnMeta{Address: c.addr, ProtocolVersion: p.ProtocolLevel, KeepAlive: p.KeepAlive,
		CleanSession: p.CleanSession, Username: string(p.Username), Listener: c.listener()}
	if v5 {
		c.connectV5(p, assigned)
		c.meta.V5 = session.NewConnV5(&p.Props) // for the admin API only (v5info.go)
	} else if !p.CleanSession { // a 3.1.1 persistent session is kept for -session-expiry
		c.meta.SessionExpiry = int64(c.e.cfg.SessionExpiry / time.Second)
	}
	if cn := c.tlsCN(); cn != "" && !p.UsernameFlag {
		// A verified client certificate names the user (mutual TLS).
		c.meta.Username, c.meta.Authenticated = cn, true
	}
	if v5 {
		if rc, why := c.e.willRefusal(p); rc != 0 { // capabilities.go
			c.rejectConnectV5(rc, why)
			return
		}
	}
	if p.WillFlag {
		c.will = c.newWill(p) // willdelay.go
		c.meta.Will = c.will
	}
	c.connectSize = uint32(len(frame))
	if v5 && p.Props.Has(codec.PropAuthMethod) { // enhanced authentication (enhauth.go)
		c.startExchange(p, id)
		return
	}
	c.setKeepAlive(c.keepAliveOf(p.KeepAlive)) // a 5.0 client may be given the server's [MQTT5-3.2.2-21]
	if c.e.auth != nil {
		c.authenticate(p, id)
		return
	}
	c.state = stateConnecting
	c.claimOwned(id)
}

// rejectConnect answers CONNACK with a refusal code and closes [MQTT-3.2.2-5].
func (c *Conn) rejectConnect(code byte, why string) {
	c.writeConnack(false, code)
	c.traceRefused(code)
	c.ls.st.ProtocolErrors.Add(1)
	c.e.log.clientError(c.addr, codec.TypeConnect, errors.New("broker: CONNECT refused: "+why))
	c.closeWith(session.ReasonProtocolError, why, false)
}

func (c *Conn) writeConnack(present bool, code byte) {
	if c.v5&v5On != 0 {
		c.writeConnackV5(present, code)
		return
	}
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
		s, created := e.reg.Open(id, e.nowMillis())
		if created {
			e.stats.Sessions.Add(1)
		}
		var ok bool
		if old, ok = s.Claim(c, c.addr, e.nowMillis()); ok {
			c.sess = s
			break
		} // expired or ended meanwhile: start again with a new one
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
	if c.state == stateClosed { // the network went away while waiting
		c.settleAbandoned(s.ClientID)
		c.sess = nil
		if s.Abandon(c, (c.meta.CleanSession || c.v5&v5On != 0) && c.meta.SessionExpiry == 0) {
			c.e.dropSession(s)
		}
		return
	}
	a, ok := s.Attach(c, c.meta, c.e.nowMillis())
	if !ok { // a newer CONNECT claimed it meanwhile
		c.settleAbandoned(s.ClientID)
		c.sess = nil
		c.closeReason.Store(uint32(session.ReasonTakenOver))
		c.state = stateClosed
		c.t.Close()
		return
	}
	for _, sub := range a.Dropped {
		c.e.router.remove(sub.TopicFilter, s)
		c.e.stats.Subscriptions.Add(-1)
	}
	c.resumeWill(s) // a will held for its delay: cancelled or published [MQTT5-3.1.3-9]
	c.state = stateConnected
	c.clusterWillAttached() // in a cluster: replicated for the survivors (clusterwill.go)
	s.Counters.Received.Add(codec.TypeConnect, 0, int(c.connectSize))
	c.ls.st.Connects.Add(1)
	c.writeConnack(a.Present, connAccepted) // [MQTT-3.2.0-1]
	c.exchangeAttached(s)
	c.traceConnect()
	c.resend(a.Resend)
	c.needPump = true
	c.ls.touch(c)
	c.settleOwned() // in a cluster: closed at once if another node claimed the client meanwhile
}

// resend re-sends the in-flight window of a resumed session: PUBLISH with
// DUP 1 for unacknowledged messages, PUBREL for released ones
// [MQTT-4.4.0-1]. Loop-only.
func (c *Conn) resend(window []session.Inflight) {
	for i := range window {
		f := &window[i]
		if f.Released {
			c.out = codec.AppendPubrel(c.out, f.PacketID)
			c.countSent(codec.TypePubrel, 1, 4)
			continue
		}
		c.writePublish(f.Msg, f.QoS, f.Retain, true, f.PacketID, f.Via) // [MQTT-3.3.1-1]
		c.traceResend(f.Msg)
	}
}

// dropSession removes an ended session's subscriptions from the router and
// its count from the gauges, after Session.End released the rest. Safe for
// concurrent use once s has ended.
func (e *Engine) dropSession(s *clientSession) {
	e.wills.sessionEnded(s) // its held will is due [MQTT5-3.1.2-8]
	for _, sub := range s.End() {
		e.router.remove(sub.TopicFilter, s)
		e.stats.Subscriptions.Add(-1)
	}
	e.stats.Sessions.Add(-1)
	e.forgetOwned(s.ClientID)
}
