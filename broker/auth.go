package broker

import (
	"errors"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
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

// Authentication runs on a fixed pool of worker goroutines fed by a bounded
// queue, so a flood of CONNECTs costs neither a goroutine each nor unbounded
// memory: authWorkersPerLoop workers per event loop hash passwords (bcrypt
// and argon2id are CPU- or memory-bound, so more would only queue in the
// scheduler), and up to authQueuePerWorker CONNECTs per worker wait their
// turn. A CONNECT that finds the queue full is refused at once with CONNACK
// 0x03 (server unavailable) and counted in stats.Loop.Unavailable.
const (
	connServerUnavailable = 0x03 // CONNACK return code [MQTT-3.2.2.3]

	authWorkersPerLoop = 2
	authQueuePerWorker = 16
)

// authJob is one CONNECT waiting for its verdict. password is a copy,
// cleared once checked.
type authJob struct {
	c                *Conn
	id, username     string
	password         []byte
	hasUser, hasPass bool
}

// SetAuthorizer makes the engine check every CONNECT, SUBSCRIBE and
// PUBLISH with a, and starts the authentication workers, which stop at
// Shutdown. Call it once, before Start.
func (e *Engine) SetAuthorizer(a Authorizer) {
	e.auth = a
	workers := authWorkersPerLoop * e.cfg.loops()
	e.authQueue = make(chan authJob, authQueuePerWorker*workers)
	for range workers {
		go e.authWorker()
	}
}

// authWorker checks queued CONNECTs until the engine stops.
func (e *Engine) authWorker() {
	for {
		select {
		case <-e.stop:
			return
		case j := <-e.authQueue:
			e.check(j)
		}
	}
}

// check runs one authentication and hands the verdict to the connection's
// loop. A connection that closed while it waited is skipped: no hashing
// for a client that has gone.
func (e *Engine) check(j authJob) {
	c := j.c
	if c.closeReason.Load() != 0 {
		clear(j.password)
		return
	}
	code, user, proven := e.auth.Authenticate(j.id, j.username, j.password, j.hasUser, j.hasPass, c.tlsCN())
	clear(j.password)
	c.ls.loop.Execute(func() {
		c.afterAuth(j.id, code, user, proven)
		c.ls.flush()
	})
}

// authenticate queues the CONNECT in p for an authentication worker; the
// verdict continues it on the loop (afterAuth). With the queue full it
// refuses the CONNECT with 0x03 at once. Loop-only.
func (c *Conn) authenticate(p *codec.Connect, id string) {
	j := authJob{c: c, id: id, username: string(p.Username), password: append([]byte(nil), p.Password...),
		hasUser: p.UsernameFlag, hasPass: p.PasswordFlag}
	select {
	case c.e.authQueue <- j:
		c.state = stateConnecting // input waits until the verdict, within holdsTooMuch
	default:
		clear(j.password)
		c.ls.st.Unavailable.Add(1)
		c.writeConnack(false, connServerUnavailable) // [MQTT-3.2.2-5] then close
		c.e.log.clientError(c.addr, codec.TypeConnect, errors.New("broker: CONNECT refused: server unavailable, authentication queue full"))
		c.closeWith(session.ReasonProtocolError, "server unavailable: authentication queue full", false)
	}
}

// holdsTooMuch closes the connection when more than -max-packet-size bytes
// of input have piled up while its CONNECT waits for a verdict (a password
// check or a takeover): what a client can make the broker hold before it
// is even accepted stays bounded. It is counted and logged as a protocol
// error. buffered is the transport's input not yet consumed. Loop-only.
func (c *Conn) holdsTooMuch(buffered int) bool {
	if c.state != stateConnecting || buffered <= c.e.cfg.MaxPacketSize {
		return false
	}
	c.fail(codec.TypeReserved, &codec.Error{Type: codec.TypeReserved, Field: "input", Offset: buffered,
		Detail: "more than -max-packet-size bytes sent while the CONNECT awaits its verdict", Err: codec.ErrProtocol})
	return true
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
	c.permsGen = uint32(c.e.auth.Generation())
	c.claimOwned(id)
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
	if g := uint32(c.e.auth.Generation()); g != c.permsGen { // 2^32 reloads would wrap: none happen
		c.perms, c.permsGen = c.e.auth.For(c.meta.Username, c.sess.ClientID), g
	}
	return c.perms
}
