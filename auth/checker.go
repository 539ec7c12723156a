package auth

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Checker holds the password file and ACL file in force. Load makes one;
// Reload swaps in freshly read files at once, and readers never block.
// Safe for concurrent use.
type Checker struct {
	opts   Options
	rules  atomic.Pointer[rules] // in force; never nil after Load
	reload sync.Mutex            // serialises Reload
}

// rules is one generation of parsed files. Immutable.
type rules struct {
	gen   uint64
	users *users // nil: no password file
	acl   *acl   // nil: no ACL file, everything allowed
	all   *Perms // every client's Perms when acl is nil
}

// Options name the files. Empty PasswordFile means no password file, empty
// ACLFile no ACL file (every client may publish and subscribe to anything).
// AllowAnonymous is the -allow-anonymous flag value after defaulting: true
// only while no password file is given, unless set explicitly.
type Options struct {
	PasswordFile   string
	ACLFile        string
	AllowAnonymous bool // accept CONNECTs without a user name
}

// Load reads the files named by o. Its error joins one *FileError per
// problem, naming file, line and what is wrong, never a password or hash.
// With a password file, Load hashes a random password at the cost most users
// have (the hash that unknown users are checked against), which takes as
// long as one CONNECT.
func Load(o Options) (*Checker, error) {
	r, err := read(o, 1)
	if err != nil {
		return nil, err
	}
	c := &Checker{opts: o}
	c.rules.Store(r)
	return c, nil
}

// Reload re-reads the files named in Load's Options. On any error it keeps
// the rules in force and returns the error, as Load's; on success the new
// rules apply to every Authenticate and For call that starts after it
// returns, and Generation increases by one. Connections keep their Perms
// until they ask For again. Safe for concurrent use.
func (c *Checker) Reload() error {
	c.reload.Lock()
	defer c.reload.Unlock()
	r, err := read(c.opts, c.rules.Load().gen+1)
	if err != nil {
		return err
	}
	c.rules.Store(r)
	return nil
}

// read parses the files of o into generation gen, reporting the problems of
// both files at once.
func read(o Options, gen uint64) (*rules, error) {
	r := &rules{gen: gen, all: &Perms{all: true, gen: gen}}
	var errs []error
	if o.PasswordFile != "" {
		u, err := loadPasswordFile(o.PasswordFile)
		r.users, errs = u, append(errs, err)
	}
	if o.ACLFile != "" {
		a, err := loadACLFile(o.ACLFile)
		r.acl, errs = a, append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Generation is 1 after Load and increases by one on every successful
// Reload, so that a connection can see that its Perms are stale.
// Safe for concurrent use.
func (c *Checker) Generation() uint64 { return c.rules.Load().gen }

// For returns the permissions of one client, with "%u" and "%c" in the ACL
// file's filters replaced by user and clientID. user is what Authenticate
// returned: "" for anonymous clients. Call it once at CONNECT and keep the
// result on the connection; it costs one pass over the rules that may apply
// (those for all, anonymous and client patterns, and user's own). Without
// an ACL file every client gets the same allow-everything Perms.
// Safe for concurrent use.
func (c *Checker) For(user, clientID string) *Perms {
	r := c.rules.Load()
	if r.acl == nil {
		return r.all
	}
	return r.acl.compile(r.gen, user, clientID)
}
