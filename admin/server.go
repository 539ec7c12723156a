package admin

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
	"github.com/glassmq/glassmq/trace"
)

// Broker is all that admin reads from the broker. Safe for concurrent use;
// never blocks on an event loop.
type Broker interface {
	// SessionInfo fills dst with the session of clientID and reports whether
	// one exists.
	SessionInfo(clientID string, dst *session.Info) bool
	// RangeSessions calls fn for every session until fn returns false; order
	// unspecified. It holds no lock while fn runs, so fn may call
	// SessionInfo.
	RangeSessions(fn func(clientID string, connected bool) bool)
	// Kick closes the client's network connection (reason "kicked");
	// publishWill chooses whether its will is published. It reports false
	// when the client is not connected.
	Kick(clientID string, publishWill bool) bool
}

// Store is what admin reads of the broker's on-disk store, for /healthz and
// /metrics. Safe for concurrent use; never blocks.
type Store interface {
	// Err returns why the store is failing now (a write or sync error), or
	// nil when it is healthy.
	Err() error
	// Stats returns the store's counters.
	Stats() *stats.Store
}

// Server is the admin HTTP server: Tencent DescribeMQTTClient, Alibaba
// QuerySessionByClientId, the native JSON API, the dashboard at /ui,
// /healthz and /metrics on one fasthttp listener. Create it with New.
type Server struct {
	cfg      Config
	broker   Broker
	ops      Operations // nil when broker does not implement it
	retained Retained   // nil when broker does not implement it
	logins   *uiLogins  // the dashboard's logged-in browsers
	devices  DeviceCredentials
	tracer   *trace.Tracer // nil: no traces
	creds    *credentials
	limits   limiter
	nonces   *nonceCache
	metrics  *metrics
	store    atomic.Pointer[Store] // nil: no store (persistence off)
	httpd    *fasthttp.Server
	states   sync.Pool                // of *reqState
	cl       clusterState             // in a cluster: /api/v1/cluster, its metrics, shared rate limits (cluster.go)
	rt       atomic.Pointer[realtime] // set by Serve with -admin-realtime-priority (realtime.go)

	// now and newUUID are time.Now and uuid.New; tests replace them.
	now     func() time.Time
	newUUID func() uuid.UUID
}

// Limits of the HTTP server.
const (
	maxRequestBody = 64 << 10 // the cloud requests carry two short IDs
	readTimeout    = 10 * time.Second
	writeTimeout   = 10 * time.Second
	idleTimeout    = 60 * time.Second
)

// New validates c (see Config.Validate), loads its credentials and returns a
// server reading sessions from b and broker-wide counters from st (nil
// leaves the broker metrics out). When b also implements Operations, the
// actions that change the broker are served. Device credentials are kept in
// memory (see UseDeviceCredentials). It starts nothing; call Serve.
func New(c Config, b Broker, st *stats.Broker) (*Server, error) {
	if b == nil {
		return nil, errors.New("admin: New: nil Broker")
	}
	creds, err := c.validate()
	if err != nil {
		return nil, err
	}
	creds.prepare()
	s := &Server{
		cfg:     c,
		broker:  b,
		creds:   creds,
		limits:  newLimiter(&c),
		nonces:  newNonceCache(alibabaWindow, maxNonces(alibabaRate(&c))),
		now:     time.Now,
		newUUID: uuid.New,
	}
	s.ops, _ = b.(Operations)
	s.retained, _ = b.(Retained)
	s.logins = newUILogins()
	s.devices = NewMemoryDeviceCredentials()
	s.metrics = newMetrics(st, s.limits.rates, s.storeOf)
	s.states.New = func() any { return new(reqState) }
	s.httpd = &fasthttp.Server{
		Handler:                      s.handle,
		Name:                         "glassmq",
		ReadTimeout:                  readTimeout,
		WriteTimeout:                 writeTimeout,
		IdleTimeout:                  idleTimeout,
		MaxRequestBodySize:           maxRequestBody,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		NoDefaultContentType:         true,
		Logger:                       httpLogger{},
	}
	return s, nil
}

// WatchStore makes /healthz answer 503 while st reports a failure and adds
// st's counters to /metrics. Safe for concurrent use.
func (s *Server) WatchStore(st Store) {
	s.store.Store(&st)
}

// storeOf returns the watched store, or nil.
func (s *Server) storeOf() Store {
	if p := s.store.Load(); p != nil {
		return *p
	}
	return nil
}

// UseDeviceCredentials replaces the in-memory device credential store, so
// credentials can outlive a restart. Call it before Serve.
func (s *Server) UseDeviceCredentials(d DeviceCredentials) { s.devices = d }

// Serve accepts connections on ln and serves them until Shutdown, when it
// returns nil. Safe for concurrent use.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.RealtimePriority > 0 {
		return s.serveRealtime(ln)
	}
	return s.httpd.Serve(ln)
}

