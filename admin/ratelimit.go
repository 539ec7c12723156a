package admin

import (
	"golang.org/x/time/rate"
)

// action is what a request asks for; metrics and rate limits are kept per
// action.
type action uint8

const (
	actionDescribe action = iota // Tencent DescribeMQTTClient
	actionQuery                  // Alibaba QuerySessionByClientId
	actionNative                 // native JSON API, /healthz, /metrics
	actionUnknown                // a cloud request naming no action we serve
	numActions
)

var actionNames = [numActions]string{describeAction, queryAction, "native", "unknown"}

func (a action) String() string { return actionNames[a] }

// limiter holds one token bucket per rate-limited action (the two cloud
// actions). Safe for concurrent use.
type limiter struct {
	buckets [actionNative]*rate.Limiter
}

// newLimiter returns token buckets refilled at describe and query requests
// per second. The burst is a tenth of a second's worth, at least 1: small,
// so that a sustained overload is held to the rate within a few percent
// (the cloud limits are per second, not per burst).
func newLimiter(describe, query float64) limiter {
	return limiter{buckets: [actionNative]*rate.Limiter{
		actionDescribe: rate.NewLimiter(rate.Limit(describe), burstFor(describe)),
		actionQuery:    rate.NewLimiter(rate.Limit(query), burstFor(query)),
	}}
}

func burstFor(r float64) int {
	return max(1, int(r/10))
}

// allow takes a token for a, reporting false when a is over its limit.
// Actions without a bucket are always allowed. It never blocks.
func (l limiter) allow(a action) bool {
	if a >= actionNative {
		return true
	}
	return l.buckets[a].Allow()
}

// rates returns the configured rate of each limited action, for /metrics.
func (l limiter) rates() [actionNative]float64 {
	var r [actionNative]float64
	for i, b := range l.buckets {
		r[i] = float64(b.Limit())
	}
	return r
}
