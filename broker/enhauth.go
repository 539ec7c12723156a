package broker

import (
	"errors"
	"fmt"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// EnhancedAuth offers MQTT 5.0 enhanced authentication methods [MQTT5-4.12]:
// a CONNECT naming one in its Authentication Method is proven by an
// exchange of AUTH packets instead of by its password. cmd/glassmq adapts
// auth.Checker's SCRAM-SHA-256 to it. Implementations are safe for
// concurrent use.
type EnhancedAuth interface {
	// Start begins a conversation of method, or returns nil when the
	// broker does not offer method (CONNACK 0x8C). The engine calls it on
	// an event loop: it must be cheap.
	Start(method string) AuthExchange
}

// AuthExchange is one conversation of an enhanced authentication method,
// owned by one connection's event loop. Its Steps run on that loop, so each
// must cost microseconds, not a password hash: SCRAM's server checks HMACs
// of stored keys. Not safe for concurrent use.
type AuthExchange interface {
	// Step takes the client's Authentication Data (nil when it sent none)
	// and returns the server's. With done false the server sends reply in
	// AUTH 0x18 and waits for the client's next AUTH; with done true and a
	// nil error the client is proven as User and reply goes in the CONNACK
	// (AUTH 0x00 on re-authentication); an error refuses the client, its
	// text logged (it must hold no secret).
	Step(data []byte) (reply []byte, done bool, err error)
	// User returns the user name proven by a successful final Step.
	User() string
}

// SetEnhancedAuth makes the engine offer a's methods to MQTT 5.0 clients.
// Without it, a CONNECT with an Authentication Method gets CONNACK 0x8C.
// Call it once, before Start.
func (e *Engine) SetEnhancedAuth(a EnhancedAuth) { e.enhanced = a }

// exchange is a connection's enhanced authentication in progress, kept in
// its loop's exchanges map from the CONNECT until the CONNACK (or from the
// client's AUTH 0x19 until the server's AUTH 0x00), and dropped when the
// connection closes: idle connections pay nothing for it. What it holds is
// bounded by the method (SCRAM: two messages of at most
// auth.MaxSCRAMMessage bytes). Loop-owned.
type exchange struct {
	x         AuthExchange
	method    string
	reauth    bool   // re-authentication of a connected client; else the CONNECT's
	id        string // CONNECT: the client ID to claim once proven
	user      string // CONNECT: its User Name, which must be the one proven
	hasUser   bool   // CONNECT: it had a User Name
	keepAlive uint16 // CONNECT: applied once proven, so -connect-timeout covers the exchange
	final     []byte // CONNECT: the server's last data, for the CONNACK
	// AUTH packets of a CONNECT's exchange, added to the session's counters
	// once it is attached (there is no session before).
	recvN, sentN         uint32
	recvBytes, sentBytes uint32
}

// startExchange begins the enhanced authentication that the 5.0 CONNECT p
// asks for with its Authentication Method; id is the client ID to claim.
// A method the broker does not offer is refused with CONNACK 0x8C
// [MQTT5-4.12.0-1]. Loop-only.
func (c *Conn) startExchange(p *codec.Connect, id string) {
	method := string(p.Props.AuthMethod)
	var x AuthExchange
	if c.e.enhanced != nil {
		x = c.e.enhanced.Start(method)
	}
	if x == nil { // [MQTT5-4.12.0-1]
		c.refuseV5(codec.ReasonBadAuthenticationMethod,
			fmt.Errorf("broker: CONNECT refused: authentication method %s not offered [MQTT5-4.12.0-1]", quote(method)))
		return
	}
	ex := &exchange{x: x, method: method, id: id, user: string(p.Username), hasUser: p.UsernameFlag, keepAlive: c.keepAliveOf(p.KeepAlive)}
	if c.ls.exchanges == nil {
		c.ls.exchanges = make(map[*Conn]*exchange)
	}
	c.ls.exchanges[c] = ex
	c.state = stateAuthenticating // only AUTH and DISCONNECT until CONNACK [MQTT5-3.1.2-30]
	c.stepExchange(ex, p.Props.AuthData)
}

// stepExchange hands the client's data to the method and acts on its
// answer. Loop-only.
func (c *Conn) stepExchange(ex *exchange, data []byte) {
	reply, done, err := ex.x.Step(data)
	switch {
	case err != nil && ex.reauth:
		c.reauthFailed(err)
	case err != nil: // the server may refuse at any point [MQTT5-4.12.0-4]
		delete(c.ls.exchanges, c)
		c.refuseV5(codec.ReasonBadUserNameOrPassword, fmt.Errorf("broker: CONNECT refused: %s: %w", ex.method, err))
	case !done: // AUTH 0x18 with the same method [MQTT5-4.12.0-2], [MQTT5-4.12.0-5]
		c.writeAuth(ex, codec.ReasonContinueAuthentication, reply)
	case ex.reauth:
		c.reauthDone(ex, reply)
	default:
		c.exchangeProven(ex, reply)
	}
}

// exchangeProven accepts the CONNECT whose exchange proved its user, as
// afterAuth accepts a password: permissions for the user, then the
// session is claimed and CONNACK carries the method and the server's last
// data [MQTT5-4.12.0-5]. Loop-only.
func (c *Conn) exchangeProven(ex *exchange, final []byte) {
	user := ex.x.User()
	if ex.hasUser && ex.user != user {
		delete(c.ls.exchanges, c)
		c.refuseV5(codec.ReasonBadUserNameOrPassword, fmt.Errorf("broker: CONNECT refused: %s proved user %s, the CONNECT names %s",
			ex.method, quote(user), quote(ex.user)))
		return
	}
	ex.final = final
	c.meta.Username, c.meta.Authenticated = user, true // the method is the CONNECT's (meta.AuthMethod)
	c.setKeepAlive(ex.keepAlive)
	if c.e.auth != nil {
		c.perms = c.e.auth.For(user, ex.id)
		c.permsGen = uint32(c.e.auth.Generation())
	}
	c.state = stateConnecting
	c.claim(ex.id) // finishConnect writes the CONNACK (connackAuth), then exchangeAttached
}

// connackAuth adds the Authentication Method and the server's final data
// of the CONNECT's exchange to a successful CONNACK [MQTT5-4.12.0-5]; a
// CONNECT without one gets neither [MQTT5-4.12.0-6]. Loop-only.
func (c *Conn) connackAuth(pr *codec.Properties) {
	ex := c.ls.exchanges[c]
	if ex == nil || ex.reauth {
		return
	}
	pr.AuthMethod = []byte(ex.method)
	pr.Set(codec.PropAuthMethod)
	if len(ex.final) > 0 {
		pr.AuthData = ex.final
		pr.Set(codec.PropAuthData)
	}
}

// exchangeAttached ends the CONNECT's exchange once the session is
// attached: its AUTH packets join the session's counters, as the CONNECT
// does. Loop-only.
func (c *Conn) exchangeAttached(s *clientSession) {
	ex := c.ls.exchanges[c]
	if ex == nil || ex.reauth {
		return
	}
	delete(c.ls.exchanges, c)
	if ex.recvN > 0 {
		s.Counters.Received.AddN(codec.TypeAuth, 0, uint64(ex.recvN), uint64(ex.recvBytes))
	}
	if ex.sentN > 0 {
		s.Counters.Sent.AddN(codec.TypeAuth, 0, uint64(ex.sentN), uint64(ex.sentBytes))
	}
}

// dropExchange forgets the connection's exchange, if any, when it closes.
// Loop-only.
func (c *Conn) dropExchange() {
	if c.ls.exchanges != nil {
		delete(c.ls.exchanges, c)
	}
}

// writeAuth appends an AUTH with reason code rc, the exchange's method and
// data. Loop-only.
func (c *Conn) writeAuth(ex *exchange, rc codec.ReasonCode, data []byte) {
	var pr codec.Properties
	pr.AuthMethod = []byte(ex.method)
	pr.Set(codec.PropAuthMethod)
	if len(data) > 0 {
		pr.AuthData = data
		pr.Set(codec.PropAuthData)
	}
	n := len(c.out)
	c.out = codec.AppendAuth(c.out, rc, &pr)
	size := len(c.out) - n
	c.countSent(codec.TypeAuth, 0, size)
	if c.sess == nil { // the CONNECT's exchange: the session counts it once attached
		ex.sentN++
		ex.sentBytes += uint32(size)
	}
}

// refuseV5 answers a 5.0 CONNECT with CONNACK reason rc and closes, like
// rejectConnect for reasons that have no 3.1.1 return code. Loop-only.
func (c *Conn) refuseV5(rc codec.ReasonCode, err error) {
	n := len(c.out)
	c.out = codec.AppendConnackV5(c.out, false, rc, nil)
	c.countSent(codec.TypeConnack, 0, len(c.out)-n)
	c.traceRefused(connackNotAuthorized)
	c.ls.st.ProtocolErrors.Add(1)
	c.e.log.clientError(c.addr, codec.TypeConnect, err)
	c.closeWith(session.ReasonProtocolError, err.Error(), false)
}

// connackNotAuthorized is 3.1.1's "not authorized" return code, which
// traces file every authentication refusal under.
const connackNotAuthorized = 5

// failConnecting closes a connection whose CONNECT awaits its CONNACK for
// a bad packet: CONNACK with the reason code of err [MQTT5-4.13.1-1]
// (there is no DISCONNECT before CONNACK), then fail. Loop-only.
func (c *Conn) failConnecting(t codec.Type, err error) {
	n := len(c.out)
	c.out = codec.AppendConnackV5(c.out, false, codec.ReasonFor(err), nil)
	c.countSent(codec.TypeConnack, 0, len(c.out)-n)
	c.fail(t, err)
}

// handleExchangeFrame takes a packet sent during the CONNECT's exchange:
// AUTH 0x18 continues it, DISCONNECT ends the connection, anything else is
// a protocol error [MQTT5-3.1.2-30]. Loop-only.
func (c *Conn) handleExchangeFrame(frame []byte) {
	t := codec.PacketType(frame)
	c.ls.recv.Add(t, 0, len(frame))
	ex := c.ls.exchanges[c]
	if ex == nil { // an invariant: the state and the entry are set and dropped together
		panic("broker: connection authenticating without an exchange")
	}
	switch t {
	case codec.TypeAuth:
		ex.recvN++
		ex.recvBytes += uint32(len(frame))
		a, err := c.decodeAuth(frame, ex.method)
		if err == nil && a.ReasonCode != codec.ReasonContinueAuthentication { // [MQTT5-4.12.0-3]
			err = authError(fmt.Sprintf("reason code %#02x before CONNACK, want 0x18 [MQTT5-4.12.0-3]", byte(a.ReasonCode)), 2)
		}
		if err != nil {
			c.failConnecting(t, err)
			return
		}
		c.stepExchange(ex, a.Props.AuthData)
	case codec.TypeDisconnect:
		var d codec.Disconnect
		if _, err := d.DecodeV(frame, codec.ProtocolLevel5); err != nil {
			c.failConnecting(t, err)
			return
		}
		c.closeWith(session.ReasonClient, "", false)
	default: // [MQTT5-3.1.2-30]
		c.failConnecting(t, &codec.Error{Type: t, Field: "packet type",
			Detail: fmt.Sprintf("%s during enhanced authentication, want AUTH or DISCONNECT [MQTT5-3.1.2-30]", t), Err: codec.ErrProtocol})
	}
}

// handleAuth takes an AUTH from a connected 5.0 client: 0x19 starts a
// re-authentication with the CONNECT's method [MQTT5-4.12.1-1], 0x18
// continues one. AUTH from a client whose CONNECT had no Authentication
// Method is a protocol error [MQTT5-4.12.0-7], and so is another method
// [MQTT5-4.12.1-1]. Meanwhile other packets flow as before. Loop-only.
func (c *Conn) handleAuth(frame []byte) {
	if c.meta.AuthMethod() == "" { // [MQTT5-4.12.0-7]
		var a codec.Auth
		if _, err := a.Decode(frame); err != nil {
			c.fail(codec.TypeAuth, err)
			return
		}
		c.fail(codec.TypeAuth, authError("AUTH from a client whose CONNECT had no authentication method [MQTT5-4.12.0-7]", 0))
		return
	}
	a, err := c.decodeAuth(frame, c.meta.AuthMethod())
	if err != nil {
		c.fail(codec.TypeAuth, err)
		return
	}
	ex := c.ls.exchanges[c]
	switch {
	case a.ReasonCode == codec.ReasonReAuthenticate && ex != nil:
		c.fail(codec.TypeAuth, authError("AUTH 0x19 while a re-authentication is in progress, want 0x18", 2))
		return
	case a.ReasonCode == codec.ReasonReAuthenticate:
		var x AuthExchange
		if c.e.enhanced != nil {
			x = c.e.enhanced.Start(c.meta.AuthMethod()) // offered at CONNECT, offered still
		}
		if x == nil {
			c.reauthFailed(errors.New("the method is no longer offered"))
			return
		}
		ex = &exchange{x: x, method: c.meta.AuthMethod(), reauth: true}
		if c.ls.exchanges == nil {
			c.ls.exchanges = make(map[*Conn]*exchange)
		}
		c.ls.exchanges[c] = ex
	case a.ReasonCode == codec.ReasonContinueAuthentication && ex != nil:
	default: // 0x18 with nothing to continue, or 0x00, which only the server sends
		c.fail(codec.TypeAuth, authError(fmt.Sprintf("reason code %#02x without a re-authentication in progress, want 0x19", byte(a.ReasonCode)), 2))
		return
	}
	c.stepExchange(ex, a.Props.AuthData)
}

// decodeAuth decodes the AUTH frame into the loop's scratch and checks
// that it names method [MQTT5-4.12.0-5], [MQTT5-4.12.1-1]. The returned
// packet's views are valid while the frame is handled. Loop-only.
func (c *Conn) decodeAuth(frame []byte, method string) (*codec.Auth, error) {
	a := &c.ls.auth
	if _, err := a.Decode(frame); err != nil {
		return nil, err
	}
	if !a.Props.Has(codec.PropAuthMethod) || string(a.Props.AuthMethod) != method {
		return nil, authError(fmt.Sprintf("authentication method %s, want %s of the CONNECT [MQTT5-4.12.0-5] [MQTT5-4.12.1-1]",
			quote(string(a.Props.AuthMethod)), quote(method)), 2)
	}
	return a, nil
}

// authError is a protocol error in an AUTH packet at byte offset.
func authError(detail string, offset int) error {
	return &codec.Error{Type: codec.TypeAuth, Field: "authentication", Offset: offset, Detail: detail, Err: codec.ErrProtocol}
}

// reauthDone ends a successful re-authentication with AUTH 0x00 and the
// server's final data [MQTT5-4.12.1-1]. Proving another user than the one
// connected is refused: the session's permissions and introspection name
// that user. Loop-only.
func (c *Conn) reauthDone(ex *exchange, final []byte) {
	delete(c.ls.exchanges, c)
	if u := ex.x.User(); u != c.meta.Username {
		c.reauthFailed(fmt.Errorf("proved user %s, the connection is %s's", quote(u), quote(c.meta.Username)))
		return
	}
	c.writeAuth(ex, codec.ReasonSuccess, final)
}

// reauthFailed closes a connection whose re-authentication failed, with
// DISCONNECT 0x87 [MQTT5-4.12.1-2] (0x86, Bad user name or password, is not
// a DISCONNECT reason code); its will is published. Loop-only.
func (c *Conn) reauthFailed(err error) {
	delete(c.ls.exchanges, c)
	c.serverDisconnect(codec.ReasonNotAuthorized, "re-authentication failed") // [MQTT5-4.12.1-2]
	c.ls.st.ProtocolErrors.Add(1)
	err = fmt.Errorf("broker: re-authentication failed: %w", err)
	c.e.log.clientErrorFor(c.clientID(), c.addr, codec.TypeAuth, err)
	c.closeWith(session.ReasonProtocolError, err.Error(), true)
}

// quote renders client text with %q, cut to 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}
