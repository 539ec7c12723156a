package auth

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/glassmq/glassmq/codec"
)

// subject says which clients a rule applies to.
type subject uint8

const (
	everyone  subject = iota // "all"
	anonymous                // "anonymous": no user name
	byUser                   // "user NAME"
	byClient                 // "client PATTERN"
)

// aclRule is one parsed line of an ACL file.
type aclRule struct {
	line           int
	allow          bool
	publish, subsc bool    // actions the rule applies to
	subject        subject // with name below
	name           string  // user name (byUser) or client ID pattern (byClient)
	filter         string  // valid topic filter, perhaps with "%u" or "%c" levels
	subst          bool    // filter has a "%u" or "%c" level
}

// acl is a parsed ACL file. Rules keep their file order: the first rule
// that matches decides.
type acl struct {
	rules   []aclRule
	general []int            // indexes of rules for all, anonymous and client patterns
	users   map[string][]int // indexes of "user NAME" rules by NAME
}

// appliesTo reports whether r is about a client with this user name ("" when
// anonymous) and client ID.
func (r *aclRule) appliesTo(user, clientID string) bool {
	switch r.subject {
	case anonymous:
		return user == ""
	case byUser:
		return user == r.name
	case byClient:
		return glob(r.name, clientID)
	}
	return true
}

// glob reports whether s matches pattern, in which '*' matches any run of
// bytes, including none, and every other byte itself.
func glob(pattern, s string) bool {
	star, resume := -1, 0 // last '*' seen in pattern, and where in s it resumes
	p, i := 0, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0: // let the last '*' take one more byte
			resume++
			p, i = star+1, resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// loadACLFile reads and parses file.
func loadACLFile(file string) (*acl, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, readError(file, err)
	}
	return parseACL(file, string(b))
}

// parseACL parses the text of an ACL file; file names it in errors, which
// are joined, one per bad line.
func parseACL(file, text string) (*acl, error) {
	a := &acl{users: make(map[string][]int)}
	var errs []error
	for n, line := range lines(text) {
		r, err := parseRule(line)
		if err != nil {
			errs = append(errs, &FileError{File: file, Line: n, Detail: err.Error()})
			continue
		}
		if r == nil {
			continue
		}
		r.line = n
		i := len(a.rules)
		a.rules = append(a.rules, *r)
		if r.subject == byUser {
			a.users[r.name] = append(a.users[r.name], i)
		} else {
			a.general = append(a.general, i)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return a, nil
}

// parseRule parses one line: nil, nil for a blank line or a comment.
func parseRule(line string) (*aclRule, error) {
	if !utf8.ValidString(line) {
		return nil, errors.New("not valid UTF-8")
	}
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return nil, nil
	}
	var r aclRule
	verdict, rest := field(line)
	switch verdict {
	case "allow":
		r.allow = true
	case "deny":
	default:
		return nil, fmt.Errorf("rule starts with %s, want allow or deny", quote(verdict))
	}
	action, rest := field(rest)
	switch action {
	case "publish":
		r.publish = true
	case "subscribe":
		r.subsc = true
	case "pubsub":
		r.publish, r.subsc = true, true
	case "":
		return nil, fmt.Errorf("missing action after %s, want publish, subscribe or pubsub", verdict)
	default:
		return nil, fmt.Errorf("unknown action %s, want publish, subscribe or pubsub", quote(action))
	}
	who, rest := field(rest)
	switch who {
	case "all":
		r.subject = everyone
	case "anonymous":
		r.subject = anonymous
	case "user", "client":
		r.subject = byUser
		what := "user name"
		if who == "client" {
			r.subject, what = byClient, "client ID pattern"
		}
		var err error
		if r.name, rest, err = token(rest); err != nil {
			return nil, fmt.Errorf("%s after %q: %v", what, who, err)
		}
		if r.name == "" {
			return nil, fmt.Errorf("missing %s after %q", what, who)
		}
	case "":
		return nil, fmt.Errorf("missing subject after %s, want all, anonymous, user NAME or client PATTERN", action)
	default:
		return nil, fmt.Errorf("unknown subject %s, want all, anonymous, user NAME or client PATTERN", quote(who))
	}
	filter := strings.TrimSpace(rest)
	if strings.HasPrefix(filter, `"`) {
		f, err := strconv.Unquote(filter)
		if err != nil {
			return nil, fmt.Errorf("topic filter: bad quoted string %s", quote(filter))
		}
		filter = f
	} else if filter == "" {
		return nil, errors.New("missing topic filter")
	}
	if err := checkRuleFilter(filter); err != nil {
		return nil, err
	}
	r.filter = filter
	r.subst = strings.Contains(filter, "%u") || strings.Contains(filter, "%c")
	return &r, nil
}

// field cuts the first space-separated word off s.
func field(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// token cuts a word or a Go double-quoted string off s.
func token(s string) (tok, rest string, err error) {
	s = strings.TrimLeft(s, " \t")
	if !strings.HasPrefix(s, `"`) {
		tok, rest = field(s)
		return tok, rest, nil
	}
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", fmt.Errorf("bad quoted string %s", quote(s))
	}
	tok, _ = strconv.Unquote(q)
	rest = s[len(q):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", "", fmt.Errorf("want a space after %s", quote(q))
	}
	return tok, rest, nil
}

// checkRuleFilter says what is wrong with a rule's topic filter, in which
// "%u" and "%c" may stand for whole levels.
func checkRuleFilter(f string) error {
	bad := func(why string) error {
		return fmt.Errorf("invalid topic filter %s: %s", quote(f), why)
	}
	if f == "" { // [MQTT-4.7.3-1]
		return bad("empty [MQTT-4.7.3-1]")
	}
	rest := f
	for more := true; more; {
		var level string
		level, rest, more = strings.Cut(rest, "/")
		switch {
		case level == "%u" || level == "%c":
		case strings.Contains(level, "%u") || strings.Contains(level, "%c"):
			return bad(`"%u" and "%c" must be whole levels, as in "devices/%c/#"`)
		case strings.IndexByte(level, 0) >= 0: // [MQTT-4.7.3-2]
			return bad("U+0000 [MQTT-4.7.3-2]")
		case strings.IndexByte(level, '#') >= 0 && (level != "#" || more): // [MQTT-4.7.1-2]
			return bad("'#' must be the whole last level [MQTT-4.7.1-2]")
		case strings.IndexByte(level, '+') >= 0 && level != "+": // [MQTT-4.7.1-3]
			return bad("'+' must be a whole level [MQTT-4.7.1-3]")
		}
	}
	if !codec.ValidTopicFilter(strings.NewReplacer("%u", "x", "%c", "x").Replace(f)) {
		return bad("not a valid topic filter") // not reached: the cases above are codec's rules
	}
	return nil
}
