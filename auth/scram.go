package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xdg-go/scram"
	"github.com/xdg-go/stringprep"
)

// SCRAMSHA256 is the name of the SCRAM-SHA-256 mechanism (RFC 7677), as an
// MQTT 5.0 client puts it in the CONNECT's Authentication Method.
const SCRAMSHA256 = "SCRAM-SHA-256"

// Iteration counts of SCRAM-SHA-256 entries. RunPasswd writes
// SCRAMIterations unless -iterations says otherwise: RFC 7677's minimum,
// because the client (often a small device) runs PBKDF2 with this count on
// every connection, and so does the broker when the same user logs in with
// a plain password instead. A password file may hold counts from
// minSCRAMIterations to maxSCRAMIterations; the upper bound keeps one plain
// CONNECT from costing seconds of a worker.
const (
	SCRAMIterations    = 4096
	minSCRAMIterations = 4096
	maxSCRAMIterations = 1 << 20
	scramSaltSize      = 16 // bytes of salt RunPasswd draws
	scramMinSalt       = 8  // bytes, the least a file may hold
	scramPrefix        = "SCRAM-SHA-256$"
)

// MaxSCRAMMessage is the longest SCRAM message, in bytes, that a
// conversation accepts: a client-first-message holds a user name and a
// nonce, a client-final-message the nonces and a proof, each far below
// this. A longer one fails the conversation, so what a client makes the
// broker keep per exchange stays small.
const MaxSCRAMMessage = 2048

// ErrSCRAM is wrapped by every error of a failed SCRAM conversation: a
// malformed message, an unknown user, a user without SCRAM keys, a wrong
// proof. The broker answers them all alike (bad user name or password), so
// a client cannot tell an unknown user from a wrong password.
var ErrSCRAM = errors.New("SCRAM authentication failed")

// scramKeys are the stored SCRAM-SHA-256 credentials of one user (RFC 5802
// section 3): the server keeps StoredKey and ServerKey, never the password.
type scramKeys struct {
	iters     int
	salt      []byte
	storedKey []byte // H(ClientKey)
	serverKey []byte // HMAC(SaltedPassword, "Server Key")
}

// credentials returns k in the form the SCRAM library looks users up in.
func (k *scramKeys) credentials() scram.StoredCredentials {
	return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(k.salt), Iters: k.iters},
		StoredKey: k.storedKey, ServerKey: k.serverKey}
}

// deriveSCRAM computes the SCRAM-SHA-256 keys of password with salt and
// iters: the password is prepared with SASLprep (RFC 4013) as RFC 5802
// asks, then the library runs PBKDF2 and the HMACs. It fails for a password
// SASLprep refuses (control or unassigned characters).
func deriveSCRAM(password []byte, salt []byte, iters int) (*scramKeys, error) {
	pw, err := stringprep.SASLprep.Prepare(string(password))
	if err != nil {
		return nil, errors.New("the password holds characters that SCRAM's SASLprep refuses")
	}
	cl, err := scram.SHA256.NewClientUnprepped("", pw, "")
	if err != nil {
		return nil, err
	}
	sc := cl.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: iters})
	return &scramKeys{iters: iters, salt: salt, storedKey: sc.StoredKey, serverKey: sc.ServerKey}, nil
}

// SCRAMHash returns the password-file form of password's SCRAM-SHA-256 keys
// with a fresh random salt and iters PBKDF2 iterations, in RFC 5803's
// notation: "SCRAM-SHA-256$<iters>:<salt>$<StoredKey>:<ServerKey>", each
// value in padded standard base64. It costs one PBKDF2 run.
func SCRAMHash(password []byte, iters int) (string, error) {
	if iters < minSCRAMIterations || iters > maxSCRAMIterations {
		return "", fmt.Errorf("%d SCRAM iterations, want %d to %d", iters, minSCRAMIterations, maxSCRAMIterations)
	}
	salt := make([]byte, scramSaltSize)
	rand.Read(salt)
	k, err := deriveSCRAM(password, salt, iters)
	if err != nil {
		return "", err
	}
	return k.String(), nil
}

