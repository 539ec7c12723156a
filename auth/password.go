package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Limits on argon2id parameters read from a password file. Every CONNECT
// with a password runs one verification, so a typo such as m=4000000000
// would otherwise let each CONNECT allocate 4 TiB.
const (
	maxArgonMemory = 1 << 20 // KiB, 1 GiB
	maxArgonTime   = 64
	minArgonSalt   = 8  // bytes
	minArgonKey    = 16 // bytes
	maxArgonBytes  = 1024
)

// hash is one stored password hash: bcrypt, argon2id or SCRAM-SHA-256 keys,
// ready to verify.
type hash struct {
	bcrypt []byte // the whole "$2b$10$..." text; nil for the others
	// argon2id parameters, salt and derived key
	time, memory uint32
	threads      uint8
	salt, key    []byte
	scram        *scramKeys // SCRAM-SHA-256 keys (scram.go); nil for bcrypt and argon2id
}

// testHookVerify, when set by a test, is called with the hash of every
// verification, so that a test can count them and see their parameters
// (unknown users must cost one too).
var testHookVerify func(*hash)

// verify reports whether password hashes to h, in time that depends on h's
// parameters and the password's length only.
func (h *hash) verify(password []byte) bool {
	if testHookVerify != nil {
		testHookVerify(h)
	}
	if h.bcrypt != nil {
		return bcrypt.CompareHashAndPassword(h.bcrypt, password) == nil
	}
	if h.scram != nil {
		return h.scram.verify(password)
	}
	k := argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(k, h.key) == 1
}

// params names h's algorithm and cost, so that the dummy hash for unknown
// users can take the cost most users have.
func (h *hash) params() string {
	if h.bcrypt != nil {
		c, _ := bcrypt.Cost(h.bcrypt)
		return "bcrypt " + strconv.Itoa(c)
	}
	if h.scram != nil {
		return "scram-sha-256 i=" + strconv.Itoa(h.scram.iters)
	}
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d salt=%d key=%d", h.memory, h.time, h.threads, len(h.salt), len(h.key))
}

// dummyLike returns a hash of a random password with h's parameters (bcrypt
// at the default cost when h is nil), against which unknown users are
// verified so that their CONNECT takes as long as a known user's.
func dummyLike(h *hash) (*hash, error) {
	pw := make([]byte, 16)
	rand.Read(pw)
	if h != nil && h.scram != nil {
		return &hash{scram: dummySCRAM(h.scram)}, nil
	}
	if h == nil || h.bcrypt != nil {
		cost := bcrypt.DefaultCost
		if h != nil {
			cost, _ = bcrypt.Cost(h.bcrypt)
		}
		b, err := bcrypt.GenerateFromPassword(pw, cost)
		if err != nil {
			return nil, err
		}
		return &hash{bcrypt: b}, nil
	}
	d := &hash{time: h.time, memory: h.memory, threads: h.threads, salt: make([]byte, len(h.salt))}
	rand.Read(d.salt)
	d.key = argon2.IDKey(pw, d.salt, d.time, d.memory, d.threads, uint32(len(h.key)))
	return d, nil
}

// parseHash reads a bcrypt, argon2id or SCRAM-SHA-256 hash in its usual text form. Its
// errors describe the format, never the hash itself.
func parseHash(s string) (*hash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, errors.New("argon2i and argon2d hashes are not supported, want argon2id")
	case strings.HasPrefix(s, scramPrefix):
		return parseSCRAM(s)
	}
	return nil, errors.New("unknown hash format, want bcrypt ($2a$, $2b$, $2y$), argon2id ($argon2id$) or SCRAM-SHA-256$")
}

const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseBcrypt checks "$2b$CC$" + 22 characters of salt + 31 of hash.
func parseBcrypt(s string) (*hash, error) {
	if len(s) != 60 || s[6] != '$' {
		return nil, errors.New("malformed bcrypt hash, want 60 characters: $2b$, a two-digit cost, '$', 53 characters of salt and hash")
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil || cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("malformed bcrypt hash: cost %q, want %02d to %d", s[4:6], bcrypt.MinCost, bcrypt.MaxCost)
	}
	for i := 7; i < len(s); i++ {
		if strings.IndexByte(bcryptAlphabet, s[i]) < 0 {
			return nil, errors.New("malformed bcrypt hash: a character outside bcrypt's base64 alphabet")
		}
	}
	if _, err := bcrypt.Cost([]byte(s)); err != nil {
		return nil, errors.New("malformed bcrypt hash")
	}
	return &hash{bcrypt: []byte(s)}, nil
}

