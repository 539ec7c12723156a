package broker

import (
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/glassmq/glassmq/codec"
)

// Shared subscriptions (MQTT 5.0 section 4.8.2, accepted from 3.1.1 and 3.1
// clients too): a filter "$share/GROUP/FILTER" makes the session a member of
// GROUP at FILTER, and each message matching FILTER goes to one member of
// the group instead of to all of them.
//
// The session keeps the whole "$share/GROUP/FILTER" string as its
// subscription, so introspection, UNSUBSCRIBE, the store and a restart all
// see it as the client wrote it; only the router and the ACL look inside.
// The router keeps a group at the node of FILTER in the subscription tree
// (the same tree as normal subscriptions: a shared filter matches exactly as
// the plain one does) and picks the member while it matches, under the
// matching loop's own read lock. The only state written on the publish
// path is two atomic counters per group (the round-robin cursor and the
// count of messages routed to it), so loops routing to the same group at
// once never wait for each other.
//
// Which member gets a message: the strategy (-shared-subscription-strategy)
// picks a starting member; from there the first member that is connected
// and that the ACL lets receive the topic gets it. When no member is
// connected, a message goes to the first such member whose session is
// persistent and subscribed at QoS 1 or 2: it is queued there, and that
// session owns it from then on (it is never handed to another member, even
// if the session later expires). A QoS 0 message with no member connected
// is dropped, as for a normal offline subscriber.

// sharePrefix starts the filter of a shared subscription [MQTT5-4.8.2-1].
const sharePrefix = "$share/"

// splitShare splits a valid shared subscription filter into its group and
// the filter it matches with. ok is false for any other filter, including
// a malformed "$share/..." one (see shareProblem).
func splitShare(filter string) (group, inner string, ok bool) {
	if !strings.HasPrefix(filter, sharePrefix) {
		return "", "", false
	}
	group, inner, ok = strings.Cut(filter[len(sharePrefix):], "/")
	if !ok || group == "" || strings.ContainsAny(group, "+#") || inner == "" || !codec.ValidTopicFilter(inner) {
		return "", "", false // [MQTT5-4.8.2-1], [MQTT5-4.8.2-2]
	}
	return group, inner, true
}

// matchFilter returns the filter a subscription matches topics with: the
// inner filter of a shared subscription, else filter itself.
func matchFilter(filter string) string {
	if _, inner, ok := splitShare(filter); ok {
		return inner
	}
	return filter
}

// sharedSubscribe checks a SUBSCRIBE filter for the shared subscription
// rules. For one that does not start with "$share/" it returns filter
// itself, shared false and refuse 0. For a shared one it returns the inner
// filter (what the ACL decides and what matches topics), shared true, and
// refuse 0 or the SUBACK code refusing it: 0x9E at 5.0 (0x80 at 3.1.1) when
// -shared-subscriptions is off, 0x8F (0x80) for an empty group, a group
// with '+' or '#', or no filter after the group. Loop-only.
func (c *Conn) sharedSubscribe(filter string) (inner string, shared bool, refuse byte) {
	if !isShared(filter) {
		return filter, false, 0
	}
	if !c.e.cfg.SharedSubscriptions {
		return "", true, c.subackFail(codec.ReasonSharedSubscriptionsNotSupported) // [MQTT5-3.9.3]
	}
	_, inner, ok := splitShare(filter)
	if !ok {
		return "", true, c.subackFail(codec.ReasonTopicFilterInvalid) // [MQTT5-4.8.2-1], [MQTT5-4.8.2-2]
	}
	return inner, true, 0
}

// shareStrategy says which member of a group a message starts looking at.
type shareStrategy uint8

const (
	shareRoundRobin   shareStrategy = iota // each message the next member, in the order they joined
	shareRandom                            // a uniformly random member
	shareHashClientID                      // a hash of the publisher's client ID: one publisher, one member
)

// shareStrategies names the strategies for -shared-subscription-strategy,
// by value.
var shareStrategies = [...]string{shareRoundRobin: "round_robin", shareRandom: "random", shareHashClientID: "hash_clientid"}

// parseShareStrategy returns the strategy named s; "" is round_robin.
func parseShareStrategy(s string) (shareStrategy, bool) {
	if s == "" {
		return shareRoundRobin, true
	}
	i := slices.Index(shareStrategies[:], s)
	return shareStrategy(max(i, 0)), i >= 0
}

// shareGroup is one shared subscription: a group at one filter. Its
// members change only under the router's write lock; readers pick from them
// under a read lock.
type shareGroup struct {
	name    string
	members []shareMember // in the order they joined
	next    atomic.Uint64 // round-robin cursor: messages offered to the group
	routed  atomic.Uint64 // messages given to a member
}

// shareMember is one session's membership of a group.
type shareMember struct {
	s    *clientSession
	qos  byte        // subscription QoS
	only Permissions // nil, or the permissions withholding some topics (see target)
}

// join adds m to the group named name at n, creating the group, or
// replaces the QoS and permissions of m.s's membership. Under the router's
// write lock.
func (n *node) join(name string, m shareMember) {
	var g *shareGroup
	for _, x := range n.groups {
		if x.name == name {
			g = x
			break
		}
	}
	if g == nil {
		g = &shareGroup{name: name}
		n.groups = append(n.groups, g)
	}
	for i := range g.members {
		if g.members[i].s == m.s {
			g.members[i] = m
			return
		}
	}
	g.members = append(g.members, m)
}

