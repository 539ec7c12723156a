package broker

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/glassmq/glassmq/session"
)

// retainedStore holds the last retained message of each topic in a tree
// with one node per topic level, the shape of the subscription tree
// (router): an exact filter walks its levels, a wildcard walks only the
// subtrees it matches, and nothing scans the whole store. It is a second
// tree rather than the router's because the two are walked the other way
// round (a topic against filters there, a filter against topics here) and
// a retained walk must be able to stop and resume (see retainedCursor).
//
// Concurrency: writers (PUBLISH with RETAIN on any loop) take mu for one
// path; cursors (SUBSCRIBEs on any loop) take its read lock for one
// bounded slice of their walk at a time and hold nothing in between. Each
// node keeps its children in an append-only slice besides the index by
// key, so a cursor can remember its place as (slice, position): children
// added later land past the slice it holds and are not seen, children
// removed stay in it marked gone, and a compaction (dropping gone children
// once they are half the slice) builds a new slice without touching the
// old one. A node's message is an atomic pointer read when the cursor
// sends it, so the subscriber gets the message current at that moment.
type retainedStore struct {
	mu   sync.RWMutex
	root rnode
}

// rnode is one topic level of the retained tree.
type rnode struct {
	key string                          // this level; immutable
	msg atomic.Pointer[session.Message] // nil when the topic has no retained message

	// Guarded by retainedStore.mu.
	kids  []*rnode          // children in the order created; may hold gone ones
	index map[string]*rnode // live children by key
	gone  int               // gone children in kids
	dead  bool              // removed from the tree; never revived
}

// compactMin is the fewest gone children worth a compaction of kids.
const compactMin = 16

// set stores m for its topic, or deletes the topic's retained message when
// m's payload is empty [MQTT-3.3.1-10]. It reports the change in count.
// persist, when not nil, is called under the lock, so the store sees changes
// to one topic in the order they happen. Cost: one map lookup per level.
// Safe for concurrent use.
func (r *retainedStore) set(m *session.Message, persist func(*session.Message)) (delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if persist != nil {
		persist(m)
	}
	topic := string(m.Topic)
	if len(m.Payload) == 0 {
		return r.root.clear(topic)
	}
	n := &r.root
	for level := range strings.SplitSeq(topic, "/") {
		c := n.index[level]
		if c == nil {
			if n.index == nil {
				n.index = make(map[string]*rnode)
			}
			c = &rnode{key: level}
			n.index[level] = c
			n.kids = append(n.kids, c)
		}
		n = c
	}
	if n.msg.Swap(m) == nil {
		return 1
	}
	return 0
}

// clear deletes the retained message of topic (levels joined by '/') below
// n and removes the nodes left empty. It reports the change in count. The
// caller holds the write lock.
func (n *rnode) clear(topic string) (delta int) {
	level, rest, more := strings.Cut(topic, "/")
	c := n.index[level]
	if c == nil {
		return 0
	}
	if more {
		delta = c.clear(rest)
	} else if c.msg.Swap(nil) != nil {
		delta = -1
	}
	if c.msg.Load() == nil && len(c.index) == 0 {
		n.removeKid(c)
	}
	return delta
}

// removeKid takes the empty child c out of n: out of the index at once,
// out of kids at the next compaction. The caller holds the write lock.
func (n *rnode) removeKid(c *rnode) {
	delete(n.index, c.key)
	c.dead = true
	n.gone++
	if n.gone < compactMin || 2*n.gone < len(n.kids) {
		return
	}
	// Cursors may hold the old slice: build a new one.
	kids := make([]*rnode, 0, len(n.kids)-n.gone)
	for _, k := range n.kids {
		if !k.dead {
			kids = append(kids, k)
		}
	}
	n.kids, n.gone = kids, 0
}

// lookup returns the retained message of topic, nil when none. Safe for
// concurrent use.
func (r *retainedStore) lookup(topic string) *session.Message {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := &r.root
	for level := range strings.SplitSeq(topic, "/") {
		if n = n.index[level]; n == nil {
			return nil
		}
	}
	return n.msg.Load()
}

// Bounds of one fill of a cursor: it stops after collecting cursorBatch
// matches or visiting cursorVisits nodes, whichever comes first, so the
// read lock is held for a bounded slice whatever the tree's size.
const (
	cursorBatch  = 256
	cursorVisits = 4096
)

