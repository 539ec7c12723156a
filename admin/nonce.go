package admin

import (
	"sync"
	"time"
)

// Signature time windows: how far a request's timestamp may be from server
// time, each way.
const (
	tencentWindow = 5 * time.Minute  // TC3 and legacy: Tencent expires signatures after 5 minutes
	alibabaWindow = 15 * time.Minute // RPC Timestamp and ACS3 x-acs-date: Alibaba wants them within 15 minutes
)

// nonceGens is the number of generations of nonceCache. With generations
// one window long, live nonces (expiring between now and now + 2 windows)
// span at most 3 consecutive generations; a fourth slot keeps them apart.
const nonceGens = 4

// maxNonces bounds the nonce cache for the Alibaba actions' summed rate:
// all the nonces that rate can bring in three windows (the longest a nonce
// is kept), plus slack.
func maxNonces(alibabaRate float64) int {
	return int(alibabaRate*3*alibabaWindow.Seconds()) + 4096
}

// alibabaRate is the sum of the rate limits of c's Alibaba actions.
func alibabaRate(c *Config) float64 {
	var r float64
	for a := range numLimited {
		if actionSpecs[a].cloud == cloudAlibaba {
			r += c.limit(a).Rate
		}
	}
	return r
}

// nonceCache makes Alibaba signature nonces single-use for as long as the
// request that carried them could be accepted: until its timestamp plus the
// window. Nonces are grouped in generations by that expiry, and a whole
// generation is dropped once it has expired, so memory is bounded without
// scanning; at most max nonces are held. Safe for concurrent use.
type nonceCache struct {
	mu     sync.Mutex
	period int64 // seconds of expiry covered by one generation
	gens   [nonceGens]nonceGen
	n      int // nonces held, over all generations
	max    int
}

type nonceGen struct {
	id  int64 // expiry / period; valid while set is not empty
	set map[string]struct{}
}

func newNonceCache(window time.Duration, max int) *nonceCache {
	c := &nonceCache{period: int64(window / time.Second), max: max}
	for i := range c.gens {
		c.gens[i].set = make(map[string]struct{})
	}
	return c
}

// nonceResult is the answer of nonceCache.use.
type nonceResult uint8

const (
	nonceFresh nonceResult = iota // first use: now recorded
	nonceUsed                     // seen before, within its window
	nonceFull                     // not seen, but the cache is full
)

// use records key, whose request stops being acceptable at expiry, and
// reports whether it was fresh.
func (c *nonceCache) use(key string, expiry, now time.Time) nonceResult {
	e, n := expiry.Unix(), now.Unix()
	e = max(e, n)
	id := e / c.period
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.gens {
		g := &c.gens[i]
		if len(g.set) > 0 && (g.id+1)*c.period <= n { // every expiry in g has passed
			c.n -= len(g.set)
			clear(g.set)
		}
	}
	for i := range c.gens {
		if _, ok := c.gens[i].set[key]; ok {
			return nonceUsed
		}
	}
	if c.n >= c.max {
		return nonceFull
	}
	g := &c.gens[id%nonceGens]
	if len(g.set) == 0 || g.id < id {
		// Empty, or (after the clock went back) holding an earlier id of
		// the same slot: keeping the later id only keeps nonces longer.
		g.id = id
	}
	g.set[key] = struct{}{}
	c.n++
	return nonceFresh
}

// len returns the number of nonces held.
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