// leave removes s from the group named name at n, and the group when it
// was the last member. Under the router's write lock.
func (n *node) leave(name string, s *clientSession) {
	for gi, g := range n.groups {
		if g.name != name {
			continue
		}
		g.members = slices.DeleteFunc(g.members, func(m shareMember) bool { return m.s == s })
		if len(g.members) == 0 {
			n.groups = slices.Delete(n.groups, gi, gi+1)
			if len(n.groups) == 0 {
				n.groups = nil
			}
		}
		return
	}
}

// pickShared replaces each group placeholder that collect appended to
// out[start:] by the member the group gives the message on topic from the
// client pub, or drops it when no member can take it. In a cluster that
// serves groups itself it drops every group of a forwarded topic and
// reports viaCluster (clustershared.go). Under a read lock.
func (r *router) pickShared(out []target, start int, topic []byte, pub string) (_ []target, viaCluster bool) {
	i := start
	for i < len(out) && out[i].g == nil {
		i++
	}
	if i == len(out) {
		return out, false // no shared subscription matched: the common case
	}
	var h uint64
	if r.share == shareHashClientID {
		h = maphash.String(r.seed, pub)
	}
	viaCluster = r.sharedInterest != nil && (len(topic) == 0 || topic[0] != '$') // forwarded: groups get it through the cluster (clustershared.go)
	j := i
	for ; i < len(out); i++ {
		t := out[i]
		if t.g != nil {
			if viaCluster {
				continue
			}
			m, ok := t.g.pick(r.share, h, topic)
			if !ok {
				continue
			}
			t = target{s: m.s, qos: m.qos, shared: 1 + m.qos, only: m.only}
		}
		out[j] = t
		j++
	}
	clear(out[j:])
	return out[:j], viaCluster
}

// pick returns the member that gets a message on topic: from the member
// the strategy names (h is the publisher's hash for shareHashClientID), the
// first connected one the ACL lets receive topic; else the first such
// offline one subscribed at QoS 1 or 2, whose session queues it. ok is false
// when there is none. Safe for concurrent use under a read lock.
func (g *shareGroup) pick(strategy shareStrategy, h uint64, topic []byte) (m shareMember, ok bool) {
	n := len(g.members)
	if n == 0 {
		return m, false
	}
	var at int
	switch strategy {
	case shareRandom:
		at = rand.IntN(n)
	case shareHashClientID:
		at = int(h % uint64(n))
	default:
		at = int((g.next.Add(1) - 1) % uint64(n))
	}
	offline := -1
	for k := range n {
		i := at + k
		if i >= n {
			i -= n
		}
		x := &g.members[i]
		if x.only != nil && !x.only.CanReceive(topic) {
			continue // the ACL withholds topic from this member
		}
		if x.s.Owner() != nil {
			g.routed.Add(1)
			return *x, true
		}
		if offline < 0 && x.qos > 0 {
			offline = i
		}
	}
	if offline < 0 {
		return m, false
	}
	g.routed.Add(1)
	return g.members[offline], true
}

// SharedGroup describes one shared subscription for introspection.
type SharedGroup struct {
	Group       string // the GROUP of $share/GROUP/FILTER
	TopicFilter string // the FILTER
	Members     int    // sessions subscribed, connected or not
	Routed      uint64 // messages given to a member since the group was made
}

// SharedGroups returns every shared subscription, by filter then group.
// Safe for concurrent use; it does not wait for an event loop, only for a
// SUBSCRIBE or UNSUBSCRIBE changing the tree.
func (e *Engine) SharedGroups() []SharedGroup { return e.router.groups() }

// groups is SharedGroups. Safe for concurrent use.
func (r *router) groups() []SharedGroup {
	rl := &r.readers[len(r.readers)-1] // the foreign reader: never an event loop's
	rl.RLock()
	defer rl.RUnlock()
	var out []SharedGroup
	var walk func(n *node, path string)
	walk = func(n *node, path string) {
		for _, g := range n.groups {
			out = append(out, SharedGroup{Group: g.name, TopicFilter: path, Members: len(g.members), Routed: g.routed.Load()})
		}
		n.eachChild(func(level string, c *node) {
			p := level
			if n != &r.root {
				p = path + "/" + level
			}
			walk(c, p)
		})
	}
	walk(&r.root, "")
	slices.SortFunc(out, func(a, b SharedGroup) int {
		if c := strings.Compare(a.TopicFilter, b.TopicFilter); c != 0 {
			return c
		}
		return strings.Compare(a.Group, b.Group)
	})
	return out
}

// sharedSubAvailable is the CONNACK's Shared Subscription Available: 1
// unless -shared-subscriptions is off [MQTT5-3.2.2.3.15]. Loop-only.
func (c *Conn) sharedSubAvailable() byte {
	if c.e.cfg.SharedSubscriptions {
		return 1
	}
	return 0
}

// shareRefused reports whether an operator's subscription to filter is
// refused as a SUBSCRIBE's would be: a malformed shared subscription
// filter, or any shared one while -shared-subscriptions is off. Safe for
// concurrent use.
func (e *Engine) shareRefused(filter string) bool {
	if !isShared(filter) {
		return false
	}
	_, _, ok := splitShare(filter)
	return !ok || !e.cfg.SharedSubscriptions
}

// isShared reports whether filter is written as a shared subscription's,
// valid or not.
func isShared(filter string) bool { return strings.HasPrefix(filter, sharePrefix) }
