package auth

// CONNACK return codes that Authenticate returns [MQTT-3.2.2.3].
const (
	Accepted       byte = 0x00 // connection accepted
	BadCredentials byte = 0x04 // bad user name or password
	NotAuthorized  byte = 0x05 // not authorized
)

// Credentials is what a CONNECT and its transport say about who a client is.
type Credentials struct {
	ClientID    string
	Username    string // meaningful only when HasUsername
	Password    []byte // meaningful only when HasPassword; read during the call only
	HasUsername bool   // the CONNECT's user name flag
	HasPassword bool   // the CONNECT's password flag
	// TLSCommonName is the CN of a client certificate that the TLS listener
	// verified against -tls-client-ca; empty otherwise.
	TLSCommonName string
}

// Result is what Check decided about one CONNECT.
type Result struct {
	Code byte   // CONNACK return code: Accepted, BadCredentials or NotAuthorized
	User string // the user name for ACLs (Checker.For) and introspection; "" for anonymous
	// Authenticated is true when User was proven: by a password checked
	// against the password file or by a verified client certificate. A user
	// name accepted without a password file is not authenticated.
	Authenticated bool
}

// Authenticate checks CONNECT credentials and returns the CONNACK return
// code and the user name to give For ("" for anonymous). It is Check
// with the fields spelled out; see Check for the rules. It may take tens of
// milliseconds (one bcrypt or argon2id verification): call it off the event
// loops. Safe for concurrent use.
func (c *Checker) Authenticate(clientID, username string, password []byte, hasUsername, hasPassword bool, tlsCommonName string) (code byte, user string) {
	r := c.Check(Credentials{ClientID: clientID, Username: username, Password: password,
		HasUsername: hasUsername, HasPassword: hasPassword, TLSCommonName: tlsCommonName})
	return r.Code, r.User
}

// Check decides whether a CONNECT may proceed, in this order:
//
//   - A verified client certificate (TLSCommonName not empty) is accepted
//     with its CN as the user name, whatever the CONNECT says (mutual TLS;
//     the password file is not consulted).
//   - A password without a user name is BadCredentials (0x04): malformed
//     [MQTT-3.1.2-22], which the decoder normally rejects first.
//   - No user name is an anonymous client: Accepted when anonymous clients
//     are allowed, else NotAuthorized (0x05), "the Client is not authorized
//     to connect" (3.1.1 section 3.2.2.3).
//   - Without a password file a user name cannot be checked: it is Accepted,
//     not authenticated, when anonymous clients are allowed, else
//     NotAuthorized like an anonymous client.
//   - With a password file, an unknown user name, a missing password and a
//     wrong password all get BadCredentials (0x04), "the data in the user
//     name or password is malformed", the same code for each so that the
//     answer does not tell whether the user exists. Neither does the time:
//     an unknown user name is verified against a dummy hash with the
//     parameters most users have, and a missing password against the user's
//     own hash.
//
// clientID does not take part in the decision. It may take tens of
// milliseconds: call it off the event loops. Safe for concurrent use.
func (c *Checker) Check(cr Credentials) Result {
	if cr.TLSCommonName != "" {
		return Result{Code: Accepted, User: cr.TLSCommonName, Authenticated: true}
	}
	if !cr.HasUsername {
		switch {
		case cr.HasPassword: // [MQTT-3.1.2-22]
			return Result{Code: BadCredentials}
		case c.opts.AllowAnonymous:
			return Result{Code: Accepted}
		}
		return Result{Code: NotAuthorized}
	}
	u := c.rules.Load().users
	if u == nil {
		if c.opts.AllowAnonymous {
			return Result{Code: Accepted, User: cr.Username}
		}
		return Result{Code: NotAuthorized}
	}
	h, known := u.hashes[cr.Username]
	if !known {
		h = u.dummy
	}
	ok := h.verify(cr.Password) // always one verification, known user or not
	if !known || !cr.HasPassword || !ok {
		return Result{Code: BadCredentials}
	}
	return Result{Code: Accepted, User: cr.Username, Authenticated: true}
}
