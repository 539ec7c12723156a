package broker

import (
	"bytes"
	"hash/maphash"
	"strings"
	"sync"
)

// target is one session a PUBLISH matched, with the QoS of its subscription.
// only is nil unless the subscription is filtered (an ACL deny rule is
// narrower than its filter): then only topics only.CanReceive allows may be
// delivered through it.
type target struct {
	s      *clientSession
	qos    byte
	shared byte // 0, or 1 + the QoS of a shared subscription whose group picked s (shared.go)
	only   Permissions
	g      *shareGroup // set only between collect and pickShared: a group to pick a member of
}

// filteredSub marks, in node.subs, a subscription whose deliveries need a
// per-topic ACL check; its Permissions are in node.filtered.
const filteredSub = 0x80

// node is one topic level of the subscription tree. The wildcard children
// have fields of their own, so a match costs one map lookup per level.
type node struct {
	children   map[string]*node // literal levels
	plus, hash *node            // the "+" and "#" children, nil when absent
	// subs are the subscriptions ending here: a slice, because matching
	// iterates it for every PUBLISH and a map's randomized iteration costs
	// several times more. index finds a session's entry once there are more
	// than indexAt (a big fan-out), so unsubscribing stays O(1).
	subs  []subEntry
	index map[*clientSession]int32
	// filtered holds the permissions of the filtered subscriptions at this
	// node; nil while there are none, as for almost every node.
	filtered map[*clientSession]Permissions
	// groups holds the shared subscriptions whose filter ends at this node
	// (shared.go); nil while there are none.
	groups []*shareGroup
}

// subEntry is one subscription of a node: its session and QoS, |
// filteredSub when filtered.
type subEntry struct {
	s   *clientSession
	qos byte
}

// indexAt is the number of subscriptions on one node past which the node
// keeps an index by session.
const indexAt = 16

// child returns the child for level, nil when absent.
func (n *node) child(level string) *node {
	switch level {
	case "+":
		return n.plus
	case "#":
		return n.hash
	}
	return n.children[level]
}

// addChild returns the child for level, creating it.
func (n *node) addChild(level string) *node {
	if c := n.child(level); c != nil {
		return c
	}
	c := &node{}
	switch level {
	case "+":
		n.plus = c
	case "#":
		n.hash = c
	default:
		if n.children == nil {
			n.children = make(map[string]*node)
		}
		n.children[level] = c
	}
	return c
}

// dropChild removes the child for level.
func (n *node) dropChild(level string) {
	switch level {
	case "+":
		n.plus = nil
	case "#":
		n.hash = nil
	default:
		delete(n.children, level)
	}
}

// eachChild calls fn for every child of n, wildcards included.
func (n *node) eachChild(fn func(level string, c *node)) {
	for level, c := range n.children {
		fn(level, c)
	}
	if n.plus != nil {
		fn("+", n.plus)
	}
	if n.hash != nil {
		fn("#", n.hash)
	}
}

// subscribed reports whether any subscription, plain or shared, ends at n.
func (n *node) subscribed() bool { return len(n.subs) > 0 || len(n.groups) > 0 }

// lookup returns the node of filter, nil when it has none.
func (n *node) lookup(filter string) *node {
	for level := range strings.SplitSeq(filter, "/") {
		if n = n.child(level); n == nil {
			return nil
		}
	}
	return n
}

// empty reports whether n holds no subscription and no child.
func (n *node) empty() bool {
	return len(n.subs) == 0 && len(n.children) == 0 && n.plus == nil && n.hash == nil && len(n.groups) == 0
}

// find returns the position of s in subs, or -1.
func (n *node) find(s *clientSession) int {
	if n.index != nil {
		if i, ok := n.index[s]; ok {
			return int(i)
		}
		return -1
	}
	for i := range n.subs {
		if n.subs[i].s == s {
			return i
		}
	}
	return -1
}