// parseArgon2id reads the PHC string format
// "$argon2id$v=19$m=65536,t=3,p=4$SALT$HASH", SALT and HASH in unpadded
// standard base64.
func parseArgon2id(s string) (*hash, error) {
	const want = "malformed argon2id hash, want $argon2id$v=19$m=MEMORY,t=TIME,p=THREADS$SALT$HASH"
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, errors.New(want)
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("argon2id version %q, want v=19", parts[2])
	}
	var h hash
	var m, t, p uint64
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return nil, errors.New(want)
		}
		switch k {
		case "m":
			m, seen = n, seen|1
		case "t":
			t, seen = n, seen|2
		case "p":
			p, seen = n, seen|4
		default:
			return nil, errors.New(want)
		}
	}
	switch {
	case seen != 7:
		return nil, errors.New(want)
	case t < 1 || t > maxArgonTime:
		return nil, fmt.Errorf("argon2id time t=%d, want 1 to %d", t, maxArgonTime)
	case p < 1 || p > 255:
		return nil, fmt.Errorf("argon2id threads p=%d, want 1 to 255", p)
	case m < 8*p || m > maxArgonMemory:
		return nil, fmt.Errorf("argon2id memory m=%d KiB, want %d (8*p) to %d", m, 8*p, maxArgonMemory)
	}
	h.memory, h.time, h.threads = uint32(m), uint32(t), uint8(p)
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return nil, errors.New("malformed argon2id hash: salt is not unpadded base64")
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return nil, errors.New("malformed argon2id hash: hash is not unpadded base64")
	}
	if len(h.salt) < minArgonSalt || len(h.salt) > maxArgonBytes {
		return nil, fmt.Errorf("argon2id salt of %d bytes, want %d to %d", len(h.salt), minArgonSalt, maxArgonBytes)
	}
	if len(h.key) < minArgonKey || len(h.key) > maxArgonBytes {
		return nil, fmt.Errorf("argon2id hash of %d bytes, want %d to %d", len(h.key), minArgonKey, maxArgonBytes)
	}
	return &h, nil
}

// users is a parsed password file.
type users struct {
	hashes map[string]*hash
	dummy  *hash // verified for unknown users; same parameters as most users
	// SCRAM for users who cannot use it (fakeSCRAM): the key their made-up
	// salts derive from, drawn when the file is read, and the iteration
	// count most SCRAM users have (SCRAMIterations when none has).
	fakeKey    [32]byte
	scramIters int
}

// loadPasswordFile reads and parses file.
func loadPasswordFile(file string) (*users, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, readError(file, err)
	}
	return parsePasswordFile(file, string(b))
}

// parsePasswordFile parses the text of a password file; file names it in
// errors, which are joined, one per bad line.
func parsePasswordFile(file, text string) (*users, error) {
	u := &users{hashes: make(map[string]*hash), scramIters: SCRAMIterations}
	rand.Read(u.fakeKey[:])
	iters := make(map[int]int) // SCRAM users per iteration count
	firstLine := make(map[string]int)
	count := make(map[string]int) // users per hash parameters
	var common *hash              // a hash with the most common parameters
	commonParams := ""
	var errs []error
	for n, line := range lines(text) {
		bad := func(format string, a ...any) {
			errs = append(errs, &FileError{File: file, Line: n, Detail: fmt.Sprintf(format, a...)})
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, text, ok := strings.Cut(line, ":")
		name, text = strings.TrimSpace(name), strings.TrimSpace(text)
		switch {
		case !ok:
			bad("missing ':' between user name and hash")
			continue
		case name == "":
			bad("empty user name")
			continue
		case !utf8.ValidString(name):
			bad("user %s: name is not valid UTF-8", quote(name))
			continue
		case firstLine[name] != 0:
			bad("user %s: duplicate, first on line %d", quote(name), firstLine[name])
			continue
		}
		firstLine[name] = n
		h, err := parseHash(text)
		if err != nil {
			bad("user %s: %v", quote(name), err)
			continue
		}
		u.hashes[name] = h
		if h.scram != nil {
			if iters[h.scram.iters]++; iters[h.scram.iters] > iters[u.scramIters] {
				u.scramIters = h.scram.iters
			}
		}
		p := h.params()
		if count[p]++; count[p] > count[commonParams] {
			common, commonParams = h, p
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d, err := dummyLike(common)
	if err != nil {
		return nil, &FileError{File: file, Detail: "cannot make the hash for unknown users: " + err.Error(), Err: err}
	}
	u.dummy = d
	return u, nil
}

// lines yields the lines of text with their 1-based numbers, without line
// endings ("\n" or "\r\n").
func lines(text string) func(yield func(int, string) bool) {
	return func(yield func(int, string) bool) {
		n := 0
		for len(text) > 0 {
			n++
			line, rest, _ := strings.Cut(text, "\n")
			text = rest
			if !yield(n, strings.TrimSuffix(line, "\r")) {
				return
			}
		}
	}
}
