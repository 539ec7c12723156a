package auth

import (
	"strings"

	"github.com/glassmq/glassmq/codec"
)

// Perms is one client's compiled ACL rules: those of the ACL file that apply
// to its user name and client ID, in file order, with "%u" and "%c"
// substituted. Checker.For makes it at CONNECT; the connection keeps it
// until Checker.Generation moves on. A nil *Perms allows nothing.
// Immutable. Safe for concurrent use.
type Perms struct {
	all bool // no ACL file: everything is allowed
	gen uint64
	pub []permRule // publish rules in file order
	sub []permRule // subscribe rules in file order
	// idx indexes pub when it has at least indexMin rules; nil otherwise.
	idx *trie
	// subIdx indexes sub likewise, for CanReceive.
	subIdx *trie
}

// permRule is one rule compiled for one client.
type permRule struct {
	allow  bool
	filter string // valid topic filter
	line   int    // in the ACL file, for PublishRule and SubscribeRule
}

// CanPublish reports whether the client may publish to the topic name
// topic: the first publish rule whose filter matches topic decides, and no
// match denies. It does not allocate and reads topic only during the call.
// Safe for concurrent use.
func (p *Perms) CanPublish(topic []byte) bool {
	allow, _ := p.PublishRule(topic)
	return allow
}

// PublishRule is CanPublish that also returns the ACL file line of the rule
// that decided, 0 when none did (no rule matched, or no ACL file was given),
// for a log line such as "denied by acl.conf:7". It does not allocate.
// Safe for concurrent use.
func (p *Perms) PublishRule(topic []byte) (allow bool, line int) {
	if p == nil {
		return false, 0
	}
	if p.all {
		return true, 0
	}
	if p.idx != nil {
		if i := p.idx.match(topic, true, -1); i >= 0 {
			return p.pub[i].allow, p.pub[i].line
		}
		return false, 0
	}
	for i := range p.pub {
		if codec.MatchTopic(p.pub[i].filter, topic) {
			return p.pub[i].allow, p.pub[i].line
		}
	}
	return false, 0
}

// CanSubscribe reports whether the client may subscribe to the topic filter
// filter, and whether that subscription must be filtered: ACL rules decide
// per topic name, not per filter text. Going through the subscribe rules in
// order, an allow rule whose filter covers filter (matches every topic name
// filter matches) grants it, and a deny rule whose filter covers filter
// refuses it whole; no decision refuses. A deny rule before the granting
// allow rule that only overlaps filter (some, not all, of its topic names
// match) does not refuse: the subscription is granted with filtered true,
// and the broker asks CanReceive for each message it would deliver through
// it. So with "deny subscribe all secret/#" then "allow subscribe all #",
// "#" and "+/+" are granted filtered, "public/#" granted unfiltered and
// "secret/x" refused. A deny rule that an earlier allow rule covers changes
// nothing (its topics are allowed first). An invalid filter is refused.
// It does not allocate. Safe for concurrent use.
func (p *Perms) CanSubscribe(filter string) (granted, filtered bool) {
	granted, filtered, _ = p.SubscribeRule(filter)
	return granted, filtered
}

// SubscribeRule is CanSubscribe that also returns the ACL file line of the
// rule that decided (the granting allow rule or the refusing deny rule), 0
// when none did. It does not allocate. Safe for concurrent use.
func (p *Perms) SubscribeRule(filter string) (granted, filtered bool, line int) {
	if p == nil || !codec.ValidTopicFilter(filter) {
		return false, false, 0
	}
	if p.all {
		return true, false, 0
	}
	for i := range p.sub {
		r := &p.sub[i]
		if r.allow {
			if covers(r.filter, filter) {
				return true, filtered, r.line
			}
			continue
		}
		if !overlaps(r.filter, filter) {
			continue
		}
		if covers(r.filter, filter) {
			return false, false, r.line // every topic name of filter is denied
		}
		if !p.allowedBefore(i, r.filter) {
			filtered = true // some topic names of filter are denied
		}
	}
	return false, false, 0
}

