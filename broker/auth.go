package broker

import (
	"github.com/glassmq/glassmq/codec"
)

// Authorizer decides who may connect and what each client may do.
// cmd/glassmq adapts auth.Checker to it. Implementations are safe for
// concurrent use.
type Authorizer interface {
	// Authenticate checks CONNECT credentials and returns the CONNACK
	// return code (0 accepted, 4 bad user name or password, 5 not
	// authorized), the user name in force ("" for anonymous), and whether
	// that name was proven (by password or client certificate). It may be
	// slow (password hashing): the engine never calls it on an event loop.
	Authenticate(clientID, username string, password []byte, hasUsername, hasPassword bool, tlsCommonName string) (code byte, user string, authenticated bool)
	// For returns one client's permissions, cached on its connection.
	For(user, clientID string) Permissions
	// Generation changes when the rules are reloaded.
	Generation() uint64
}

// Permissions are one client's compiled rules. CanPublish runs once per
// PUBLISH and must not allocate.
type Permissions interface {
	// CanSubscribe decides a SUBSCRIBE filter: refused (granted false),
	// granted, or granted filtered when rules deny some, not all, of the
	// topic names it matches.
	CanSubscribe(filter string) (granted, filtered bool)
	CanPublish(topic []byte) bool
	// CanReceive reports whether a message on topic may be delivered
	// through a filtered subscription. The router calls it per delivery,
	// for filtered subscriptions only; it must not allocate.
	CanReceive(topic []byte) bool
}

// SetAuthorizer makes the engine check every CONNECT, SUBSCRIBE and
// PUBLISH with a. Call it before Start.
func (e *Engine) SetAuthorizer(a Authorizer) {
	e.auth = a
	e.authSlots = make(chan struct{}, 2*e.cfg.loops())
}

// authenticate checks the CONNECT in p off the event loop, then continues
// it on the loop. Loop-only.
func (c *Conn) authenticate(p *codec.Connect, id string) {
	username, password := string(p.Username), append([]byte(nil), p.Password...)
	hasUser, hasPass := p.UsernameFlag, p.PasswordFlag
	c.state = stateConnecting // input waits until the verdict
	e := c.e
	go func() {
		e.authSlots <- struct{}{} // bound concurrent password hashing
		code, user, proven := e.auth.Authenticate(id, username, password, hasUser, hasPass, c.tlsCN)
		<-e.authSlots
		clear(password)
		c.ls.loop.Execute(func() {
			c.afterAuth(id, code, user, proven)
			c.ls.flush()
		})
	}()
}

// afterAuth accepts or refuses the CONNECT on the verdict. Loop-only.
func (c *Conn) afterAuth(id string, code byte, user string, proven bool) {
	if c.state == stateClosed {
		return // the network went away while the password was checked
	}
	if code != connAccepted {
		why := "not authorized"
		if code == 4 {
			why = "bad user name or password"
		}
		c.rejectConnect(code, why)
		return
	}
	c.meta.Username = user
	c.meta.Authenticated = proven
	c.perms = c.e.auth.For(user, id)
	c.permsGen = c.e.auth.Generation()
	c.claim(id)
	if c.state == stateConnected && len(c.t.Peek()) > 0 && c.OnTraffic() {
		c.t.Close()
	}
}

// permissions returns the connection's permissions, refreshed after a
// reload; nil when no Authorizer is set. Loop-only.
func (c *Conn) permissions() Permissions {
	if c.e.auth == nil {
		return nil
	}
	if g := c.e.auth.Generation(); g != c.permsGen {
		c.perms, c.permsGen = c.e.auth.For(c.meta.Username, c.sess.ClientID), g
	}
	return c.perms
}