// setSub adds s at qos or replaces its QoS.
func (n *node) setSub(s *clientSession, qos byte) {
	if i := n.find(s); i >= 0 {
		n.subs[i].qos = qos
		return
	}
	n.subs = append(n.subs, subEntry{s, qos})
	if n.index != nil {
		n.index[s] = int32(len(n.subs) - 1)
	} else if len(n.subs) > indexAt {
		n.index = make(map[*clientSession]int32, len(n.subs))
		for i, e := range n.subs {
			n.index[e.s] = int32(i)
		}
	}
}

// dropSub removes s, moving the last entry into its place.
func (n *node) dropSub(s *clientSession) {
	i := n.find(s)
	if i < 0 {
		return
	}
	last := len(n.subs) - 1
	n.subs[i] = n.subs[last]
	n.subs[last] = subEntry{}
	n.subs = n.subs[:last]
	if n.index != nil {
		delete(n.index, s)
		if i < last {
			n.index[n.subs[i].s] = int32(i)
		}
		if len(n.subs) <= indexAt/2 {
			n.index = nil
		}
	}
	if len(n.subs) == 0 {
		n.subs = nil
	}
}

// router is the subscription tree. Each event loop matches under a read
// lock of its own (readers[i], on its own cache line), so PUBLISHes on
// different loops never touch a shared lock word; SUBSCRIBE and UNSUBSCRIBE
// take every reader's lock, in index order (a "big reader" lock: writes are
// rare and cost one lock per loop).
type router struct {
	readers  []readLock
	root     node
	share    shareStrategy                 // how a shared subscription's member is picked
	seed     maphash.Seed                  // for shareHashClientID
	interest func(filter string, add bool) // nil, or the cluster's (cluster.go)
	// sharedInterest is nil, or the cluster's when it serves shared
	// subscriptions cluster-wide (clustershared.go): then a group's first
	// and last member are reported to it, interest counts plain
	// subscriptions only, and forwarded topics reach groups only through it.
	sharedInterest func(group, filter string, add bool)
}

// readLock is one reader's lock, padded so two loops' locks never share a
// cache line.
type readLock struct {
	sync.RWMutex
	// viaCluster is written by the reader's last match: it matched shared
	// subscription groups here that only the cluster delivers to
	// (clustershared.go). Read by the same reader.
	viaCluster bool
	_          [64 - 24 - 8]byte
}

// init gives the router n readers: one per event loop and one for work
// outside any loop. Call before use.
func (r *router) init(n int) {
	r.readers = make([]readLock, n)
	r.seed = maphash.MakeSeed()
}

func (r *router) lock() {
	for i := range r.readers {
		r.readers[i].Lock()
	}
}

func (r *router) unlock() {
	for i := len(r.readers) - 1; i >= 0; i-- {
		r.readers[i].Unlock()
	}
}

// add subscribes s to filter at qos, replacing the QoS of an existing
// subscription. only is nil, or the client's permissions when the ACL
// withholds some topics of filter from it (see Permissions.CanSubscribe).
// A valid shared subscription filter ($share/GROUP/FILTER) makes s a member
// of that group at FILTER. Safe for concurrent use.
func (r *router) add(filter string, s *clientSession, qos byte, only Permissions) {
	group, inner, shared := splitShare(filter)
	if shared {
		filter = inner
	}
	r.lock()
	defer r.unlock()
	n := &r.root
	for level := range strings.SplitSeq(filter, "/") {
		n = n.addChild(level)
	}
	if shared && r.sharedInterest != nil {
		if n.group(group) == nil {
			defer r.sharedInterest(group, filter, true) // the group's first member on this node
		}
	} else if r.interest != nil && !n.interested(r.sharedInterest != nil) {
		defer r.interest(filter, true) // the filter's first subscriber on this node
	}
	if shared {
		n.join(group, shareMember{s: s, qos: qos, only: only})
		return
	}
	if only != nil {
		if n.filtered == nil {
			n.filtered = make(map[*clientSession]Permissions)
		}
		n.filtered[s] = only
		qos |= filteredSub
	} else if n.filtered != nil {
		delete(n.filtered, s)
	}
	n.setSub(s, qos)
}

