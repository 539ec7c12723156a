package admin

import (
	"math"

	"golang.org/x/time/rate"
)

// Limit is the token bucket of one cloud action.
type Limit struct {
	Rate  float64 // requests per second, sustained
	Burst int     // requests accepted back to back after a pause; 0 means one second's worth
}

// limiter holds one token bucket per cloud action. Safe for concurrent use.
type limiter struct {
	buckets [numLimited]*rate.Limiter
}

// newLimiter returns the token buckets of c: each action at its vendor's
// limit unless c says otherwise. The burst defaults to one second's worth
// of the rate, as the clouds count requests per second: a script's
// back-to-back calls pass, and under sustained overload the accepted rate
// still converges to the limit (the burst is spent once).
func newLimiter(c *Config) limiter {
	var l limiter
	for a := range numLimited {
		lim := c.limit(a)
		l.buckets[a] = rate.NewLimiter(rate.Limit(lim.Rate), lim.Burst)
	}
	return l
}

// burstFor is one second's worth of r, at least 1.
func burstFor(r float64) int {
	return max(1, int(math.Ceil(r)))
}

// allow takes a token for a, reporting false when a is over its limit.
// Actions without a bucket are always allowed. It never blocks.
func (l limiter) allow(a action) bool {
	if a >= numLimited {
		return true
	}
	return l.buckets[a].Allow()
}

// rates returns the configured rate of each limited action, for /metrics.
func (l limiter) rates() [numLimited]float64 {
	var r [numLimited]float64
	for i, b := range l.buckets {
		r[i] = float64(b.Limit())
	}
	return r
}

// limitOf returns the rate of a, for throttle messages.
func (l limiter) limitOf(a action) float64 {
	if a >= numLimited {
		return 0
	}
	return float64(l.buckets[a].Limit())
}

// SetRateLimits changes every cloud action's token bucket to what c says
// (DescribeRate, QueryRate, Limits), as a SIGHUP with a changed
// configuration file does; the other fields of c are ignored. When c is
// not valid it changes nothing and returns why. Requests in flight finish
// under the old limits. Safe for concurrent use.
func (s *Server) SetRateLimits(c Config) error {
	cur := s.cfg // only the rate fields of c matter: validate them in the running config
	cur.DescribeRate, cur.QueryRate, cur.Limits = c.DescribeRate, c.QueryRate, c.Limits
	if err := cur.Validate(); err != nil {
		return err
	}
	for a := range numLimited {
		s.setLimit(a, cur.limit(a)) // this node's share in a cluster (cluster.go)
	}
	return nil
}