// retainedCursor walks the retained messages matching one topic filter, in
// slices: fill collects the next matches into pending under the read lock,
// peek and advance hand them out. A cursor sends each node at most once,
// and sends every node whose topic had a retained message throughout its
// walk (see retainedStore). It belongs to one connection's loop.
type retainedCursor struct {
	levels  []string    // the filter's levels
	qos     byte        // granted QoS of the subscription
	only    Permissions // nil, or the client's ACL when it withholds some of the filter's topics
	stack   []rframe    // children still to visit, innermost last
	pending []*rnode    // matched nodes not yet sent, from pi on
	pi      int
}

// rframe is a list of children still to visit, and how to match them.
type rframe struct {
	kids     []*rnode // a snapshot of a node's kids
	i        int      // next to visit
	d        int      // filter level the children continue at; -1: every node below matches ('#')
	noDollar bool     // children at the first level: wildcards skip '$' topics [MQTT-4.7.2-1]
}

// newCursor returns a cursor over the retained messages matching filter, a
// valid topic filter, and makes its first descent: an exact filter is
// resolved here, at the cost of one map lookup per level. Safe for
// concurrent use.
func (r *retainedStore) newCursor(filter string, qos byte) *retainedCursor {
	cur := &retainedCursor{levels: strings.Split(filter, "/"), qos: qos}
	r.mu.RLock()
	cur.visit(&r.root, 0)
	r.mu.RUnlock()
	return cur
}

// visit matches n, which matched filter levels before d, against the rest
// of the filter: it collects n when the filter ends here, follows literal
// levels at once and pushes a frame for a wildcard. The caller holds the
// read lock.
func (cur *retainedCursor) visit(n *rnode, d int) {
	for {
		if d == len(cur.levels) {
			cur.collect(n)
			return
		}
		switch cur.levels[d] {
		case "#":
			if d > 0 {
				cur.collect(n) // "sport/#" matches "sport" too [MQTT-4.7.1-2]
			}
			cur.push(n, -1, d == 0)
			return
		case "+":
			cur.push(n, d+1, d == 0)
			return
		}
		if n = n.index[cur.levels[d]]; n == nil {
			return
		}
		d++
	}
}

func (cur *retainedCursor) collect(n *rnode) {
	if n.msg.Load() != nil {
		cur.pending = append(cur.pending, n)
	}
}

func (cur *retainedCursor) push(n *rnode, d int, noDollar bool) {
	if len(n.kids) > 0 {
		cur.stack = append(cur.stack, rframe{kids: n.kids, d: d, noDollar: noDollar})
	}
}

// fill collects the next matches into pending, at most cursorBatch of
// them and at most cursorVisits nodes visited, under the read lock. Safe
// for concurrent use with writers; Loop-only for the cursor.
func (cur *retainedCursor) fill(r *retainedStore) {
	if len(cur.stack) == 0 {
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for visits := 0; visits < cursorVisits && len(cur.pending)-cur.pi < cursorBatch && len(cur.stack) > 0; visits++ {
		top := len(cur.stack) - 1
		f := &cur.stack[top]
		if f.i == len(f.kids) {
			cur.stack[top] = rframe{}
			cur.stack = cur.stack[:top]
			continue
		}
		c := f.kids[f.i]
		f.i++
		if c.dead || f.noDollar && strings.HasPrefix(c.key, "$") {
			continue
		}
		if f.d < 0 {
			cur.collect(c)
			cur.push(c, -1, false)
		} else {
			cur.visit(c, f.d)
		}
	}
}

// peek returns the next message to send, filling from r when pending is
// used up; nil when the walk is over. A node whose message was deleted
// since it was collected is skipped. Loop-only.
func (cur *retainedCursor) peek(r *retainedStore) *session.Message {
	for {
		for cur.pi < len(cur.pending) {
			if m := cur.pending[cur.pi].msg.Load(); m != nil {
				return m
			}
			cur.advance()
		}
		cur.pending, cur.pi = cur.pending[:0], 0
		if len(cur.stack) == 0 {
			return nil
		}
		cur.fill(r)
	}
}

// advance moves past the message peek returned. Loop-only.
func (cur *retainedCursor) advance() {
	cur.pending[cur.pi] = nil
	cur.pi++
}

// backlog estimates the messages still to send: those collected, plus
// the children still to visit on the walk's path (exact for filters like
// "dev/+/state", fewer than remain for a '#' over deep subtrees). Loop-only.
func (cur *retainedCursor) backlog() int {
	n := len(cur.pending) - cur.pi
	for i := range cur.stack {
		n += len(cur.stack[i].kids) - cur.stack[i].i
	}
	return n
}