// remove unsubscribes s from filter and prunes empty nodes; for a shared
// subscription filter it ends only s's membership of that group. Safe for
// concurrent use.
func (r *router) remove(filter string, s *clientSession) {
	group, inner, shared := splitShare(filter)
	if shared {
		filter = inner
	}
	r.lock()
	defer r.unlock()
	var n *node
	if r.interest != nil {
		n = r.root.lookup(filter)
	}
	if shared && r.sharedInterest != nil {
		had := n != nil && n.group(group) != nil
		r.root.remove(filter, group, shared, s)
		if had && n.group(group) == nil {
			r.sharedInterest(group, filter, false) // the group's last member on this node went
		}
		return
	}
	split := r.sharedInterest != nil
	had := n != nil && n.interested(split)
	r.root.remove(filter, group, shared, s)
	if had && !n.interested(split) {
		r.interest(filter, false) // the filter's last subscriber on this node went
	}
}

func (n *node) remove(filter, group string, shared bool, s *clientSession) (empty bool) {
	level, rest, more := strings.Cut(filter, "/")
	c := n.child(level)
	if c == nil {
		return false
	}
	if more {
		if c.remove(rest, group, shared, s) {
			n.dropChild(level)
		}
	} else {
		if shared {
			c.leave(group, s)
		} else {
			c.dropSub(s)
			if c.filtered != nil {
				delete(c.filtered, s)
			}
		}
		if c.empty() {
			n.dropChild(level)
		}
	}
	return n.empty()
}

// match appends to out every subscription whose filter matches topic, a
// valid topic name. A session may appear more than once (overlapping
// filters); the caller merges. It does not allocate beyond growing out.
// reader is the caller's loop index (see init). Safe for concurrent use.
func (r *router) match(reader int, topic []byte, out []target) []target {
	return r.matchFrom(reader, topic, "", out)
}

// matchFrom is match for a message published by client ID pub ("" for the
// broker's own): each matching shared subscription contributes one member,
// picked by the router's strategy (shared.go). Safe for concurrent use.
func (r *router) matchFrom(reader int, topic []byte, pub string, out []target) []target {
	rl := &r.readers[reader]
	rl.RLock()
	start := len(out)
	// A filter starting with a wildcard never matches a topic starting with
	// '$' [MQTT-4.7.2-1].
	out = r.root.collect(topic, len(topic) > 0 && topic[0] == '$', out)
	out, rl.viaCluster = r.pickShared(out, start, topic, pub)
	rl.RUnlock()
	return out
}

// collect matches the levels of topic (one or more, joined by '/') below n.
// noWild suppresses '+' and '#' at this level.
func (n *node) collect(topic []byte, noWild bool, out []target) []target {
	if !noWild {
		if n.hash != nil {
			out = n.hash.appendSubs(out)
		}
	}
	level, rest, more := topic, []byte(nil), false
	if i := bytes.IndexByte(topic, '/'); i >= 0 {
		level, rest, more = topic[:i], topic[i+1:], true
	}
	if n.children != nil {
		if c := n.children[string(level)]; c != nil {
			out = c.next(rest, more, out)
		}
	}
	if !noWild && n.plus != nil {
		out = n.plus.next(rest, more, out)
	}
	return out
}

// next continues a match at n, which matched one level.
func (n *node) next(rest []byte, more bool, out []target) []target {
	if more {
		return n.collect(rest, false, out)
	}
	out = n.appendSubs(out)
	if n.hash != nil { // "sport/#" also matches "sport" [MQTT-4.7.1-2]
		out = n.hash.appendSubs(out)
	}
	return out
}

func (n *node) appendSubs(out []target) []target {
	for _, e := range n.subs {
		t := target{s: e.s, qos: e.qos}
		if e.qos&filteredSub != 0 {
			t.qos, t.only = e.qos&^filteredSub, n.filtered[e.s]
		}
		out = append(out, t)
	}
	for _, g := range n.groups {
		out = append(out, target{g: g})
	}
	return out
}
