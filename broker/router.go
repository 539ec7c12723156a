package broker

import (
	"bytes"
	"strings"
	"sync"
)

// target is one session a PUBLISH matched, with the QoS of its subscription.
// only is nil unless the subscription is filtered (an ACL deny rule is
// narrower than its filter): then only topics only.CanReceive allows may be
// delivered through it.
type target struct {
	s    *clientSession
	qos  byte
	only Permissions
}

// filteredSub marks, in node.subs, a subscription whose deliveries need a
// per-topic ACL check; its Permissions are in node.filtered.
const filteredSub = 0x80

// node is one topic level of the subscription tree.
type node struct {
	children map[string]*node
	subs     map[*clientSession]byte // subscription QoS by session, | filteredSub
	// filtered holds the permissions of the filtered subscriptions at this
	// node; nil while there are none, as for almost every node.
	filtered map[*clientSession]Permissions
}

// router is the subscription tree. Each event loop matches under a read
// lock of its own (readers[i], on its own cache line), so PUBLISHes on
// different loops never touch a shared lock word; SUBSCRIBE and UNSUBSCRIBE
// take every reader's lock, in index order (a "big reader" lock: writes are
// rare and cost one lock per loop).
type router struct {
	readers  []readLock
	root     node
	interest func(filter string, add bool) // nil, or the cluster's (cluster.go)
}

// readLock is one reader's lock, padded so two loops' locks never share a
// cache line.
type readLock struct {
	sync.RWMutex
	_ [64 - 24]byte
}

// init gives the router n readers: one per event loop and one for work
// outside any loop. Call before use.
func (r *router) init(n int) { r.readers = make([]readLock, n) }

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
// Safe for concurrent use.
func (r *router) add(filter string, s *clientSession, qos byte, only Permissions) {
	r.lock()
	defer r.unlock()
	n := &r.root
	for level := range strings.SplitSeq(filter, "/") {
		c := n.children[level]
		if c == nil {
			if n.children == nil {
				n.children = make(map[string]*node)
			}
			c = &node{}
			n.children[level] = c
		}
		n = c
	}
	if n.subs == nil {
		n.subs = make(map[*clientSession]byte)
	}
	if r.interest != nil && len(n.subs) == 0 {
		r.interest(filter, true) // the filter's first subscriber on this node
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
	n.subs[s] = qos
}

// remove unsubscribes s from filter and prunes empty nodes. Safe for
// concurrent use.
func (r *router) remove(filter string, s *clientSession) {
	r.lock()
	defer r.unlock()
	if r.interest != nil && r.lastSubscriberLocked(filter, s) {
		defer r.interest(filter, false)
	}
	r.root.remove(filter, s)
}

func (n *node) remove(filter string, s *clientSession) (empty bool) {
	level, rest, more := strings.Cut(filter, "/")
	c := n.children[level]
	if c == nil {
		return false
	}
	if more {
		if c.remove(rest, s) {
			delete(n.children, level)
		}
	} else {
		delete(c.subs, s)
		if c.filtered != nil {
			delete(c.filtered, s)
		}
		if len(c.subs) == 0 && len(c.children) == 0 {
			delete(n.children, level)
		}
	}
	return len(n.subs) == 0 && len(n.children) == 0
}

// match appends to out every subscription whose filter matches topic, a
// valid topic name. A session may appear more than once (overlapping
// filters); the caller merges. It does not allocate beyond growing out.
// reader is the caller's loop index (see init). Safe for concurrent use.
func (r *router) match(reader int, topic []byte, out []target) []target {
	rl := &r.readers[reader]
	rl.RLock()
	// A filter starting with a wildcard never matches a topic starting with
	// '$' [MQTT-4.7.2-1].
	out = r.root.collect(topic, len(topic) > 0 && topic[0] == '$', out)
	rl.RUnlock()
	return out
}

// collect matches the levels of topic (one or more, joined by '/') below n.
// noWild suppresses '+' and '#' at this level.
func (n *node) collect(topic []byte, noWild bool, out []target) []target {
	if !noWild {
		if h := n.children["#"]; h != nil {
			out = h.appendSubs(out)
		}
	}
	level, rest, more := topic, []byte(nil), false
	if i := bytes.IndexByte(topic, '/'); i >= 0 {
		level, rest, more = topic[:i], topic[i+1:], true
	}
	if c := n.children[string(level)]; c != nil {
		out = c.next(rest, more, out)
	}
	if !noWild {
		if c := n.children["+"]; c != nil {
			out = c.next(rest, more, out)
		}
	}
	return out
}

// next continues a match at n, which matched one level.
func (n *node) next(rest []byte, more bool, out []target) []target {
	if more {
		return n.collect(rest, false, out)
	}
	out = n.appendSubs(out)
	if h := n.children["#"]; h != nil { // "sport/#" also matches "sport" [MQTT-4.7.1-2]
		out = h.appendSubs(out)
	}
	return out
}

func (n *node) appendSubs(out []target) []target {
	for s, q := range n.subs {
		t := target{s: s, qos: q}
		if q&filteredSub != 0 {
			t.qos, t.only = q&^filteredSub, n.filtered[s]
		}
		out = append(out, t)
	}
	return out
}