// String renders k in RFC 5803's notation. It holds no password, but the
// keys let anyone who has them pass as the server: treat it as a hash.
func (k *scramKeys) String() string {
	enc := base64.StdEncoding
	return scramPrefix + strconv.Itoa(k.iters) + ":" + enc.EncodeToString(k.salt) + "$" +
		enc.EncodeToString(k.storedKey) + ":" + enc.EncodeToString(k.serverKey)
}

// parseSCRAM reads "SCRAM-SHA-256$<iters>:<salt>$<StoredKey>:<ServerKey>".
// Its errors describe the format, never the keys.
func parseSCRAM(s string) (*hash, error) {
	const want = "malformed SCRAM-SHA-256 entry, want SCRAM-SHA-256$ITERATIONS:SALT$STOREDKEY:SERVERKEY in base64"
	params, keys, ok := strings.Cut(strings.TrimPrefix(s, scramPrefix), "$")
	if !ok {
		return nil, errors.New(want)
	}
	it, salt64, ok1 := strings.Cut(params, ":")
	stored64, server64, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return nil, errors.New(want)
	}
	iters, err := strconv.Atoi(it)
	if err != nil {
		return nil, errors.New(want)
	}
	if iters < minSCRAMIterations || iters > maxSCRAMIterations {
		return nil, fmt.Errorf("SCRAM-SHA-256 iteration count %d, want %d to %d", iters, minSCRAMIterations, maxSCRAMIterations)
	}
	enc := base64.StdEncoding.Strict()
	k := &scramKeys{iters: iters}
	if k.salt, err = enc.DecodeString(salt64); err != nil || len(k.salt) < scramMinSalt || len(k.salt) > maxArgonBytes {
		return nil, fmt.Errorf("malformed SCRAM-SHA-256 entry: salt is not base64 of %d to %d bytes", scramMinSalt, maxArgonBytes)
	}
	if k.storedKey, err = enc.DecodeString(stored64); err != nil || len(k.storedKey) != sha256.Size {
		return nil, fmt.Errorf("malformed SCRAM-SHA-256 entry: StoredKey is not base64 of %d bytes", sha256.Size)
	}
	if k.serverKey, err = enc.DecodeString(server64); err != nil || len(k.serverKey) != sha256.Size {
		return nil, fmt.Errorf("malformed SCRAM-SHA-256 entry: ServerKey is not base64 of %d bytes", sha256.Size)
	}
	return &hash{scram: k}, nil
}

// verifySCRAM reports whether password derives k's StoredKey: a plain
// CONNECT password checked against a SCRAM entry, one PBKDF2 run.
func (k *scramKeys) verify(password []byte) bool {
	d, err := deriveSCRAM(password, k.salt, k.iters)
	if err != nil {
		// Keep the time of a refusal like that of a check.
		d, _ = deriveSCRAM([]byte("x"), k.salt, k.iters)
		subtle.ConstantTimeCompare(d.storedKey, k.storedKey)
		return false
	}
	return subtle.ConstantTimeCompare(d.storedKey, k.storedKey) == 1
}

// dummySCRAM returns keys like k's (iteration count, salt length) for a
// random password.
func dummySCRAM(k *scramKeys) *scramKeys {
	d := &scramKeys{iters: k.iters, salt: make([]byte, len(k.salt)),
		storedKey: make([]byte, sha256.Size), serverKey: make([]byte, sha256.Size)}
	rand.Read(d.salt)
	rand.Read(d.storedKey)
	rand.Read(d.serverKey)
	return d
}

// SCRAM is one SCRAM-SHA-256 conversation on the server side (RFC 5802):
// Step takes the client-first-message and answers the server-first-message,
// then takes the client-final-message and answers the server-final-message.
// It checks the client's proof against the StoredKey of the password file
// in force when the conversation started; verification is a few HMACs, so
// Step is cheap enough to run on an event loop. A user who is not in the
// file, or whose entry is bcrypt or argon2id (the server lacks the keys
// SCRAM needs), gets a made-up salt, stable per user name, and fails at the
// proof like a wrong password. Not safe for concurrent use: one
// conversation belongs to one connection.
type SCRAM struct {
	conv *scram.ServerConversation
	why  string // why the user cannot pass, set by the lookup; "" for a SCRAM user
	user string // the user name proven, once done
	step uint8  // messages taken so far
}