// allowedBefore reports whether a subscribe rule before the i-th is an
// allow rule covering filter, so that a later deny rule for filter never
// decides.
func (p *Perms) allowedBefore(i int, filter string) bool {
	for j := range i {
		if p.sub[j].allow && covers(p.sub[j].filter, filter) {
			return true
		}
	}
	return false
}

// CanReceive reports whether a message published to the topic name topic
// may be delivered to the client through a subscription that CanSubscribe
// granted with filtered true: the first subscribe rule whose filter matches
// topic decides, and no match denies. The broker calls it per delivery for
// filtered subscriptions only. It does not allocate and reads topic only
// during the call. Safe for concurrent use.
func (p *Perms) CanReceive(topic []byte) bool {
	if p == nil {
		return false
	}
	if p.all {
		return true
	}
	if p.subIdx != nil {
		if i := p.subIdx.match(topic, true, -1); i >= 0 {
			return p.sub[i].allow
		}
		return false
	}
	for i := range p.sub {
		if codec.MatchTopic(p.sub[i].filter, topic) {
			return p.sub[i].allow
		}
	}
	return false
}

// Generation is the Checker generation p was made from; compare it with
// Checker.Generation to see whether the rules were reloaded since.
// Safe for concurrent use.
func (p *Perms) Generation() uint64 {
	if p == nil {
		return 0
	}
	return p.gen
}

// compile returns the Perms of a client from the rules of a, made at
// generation gen.
func (a *acl) compile(gen uint64, user, clientID string) *Perms {
	p := &Perms{gen: gen}
	byName := a.users[user]
	if user == "" {
		byName = nil // "user NAME" rules never name anonymous clients
	}
	// Merge the two ascending index lists, keeping file order.
	g, u := a.general, byName
	for len(g) > 0 || len(u) > 0 {
		var i int
		if len(u) == 0 || (len(g) > 0 && g[0] < u[0]) {
			i, g = g[0], g[1:]
		} else {
			i, u = u[0], u[1:]
		}
		r := &a.rules[i]
		if !r.appliesTo(user, clientID) {
			continue
		}
		filter, ok := r.filter, true
		if r.subst {
			filter, ok = substitute(r.filter, user, clientID, r.allow)
			if !ok {
				continue
			}
		}
		pr := permRule{allow: r.allow, filter: filter, line: r.line}
		if r.publish {
			p.pub = append(p.pub, pr)
		}
		if r.subsc {
			p.sub = append(p.sub, pr)
		}
	}
	if len(p.pub) >= indexMin {
		p.idx = buildTrie(p.pub)
	}
	if len(p.sub) >= indexMin {
		p.subIdx = buildTrie(p.sub)
	}
	return p
}

// substitute replaces the "%u" and "%c" levels of filter with the user name
// and the client ID. A value that cannot be one level of a topic name (it is
// empty, or holds '/', '+' or '#') must not widen the rule: ok is false for
// an allow rule, which then does not apply, and a deny rule gets '+' in that
// level, denying the topics of every value. Like a wildcard, a first-level
// "%u" or "%c" in an allow rule never reaches a '$' topic [MQTT-4.7.2-1]: a
// client named "$SYS" gets nothing from "allow pubsub all %c/#"; a deny rule
// takes such a value as it is.
func substitute(filter, user, clientID string, allow bool) (string, bool) {
	var b strings.Builder
	rest := filter
	for first, more := true, true; more; first = false {
		var level string
		level, rest, more = strings.Cut(rest, "/")
		if !first {
			b.WriteByte('/')
		}
		switch level {
		case "%u", "%c":
			v := user
			if level == "%c" {
				v = clientID
			}
			switch {
			case v == "" || strings.ContainsAny(v, "/+#"):
				if allow {
					return "", false
				}
				v = "+"
			case allow && first && v[0] == '$': // [MQTT-4.7.2-1]
				return "", false
			}
			b.WriteString(v)
		default:
			b.WriteString(level)
		}
	}
	return b.String(), true
}