// Handler returns the request handler, for serving without a socket (tests,
// fasthttp.ServeConn). Safe for concurrent use.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// Shutdown closes the listeners and waits for requests in progress to end.
// Safe for concurrent use.
func (s *Server) Shutdown() error {
	if s.cfg.RealtimePriority > 0 {
		if s.rt.CompareAndSwap(nil, stoppedRealtime) {
			return nil // Serve has not started; it will return at once
		}
		return s.rt.Load().shutdown()
	}
	return s.httpd.Shutdown()
}

// reqState is the per-request scratch space, pooled: the DescribeMQTTClient
// path reuses its slices instead of allocating.
type reqState struct {
	info  session.Info
	tc    DescribeMQTTClientResponse
	treq  DescribeMQTTClientRequest
	buf   []byte // canonical request
	sts   []byte // string to sign
	pairs []kv
}

func (s *Server) getState() *reqState { return s.states.Get().(*reqState) }

func (s *Server) putState(st *reqState) {
	const maxKeep = 64 << 10 // do not pool what one huge session grew
	if cap(st.buf) > maxKeep || len(st.info.History) > 4096 {
		return
	}
	st.tc.clear()
	s.states.Put(st)
}

// resetInfo empties st.info, keeping the capacity of its slices for the
// broker to fill.
func (st *reqState) resetInfo() { resetInfo(&st.info) }

// requestID returns a new random UUID text, upper case for Alibaba (as its
// cloud writes them) and lower case for Tencent.
func (s *Server) requestID(upper bool) string {
	u := s.newUUID()
	const lower, upperHex = "0123456789abcdef", "0123456789ABCDEF"
	digits := lower
	if upper {
		digits = upperHex
	}
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = digits[c>>4], digits[c&0xf]
		j += 2
	}
	return string(b[:])
}

// failure is a vendor error to answer: code "" means none.
type failure struct {
	status int    // HTTP status; Alibaba only (Tencent answers every error with 200)
	code   string // the vendor's error code
	msg    string // the vendor's message, with our detail
	hint   string // Alibaba "Recommend"
}

// handle routes a request by path. The cloud dialects are served at "/".
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.URI().PathOriginal()
	switch {
	case len(path) == 1 && path[0] == '/':
		s.serveCloud(ctx)
	case string(path) == "/healthz":
		s.serveHealthz(ctx)
	case string(path) == "/metrics":
		s.serveMetrics(ctx)
	case bytes.HasPrefix(path, []byte(tracesPath)):
		s.serveTraces(ctx, path)
	case bytes.HasPrefix(path, []byte(clientsPath)):
		s.serveNative(ctx, path)
	case string(path) == overviewPath:
		s.serveOverview(ctx)
	case string(path) == retainedPath:
		s.serveRetained(ctx)
	case string(path) == clusterPath:
		s.serveCluster(ctx)
	case string(path) == uiPath || bytes.HasPrefix(path, []byte(uiPath+"/")):
		s.serveUI(ctx, string(path))
	default:
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusNotFound, "not_found",
			"admin: no endpoint "+quote(path)+"; try /ui, /api/v1/clients, /api/v1/overview, /api/v1/retained, /api/v1/traces/clients/{id}, /healthz, /metrics, or / for the Tencent and Alibaba APIs")
	}
}

// serveCloud serves the Tencent and Alibaba dialects, told apart by detect.
func (s *Server) serveCloud(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsPost() {
		s.metrics.request(actionUnknown, resultError)
		ctx.Response.Header.Set("Allow", "GET, POST")
		nativeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed",
			"admin: method "+quote(ctx.Method())+" at /; the Tencent and Alibaba APIs take GET or POST")
		return
	}
	d := detect(ctx)
	switch d.scheme {
	case schemeTC3, schemeTencentLegacy:
		s.serveTencent(ctx, d)
	case schemeACS3, schemeRPC:
		s.serveAlibaba(ctx, d)
	default:
		s.metrics.request(actionUnknown, resultError)
		nativeError(ctx, fasthttp.StatusBadRequest, "unknown_dialect",
			"admin: not a Tencent or Alibaba API request; want an Authorization header, an X-TC-Action or x-acs-action header, or Action, SecretId or AccessKeyId parameters")
	}
}

// authRequired reports whether cloud requests must be signed: whenever any
// key is configured.
func (s *Server) authRequired() bool { return !s.creds.empty() }

// httpLogger passes fasthttp's lines (mostly connections it could not
// serve: bad requests, timeouts) to slog's default logger at level Warn.
type httpLogger struct{}

// Printf logs one fasthttp line. Safe for concurrent use.
func (httpLogger) Printf(format string, args ...any) {
	slog.Warn("admin: " + fmt.Sprintf(format, args...))
}