// StartSCRAM begins a SCRAM-SHA-256 conversation against the password file
// in force, or returns nil when there is no password file (the method is not
// offered). Safe for concurrent use.
func (c *Checker) StartSCRAM() *SCRAM {
	u := c.rules.Load().users
	if u == nil {
		return nil
	}
	s := &SCRAM{}
	srv, err := scram.SHA256.NewServer(func(name string) (scram.StoredCredentials, error) {
		h := u.hashes[name]
		switch {
		case h == nil:
			s.why = "unknown user"
		case h.scram == nil:
			s.why = "the user's entry is bcrypt or argon2id, which SCRAM cannot use"
		default:
			return h.scram.credentials(), nil
		}
		return u.fakeSCRAM(name), nil
	})
	if err != nil { // the library never fails here; a conversation without a server would
		panic("auth: scram.NewServer: " + err.Error())
	}
	if testHookSCRAMNonce != nil {
		srv = srv.WithNonceGenerator(testHookSCRAMNonce)
	}
	s.conv = srv.NewConversation()
	return s
}

// testHookSCRAMNonce, when set by a test, makes the server's half of the
// nonce, so that a conversation can be checked against RFC 7677's example.
var testHookSCRAMNonce func() string

// Step takes the client's next SCRAM message and returns the server's
// answer and whether the conversation is over: after the first message
// (client-first) it returns server-first and false, after the second
// (client-final) server-final and true. A failed conversation returns an
// error wrapping ErrSCRAM, whose text names the cause (never a key or
// proof); the caller refuses the client. A message longer than
// MaxSCRAMMessage fails.
func (s *SCRAM) Step(msg []byte) (reply []byte, done bool, err error) {
	if len(msg) > MaxSCRAMMessage {
		return nil, true, fmt.Errorf("%w: message of %d bytes, at most %d", ErrSCRAM, len(msg), MaxSCRAMMessage)
	}
	s.step++
	first := s.step == 1
	if s.step > 2 {
		return nil, true, fmt.Errorf("%w: a message after the conversation ended", ErrSCRAM)
	}
	if first && len(msg) > 0 && msg[0] == ',' {
		// The library indexes the GS2 channel binding flag without checking
		// that it is there: an empty one would panic inside it.
		return nil, true, fmt.Errorf("%w: client-first-message: empty channel binding flag, want n, y or p=", ErrSCRAM)
	}
	out, err := s.conv.Step(string(msg))
	switch {
	case err != nil && first:
		return nil, true, fmt.Errorf("%w: client-first-message: %v", ErrSCRAM, err)
	case first && s.conv.AuthzID() != "" && s.conv.AuthzID() != s.conv.Username():
		return nil, true, fmt.Errorf("%w: authorization identity %s differs from user name %s", ErrSCRAM,
			quote(s.conv.AuthzID()), quote(s.conv.Username()))
	case first:
		return []byte(out), false, nil
	case err != nil && s.why != "":
		return nil, true, fmt.Errorf("%w: user %s: %s", ErrSCRAM, quote(s.conv.Username()), s.why)
	case err != nil:
		return nil, true, fmt.Errorf("%w: user %s: %v", ErrSCRAM, quote(s.conv.Username()), err)
	case !s.conv.Valid():
		return nil, true, fmt.Errorf("%w: user %s: conversation ended without a valid proof", ErrSCRAM, quote(s.conv.Username()))
	}
	s.user = s.conv.Username()
	return []byte(out), true, nil
}

// User returns the user name the conversation proved, or "" before a
// successful final Step.
func (s *SCRAM) User() string { return s.user }

// fakeSCRAM returns credentials for a user who cannot use SCRAM: a salt
// derived from the user name with a key drawn when the file was read, so
// that asking twice gives the same salt, as for a real user; the iteration
// count most SCRAM users have; random keys no proof matches.
func (u *users) fakeSCRAM(name string) scram.StoredCredentials {
	m := hmac.New(sha256.New, u.fakeKey[:])
	m.Write([]byte(name))
	salt := m.Sum(nil)[:scramSaltSize]
	k := scramKeys{iters: u.scramIters, salt: salt, storedKey: make([]byte, sha256.Size), serverKey: make([]byte, sha256.Size)}
	rand.Read(k.storedKey)
	rand.Read(k.serverKey)
	return k.credentials()
}
