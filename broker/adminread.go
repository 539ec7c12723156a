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

// withPrefix appends the messages whose topic starts with prefix.
// Safe for concurrent use.
func (r *retainedStore) withPrefix(prefix string, dst []*session.Message) []*session.Message {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for topic, m := range r.m {
		if strings.HasPrefix(topic, prefix) {
			dst = append(dst, m)
		}
	}
	return dst
}
