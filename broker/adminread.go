package broker

import (
	"strings"

	"github.com/glassmq/glassmq/session"
)

// RetainedWithPrefix appends to dst the retained messages whose topic
// starts with prefix ("" for all), in no particular order, and returns dst.
// The messages are immutable and stay valid after the call. It holds the
// retained store's read lock only while copying pointers, never while the
// caller works on them, so a publisher setting a retained message waits at
// most for that copy. Safe for concurrent use.
func (e *Engine) RetainedWithPrefix(prefix string, dst []*session.Message) []*session.Message {
	return e.retained.withPrefix(prefix, dst)
}

// withPrefix appends the messages whose topic starts with prefix. It
// walks only the subtrees whose path can still have the prefix. Safe for
// concurrent use.
func (r *retainedStore) withPrefix(prefix string, dst []*session.Message) []*session.Message {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range r.root.kids {
		dst = k.withPrefix(k.key, prefix, dst)
	}
	return dst
}

// withPrefix visits n, whose topic is path, and its subtree.
func (n *rnode) withPrefix(path, prefix string, dst []*session.Message) []*session.Message {
	if n.dead {
		return dst
	}
	if len(path) < len(prefix) && !strings.HasPrefix(prefix, path) ||
		len(path) >= len(prefix) && !strings.HasPrefix(path, prefix) {
		return dst // nothing below can start with prefix
	}
	if m := n.msg.Load(); m != nil && strings.HasPrefix(path, prefix) {
		dst = append(dst, m)
	}
	for _, k := range n.kids {
		dst = k.withPrefix(path+"/"+k.key, prefix, dst)
	}
	return dst
}
