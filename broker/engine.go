package broker

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
	"github.com/glassmq/glassmq/trace"
)

// clientSession is a session as the engine holds it: attached to at most
// one *Conn.
type clientSession = session.Session[Conn]

// Version is glassmq's version, published on $SYS/broker/version.
const Version = "0.1.0"

// Engine is the MQTT protocol engine: sessions, routing, QoS flows, wills,
// retained messages and keep-alive. Transports feed it connections through
// Open. Create it with NewEngine.
type Engine struct {
	cfg       Config
	clock     Clock
	reg       session.Registry[Conn]
	router    router
	retained  retainedStore
	stats     *stats.Broker
	log       *throttledLog
	store     session.Store // nil with -persistence off
	auth      Authorizer    // nil: everyone may do everything
	enhanced  EnhancedAuth  // MQTT 5.0 enhanced authentication (enhauth.go); nil: no method offered
	authQueue chan authJob  // CONNECTs waiting for an authentication worker
	own       *ownSeam      // cluster-wide client ID claims; nil outside a cluster (clusterown.go)
	// wills replicated for the survivors of this node; nil outside a cluster (clusterwill.go)
	cwills      ClusterWills
	tracer      *trace.Tracer // nil: no traces (tracehooks.go)
	cluster     Cluster       // nil: a single node (cluster.go)
	loopCluster LoopCluster   // cluster, when it keeps each loop's forwards apart; else nil (cluster.go)
	// outboundHardLimit is the most output one connection may have waiting:
	// -max-outbound of QoS 0, a full in-flight window of the largest
	// packets, and slack for replies. Past it the client is a slow consumer
	// and is closed.
	outboundHardLimit int
	syncAcks          bool // -fsync always: publishers' acks wait for the store
	handoffLimit      int  // bound of each loop's hand-off queue, QoS 0 bytes (see handoff)

	remoteUnstored atomic.Uint64 // messages from other nodes not stored durably (clusterrepl.go)

	loopsMu   sync.Mutex
	loops     []*loopState // by loop index
	foreign   sync.Mutex   // serialises use of foreignLS
	foreignLS *loopState   // for work outside any event loop ($SYS, ticker)

	conns    connSet      // open connections, for the ticker and shutdown
	wills    delayedWills // 5.0 wills waiting for their Will Delay Interval (willdelay.go)
	started  time.Time
	stopping atomic.Bool
	stop     chan struct{}
	tickDone chan struct{}
}

// NewEngine returns an engine for c, which must have passed Validate.
func NewEngine(c Config) *Engine {
	n := c.loops()
	if c.netListeners() {
		n *= 2 // one goroutine-backed loop per core for TLS and WebSocket connections
	}
	clock := c.Clock
	if clock == nil {
		clock = systemClock{}
	}
	e := &Engine{cfg: c, clock: clock, stats: stats.NewBroker(n), log: newThrottledLog(c.LogInterval),
		started: clock.Now(), stop: make(chan struct{}), tickDone: make(chan struct{})}
	e.reg.Limits = session.Limits{QueueMax: c.MaxQueued, InflightMax: c.MaxInflight,
		MaxExpiry: int64(c.SessionExpiry / time.Second)}
	e.reg.Queued = &e.stats.QueuedNow
	e.router.init(n + 1) // a reader per loop and one for the foreign loopState
	e.router.share, _ = parseShareStrategy(c.SharedSubscriptionStrategy)
	e.loops = make([]*loopState, 0, n)
	e.foreignLS = newLoopState(e, n, nil)
	e.outboundHardLimit = c.MaxOutbound + c.MaxInflight*c.MaxPacketSize + 64<<10
	e.handoffLimit = max(handoffMaxBytes, 2*c.MaxOutbound)
	return e
}

// Stats returns the broker-wide counters. Safe for concurrent use.
func (e *Engine) Stats() *stats.Broker { return e.stats }

// UseStore makes the engine persist to st and restores what st holds:
// persistent sessions (offline, with their subscriptions, queued and
// in-flight messages) and retained messages. Sessions idle past
// -session-expiry are deleted instead. Call it once, before Start.
func (e *Engine) UseStore(st session.Store) error {
	sessions, retained, err := st.Load()
	if err != nil {
		return err
	}
	e.store = st
	e.reg.Store = st
	e.syncAcks = e.cfg.Fsync == "always"
	now := e.nowMillis()
	for i := range sessions {
		s, ok := e.reg.Restore(&sessions[i], now)
		if !ok {
			continue
		}
		if s.Expire(now) { // idle past its expiry while the broker was down
			s.End()
			continue
		}
		e.stats.Sessions.Add(1)
		var perms Permissions // the ACL of the session's user, as its SUBSCRIBEs had
		if e.auth != nil {
			perms = e.auth.For(s.Meta().Username, s.ClientID)
		}
		for _, sub := range s.Subscriptions() {
			var only Permissions
			if perms != nil {
				if granted, filtered := perms.CanSubscribe(matchFilter(sub.TopicFilter)); !granted || filtered {
					only = perms // withhold what the ACL denies, as at SUBSCRIBE
				}
			}
			e.router.add(sub.TopicFilter, s, sub.QoS, only)
			e.stats.Subscriptions.Add(1)
		}
	}
	for _, m := range retained {
		e.retained.set(m, nil)
	}
	e.stats.Retained.Store(int64(len(retained)))
	return nil
}

