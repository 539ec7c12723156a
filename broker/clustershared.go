package broker

import (
	"hash/maphash"
	"strings"

	"github.com/glassmq/glassmq/session"
)

// Shared subscriptions in a cluster. On one node a group at a filter gives
// each matching message to one of its members (shared.go). In a cluster
// whose Cluster also implements SharedCluster, the choice is cluster-wide:
//
//   - The engine reports a group's first and last member on this node
//     (SharedInterest), and no longer counts members as interest in the
//     filter: plain subscribers alone bring a topic's normal traffic here.
//   - A topic that is forwarded (any topic not starting with '$') never
//     reaches the local groups through route, whether published here or
//     delivered by DeliverRemote: the cluster picks one node per message
//     among those with members, this one included, and that node's
//     cluster calls DeliverShared, which gives the message to one member of
//     that one group, picked by -shared-subscription-strategy among the
//     node's own members.
//   - $-topics are never forwarded: their groups stay local.

// SharedCluster is what a Cluster implements to serve shared subscriptions
// cluster-wide. SharedInterest reports that the group at filter (without
// the "$share/GROUP/" prefix) gained its first member on this node (add)
// or lost its last. Calls for one group and filter come in order, under
// the subscription tree's write lock: it must not block.
type SharedCluster interface {
	SharedInterest(group, filter string, add bool)
}

// DeliverShared gives messages that the cluster picked this node for to one
// member each of the shared subscription group at filter, and to nobody
// else: each calls deliver once per message; from is the publisher's client
// ID (for -shared-subscription-strategy hash_clientid). A retained message
// is delivered as a live one and not stored (its retained copy travels on
// its own). A message for a group with no member left here, or none that
// can take it, is dropped, as a local one would be. The slices need stay
// valid only during deliver. Safe for concurrent use.
func (e *Engine) DeliverShared(group, filter string, each func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte))) {
	e.withForeignLoop(func(ls *loopState) {
		each(func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte) {
			// Not counted as received: the origin node counted it.
			t, ok := e.router.pickGroup(ls.idx, group, filter, topic, from)
			if !ok {
				return
			}
			var msg *session.Message
			if retain {
				msg = session.NewMessageProps(topic, payload, props, qos, true, expires)
			}
			ls.pubSeq++
			ls.props5, ls.expires = props, expires
			ts := append(ls.targets[:0], t)
			ls.routeTo(ts, topic, payload, qos, msg)
			clear(ts)
			ls.targets = ts[:0]
			ls.props5, ls.expires = nil, 0
		})
	})
	// With -fsync always the marker behind these waits for the store
	// before it is answered (WhenRemoteDurable, clusterrepl.go).
}

// pickGroup returns the member of the group named group at filter that gets
// a message on topic published by the client ID from, as pickShared would.
// ok is false when the group has no member here that can take it. reader is
// the caller's loop index. Safe for concurrent use.
func (r *router) pickGroup(reader int, group, filter string, topic, from []byte) (t target, ok bool) {
	rl := &r.readers[reader]
	rl.RLock()
	defer rl.RUnlock()
	n := r.root.lookup(filter)
	if n == nil {
		return t, false
	}
	g := n.group(group)
	if g == nil {
		return t, false
	}
	var h uint64
	if r.share == shareHashClientID {
		h = maphash.Bytes(r.seed, from) // the same hash as maphash.String of the client ID
	}
	m, ok := g.pick(r.share, h, topic)
	if !ok {
		return t, false
	}
	return target{s: m.s, qos: m.qos, shared: 1 + m.qos, only: m.only}, true
}

// group returns the shared subscription group named name at n, nil when
// there is none.
func (n *node) group(name string) *shareGroup {
	for _, g := range n.groups {
		if g.name == name {
			return g
		}
	}
	return nil
}

// interested reports whether n brings its filter's normal traffic to this
// node: any subscription, plain or shared, or with split (the cluster
// serves groups on their own) plain ones only.
func (n *node) interested(split bool) bool {
	if split {
		return len(n.subs) > 0
	}
	return n.subscribed()
}

// reportInterest tells the cluster every filter and group that has
// subscribers now, as add and remove will from then on. The caller holds
// the write lock.
func (r *router) reportInterest() {
	split := r.sharedInterest != nil
	var walk func(n *node, path []string)
	walk = func(n *node, path []string) {
		if path != nil {
			filter := strings.Join(path, "/")
			if n.interested(split) {
				r.interest(filter, true)
			}
			if split {
				for _, g := range n.groups {
					r.sharedInterest(g.name, filter, true)
				}
			}
		}
		n.eachChild(func(level string, c *node) { walk(c, append(path, level)) })
	}
	walk(&r.root, nil)
}
