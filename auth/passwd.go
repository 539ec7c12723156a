package auth

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// Parameters of the argon2id hashes that RunPasswd writes: OWASP's minimum
// (19 MiB, 2 passes, 1 thread), a 16-byte salt and a 32-byte hash. Each
// CONNECT with a password costs this much memory while it is checked.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
)

const passwdUsage = "usage: glassmq passwd [-hash bcrypt|argon2id|scram-sha-256] [-cost N] [-iterations N] [-delete] FILE USER"

// RunPasswd implements "glassmq passwd [-hash bcrypt|argon2id|scram-sha-256]
// [-cost N] [-iterations N] [-delete] FILE USER": it adds USER to the
// password file FILE (made if missing) or changes USER's password, hashed
// with bcrypt at cost N (default 10), with argon2id, or as SCRAM-SHA-256
// keys with N PBKDF2 iterations (default SCRAMIterations), which both MQTT
// 5.0 enhanced authentication and a plain CONNECT password can use; with
// -delete it removes USER. The password
// is one line read from stdin; when stdin is a terminal, RunPasswd prompts
// twice on stderr without echo. Other lines of FILE are kept as they are.
// FILE is replaced atomically (a temporary file in the same directory,
// renamed over it) with mode 0600. args are the arguments after "passwd".
// It returns the exit status: 0 (also for -help), 1 when it failed, 2 for a
// usage error, each failure with one sentence on stderr.
func RunPasswd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a, code := parsePasswdArgs(args, stderr)
	if a == nil {
		return code
	}
	msg, err := a.run(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "glassmq passwd: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, msg)
	return 0
}

// passwdArgs are the arguments of "glassmq passwd".
type passwdArgs struct {
	file, user string
	algo       string // "bcrypt", "argon2id" or "scram-sha-256"
	cost       int    // bcrypt cost
	iterations int    // SCRAM-SHA-256 PBKDF2 iterations
	delete     bool
}

// parsePasswdArgs returns the arguments, or nil and the exit status after
// writing the usage, with what is wrong, to stderr.
func parsePasswdArgs(args []string, stderr io.Writer) (*passwdArgs, int) {
	flags := flag.NewFlagSet("glassmq passwd", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	algo := flags.String("hash", "bcrypt", "password hash: bcrypt, argon2id or scram-sha-256 (MQTT 5.0 enhanced authentication; plain passwords work too)")
	cost := flags.Int("cost", bcrypt.DefaultCost, "bcrypt cost, 4 to 31")
	iters := flags.Int("iterations", SCRAMIterations, fmt.Sprintf("scram-sha-256 PBKDF2 iterations, %d to %d", minSCRAMIterations, maxSCRAMIterations))
	del := flags.Bool("delete", false, "remove USER instead of setting a password")
	usage := func(format string, a ...any) (*passwdArgs, int) {
		fmt.Fprintf(stderr, "glassmq passwd: "+format+"\n", a...)
		fmt.Fprintln(stderr, passwdUsage)
		return nil, 2
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, passwdUsage)
			flags.SetOutput(stderr)
			flags.PrintDefaults()
			return nil, 0
		}
		return usage("%v", err)
	}
	costSet, itersSet := false, false
	flags.Visit(func(f *flag.Flag) {
		costSet = costSet || f.Name == "cost"
		itersSet = itersSet || f.Name == "iterations"
	})
	switch {
	case flags.NArg() != 2:
		return usage("want FILE and USER, got %d arguments", flags.NArg())
	case *algo != "bcrypt" && *algo != "argon2id" && *algo != "scram-sha-256":
		return usage("-hash %q is not bcrypt, argon2id or scram-sha-256", *algo)
	case *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost:
		return usage("-cost %d is outside %d to %d", *cost, bcrypt.MinCost, bcrypt.MaxCost)
	case costSet && *algo != "bcrypt":
		return usage("-cost is the bcrypt cost; %s has parameters of its own", *algo)
	case *iters < minSCRAMIterations || *iters > maxSCRAMIterations:
		return usage("-iterations %d is outside %d to %d", *iters, minSCRAMIterations, maxSCRAMIterations)
	case itersSet && *algo != "scram-sha-256":
		return usage("-iterations is the scram-sha-256 iteration count; %s has parameters of its own", *algo)
	}
	a := &passwdArgs{file: flags.Arg(0), user: flags.Arg(1), algo: *algo, cost: *cost, iterations: *iters, delete: *del}
	if why := badUserName(a.user); why != "" {
		return usage("user name %s %s", quote(a.user), why)
	}
	return a, 0
}