// Config returns the engine's configuration. Safe for concurrent use.
func (e *Engine) Config() Config { return e.cfg }

// Start starts the engine's ticker (keep-alive, connect timeouts, session
// expiry, $SYS). Call it once, before connections arrive.
func (e *Engine) Start() {
	reserveFDs(e.cfg.MaxConnections + 256)
	go e.tickLoop()
}

// BindLoop registers an event loop and returns the handle its connections
// use. Transports call it once per loop, from any goroutine; at most the
// configured number of loops may be bound. Safe for concurrent use.
func (e *Engine) BindLoop(l Loop) *LoopHandle {
	e.loopsMu.Lock()
	defer e.loopsMu.Unlock()
	idx := len(e.loops)
	if idx >= e.stats.NumLoops()-1 {
		panic("broker: more event loops bound than configured")
	}
	ls := newLoopState(e, idx, l)
	ls.in.init(l, e.handoffLimit, &ls.st.Handoff, ls.drainHandoff)
	e.loops = append(e.loops, ls)
	return &LoopHandle{ls}
}

// LoopHandle is an event loop bound to an Engine.
type LoopHandle struct{ ls *loopState }

// withForeignLoop runs fn with the loopState for work outside any event
// loop, then flushes what fn produced. Safe for concurrent use.
func (e *Engine) withForeignLoop(fn func(ls *loopState)) {
	e.foreign.Lock()
	defer e.foreign.Unlock()
	fn(e.foreignLS)
	e.foreignLS.flush()
}

// Open starts a connection from t on the loop h. The connection must hold
// a slot from Admit, which its close gives back. Loop-only (h's loop).
func (e *Engine) Open(t Transport, h *LoopHandle) *Conn {
	return e.openIn(new(Conn), t, h)
}

// openIn is Open into c, a zero Conn the caller allocated (gnet's
// transport allocates it together with itself). Loop-only (h's loop).
func (e *Engine) openIn(c *Conn, t Transport, h *LoopHandle) *Conn {
	c.e, c.ls, c.t, c.addr = e, h.ls, t, t.RemoteAddr()
	now := e.now().UnixNano()
	c.lastActivity.Store(now)
	c.openedAt = now
	e.conns.add(c)
	return c
}

// Admit takes a slot for a new network connection, counted in
// Stats().Connections: false when shutting down or at -max-connections.
// Checking and counting are one atomic step, so listeners on every loop
// and goroutine together never open more than the limit. A connection
// admitted and then not opened (a failed TLS handshake) gives its slot
// back with Release; an opened one gives it back when it closes.
// Safe for concurrent use.
func (e *Engine) Admit() bool {
	limit := int64(e.cfg.MaxConnections)
	for {
		n := e.stats.Connections.Load()
		if e.stopping.Load() || n >= limit {
			return false
		}
		if e.stats.Connections.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release gives back a slot that Admit took for a connection that was
// never opened. Safe for concurrent use.
func (e *Engine) Release() { e.stats.Connections.Add(-1) }

// Shutdown closes every connection with reason server_shutdown (wills are not
// published: a clean shutdown is not the client's failure) and stops the
// ticker. It waits up to timeout for connections to close. Safe for
// concurrent use; call once.
func (e *Engine) Shutdown(timeout time.Duration) {
	if e.stopping.Swap(true) {
		return
	}
	close(e.stop)
	<-e.tickDone
	e.conns.each(func(c *Conn) {
		c.ls.loop.Execute(func() {
			c.closeWith(session.ReasonShutdown, "", false)
			c.ls.flush()
		})
	})
	deadline := time.Now().Add(timeout)
	for e.stats.Connections.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// assignClientID returns a new unique client ID for a client that sent an
// empty one with CleanSession 1 [MQTT-3.1.3-6].
func assignClientID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("broker: crypto/rand failed: " + err.Error())
	}
	return "glassmq-" + hex.EncodeToString(b[:])
}
