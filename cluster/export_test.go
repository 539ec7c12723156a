package cluster

import (
	"testing"
	"time"
)

// Knows reports whether the Router has heard node's heartbeat.
func (r *Router) Knows(node string) bool { return r.knows(node) }

// SetConfirmTimeout sets how long a confirmation is waited for, until the
// test ends. Call it before starting routers.
func SetConfirmTimeout(t testing.TB, d time.Duration) {
	old := confirmTimeout
	confirmTimeout = d
	t.Cleanup(func() { confirmTimeout = old })
}

// SetQueueLimit sets the receive queue's bound, until the test ends. Call
// it before starting routers.
func SetQueueLimit(t testing.TB, n int) {
	old := queueLimit
	queueLimit = n
	t.Cleanup(func() { queueLimit = old })
}