// run changes the file and returns what it did, for stdout.
func (a *passwdArgs) run(stdin io.Reader, stderr io.Writer) (string, error) {
	old, err := os.ReadFile(a.file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("cannot read %s: %v", a.file, unwrapPath(err))
	}
	var h string // the new hash; "" to delete
	if !a.delete {
		pw, err := readPassword(stdin, stderr)
		if err != nil {
			return "", err
		}
		if h, err = a.hash(pw); err != nil {
			return "", err
		}
	}
	out, found := setUser(old, a.user, h)
	if a.delete && !found {
		return "", fmt.Errorf("no user %s in %s", quote(a.user), a.file)
	}
	if err := writeAtomic(a.file, out); err != nil {
		return "", fmt.Errorf("cannot write %s: %v", a.file, err)
	}
	switch {
	case a.delete:
		return "deleted user " + quote(a.user), nil
	case found:
		return "changed the password of user " + quote(a.user), nil
	}
	return "added user " + quote(a.user), nil
}

// hash hashes pw as a asks.
func (a *passwdArgs) hash(pw []byte) (string, error) {
	switch a.algo {
	case "argon2id":
		return argon2idHash(pw), nil
	case "scram-sha-256":
		h, err := SCRAMHash(pw, a.iterations)
		if err != nil {
			return "", fmt.Errorf("cannot hash the password: %v", err)
		}
		return h, nil
	}
	if len(pw) > 72 {
		return "", fmt.Errorf("password is %d bytes; bcrypt uses only the first 72: use a shorter one or -hash argon2id", len(pw))
	}
	b, err := bcrypt.GenerateFromPassword(pw, a.cost)
	if err != nil {
		return "", fmt.Errorf("cannot hash the password: %v", err)
	}
	return string(b), nil
}

// badUserName says why name cannot be a line of a password file, or "".
func badUserName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case len(name) > 65535:
		return "is longer than 65535 bytes, the most a CONNECT can carry"
	case strings.ContainsRune(name, ':'):
		return "holds ':', which ends the user name in the file"
	case name[0] == '#':
		return "starts with '#', which marks a comment in the file"
	case strings.TrimSpace(name) != name:
		return "starts or ends with a space, which the file ignores"
	case strings.ContainsFunc(name, unicode.IsControl):
		return "holds a control character"
	}
	return ""
}

// readPassword reads the new password: from a terminal twice without echo,
// else one line.
func readPassword(stdin io.Reader, stderr io.Writer) ([]byte, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, fmt.Errorf("cannot read the password: %v", err)
		}
		fmt.Fprint(stderr, "Password again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, fmt.Errorf("cannot read the password: %v", err)
		}
		if !bytes.Equal(pw, again) {
			return nil, errors.New("the passwords do not match")
		}
		if len(pw) == 0 {
			return nil, errors.New("the password is empty")
		}
		return pw, nil
	}
	line, err := bufio.NewReader(stdin).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("cannot read the password from stdin: %v", err)
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(line) == 0 {
		return nil, errors.New("the password on stdin is empty")
	}
	return line, nil
}

// argon2idHash hashes pw with a random salt into PHC format.
func argon2idHash(pw []byte) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey(pw, salt, argonTime, argonMemory, argonThreads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

// setUser returns the password file old with user's line set to user:h, or
// removed when h is "", and whether user had a line. Other lines stay as
// they are; a new user is appended.
func setUser(old []byte, user, h string) (out []byte, found bool) {
	var b bytes.Buffer
	for _, line := range lines(string(old)) {
		t := strings.TrimSpace(line)
		name, _, ok := strings.Cut(t, ":")
		if ok && t[0] != '#' && strings.TrimSpace(name) == user {
			if !found && h != "" {
				b.WriteString(user + ":" + h + "\n")
			}
			found = true
			continue
		}
		b.WriteString(line + "\n")
	}
	if !found && h != "" {
		b.WriteString(user + ":" + h + "\n")
	}
	return b.Bytes(), found
}

// writeAtomic replaces file with data, mode 0600: written and synced to a
// temporary file in the same directory, then renamed over file.
func writeAtomic(file string, data []byte) error {
	dir, base := filepath.Split(file)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return unwrapPath(err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return unwrapPath(err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable; best effort
		d.Sync()
		d.Close()
	}
	return nil
}

// unwrapPath drops the path from an *fs.PathError, which messages name
// already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
