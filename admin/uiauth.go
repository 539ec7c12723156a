package admin

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"
)

// Dashboard logins. When credentials are configured, the dashboard's
// browser proves itself once: POST /ui/login with a configured secret (the
// same one the native API takes as "Authorization: Bearer <secret>") gets
// an HttpOnly, SameSite=Strict cookie naming a random session, and a CSRF
// token. Requests carrying the cookie may read the native API; a request
// that changes something (DELETE) must also carry the token in the
// X-CSRF-Token header, which a page of another site can neither read nor
// send. Without credentials the admin port listens on loopback only and
// the dashboard needs no login.

const (
	uiCookie      = "glassmq_ui"
	csrfHeader    = "X-CSRF-Token"
	uiSessionTTL  = 12 * time.Hour
	maxUISessions = 1024 // oldest logins are forgotten beyond this
	loginRate     = 5    // failed and successful logins per second, all browsers together
	loginBurst    = 10
)

// uiLogin is one logged-in browser.
type uiLogin struct {
	csrf    string
	expires time.Time
}

// uiLogins holds the dashboard's logins in memory: a restart logs every
// browser out. Safe for concurrent use.
type uiLogins struct {
	mu     sync.Mutex
	m      map[string]uiLogin // by session token
	limit  *rate.Limiter      // of login attempts
	random func([]byte)       // crypto/rand.Read; never fails
}

func newUILogins() *uiLogins {
	return &uiLogins{
		m:      make(map[string]uiLogin),
		limit:  rate.NewLimiter(loginRate, loginBurst),
		random: func(b []byte) { rand.Read(b) },
	}
}

// token returns 32 random bytes as URL-safe base64.
func (l *uiLogins) token() string {
	var b [32]byte
	l.random(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// add creates a login valid until now+uiSessionTTL and returns its session
// token and CSRF token.
func (l *uiLogins) add(now time.Time) (session, csrf string) {
	session, csrf = l.token(), l.token()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= maxUISessions {
		l.pruneLocked(now)
	}
	for len(l.m) >= maxUISessions { // all alive: forget the one expiring first
		var oldest string
		var at time.Time
		for k, v := range l.m {
			if oldest == "" || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		delete(l.m, oldest)
	}
	l.m[session] = uiLogin{csrf: csrf, expires: now.Add(uiSessionTTL)}
	return session, csrf
}

// pruneLocked deletes expired logins. l.mu must be held.
func (l *uiLogins) pruneLocked(now time.Time) {
	for k, v := range l.m {
		if !now.Before(v.expires) {
			delete(l.m, k)
		}
	}
}

// lookup returns the login of session token t, if it exists and has not
// expired.
func (l *uiLogins) lookup(t []byte, now time.Time) (uiLogin, bool) {
	if len(t) == 0 {
		return uiLogin{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[string(t)]
	if !ok || !now.Before(v.expires) {
		return uiLogin{}, false
	}
	return v, true
}

// remove forgets session token t.
func (l *uiLogins) remove(t []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, string(t))
}

// UISession answers GET /ui/session: whether the dashboard must log in,
// whether this browser has, and the CSRF token to send with changes.
type UISession struct {
	AuthRequired  bool   `json:"auth_required"`
	Authenticated bool   `json:"authenticated"`
	CSRF          string `json:"csrf,omitempty"`
	// Cluster view: the node belongs to a cluster, so the dashboard shows
	// its Cluster page (clusterrepl.go).
	Cluster bool `json:"cluster,omitempty"`
}

// apiAuthorized reports whether the request may use the native API: always
// without credentials (the port is loopback-only then); otherwise with a
// configured secret as a Bearer token, or with a dashboard login cookie,
// which for a change (change true) must come with the login's CSRF token.
func (s *Server) apiAuthorized(ctx *fasthttp.RequestCtx, change bool) bool {
	if !s.authRequired() {
		return true
	}
	if token, ok := bytes.CutPrefix(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization), []byte("Bearer ")); ok {
		return s.creds.bearer(trimSpace(token))
	}
	login, ok := s.logins.lookup(ctx.Request.Header.Cookie(uiCookie), s.now())
	if !ok {
		return false
	}
	if !change {
		return true
	}
	got := ctx.Request.Header.Peek(csrfHeader)
	return subtle.ConstantTimeCompare(got, []byte(login.csrf)) == 1
}

// serveUISession answers GET /ui/session.
func (s *Server) serveUISession(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() {
		s.methodNotAllowed(ctx, "GET", "/ui/session")
		return
	}
	ans := UISession{AuthRequired: s.authRequired(), Authenticated: !s.authRequired()}
	ans.Cluster = s.clustered()
	if login, ok := s.logins.lookup(ctx.Request.Header.Cookie(uiCookie), s.now()); ok && ans.AuthRequired {
		ans.Authenticated, ans.CSRF = true, login.csrf
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	writeJSON(ctx, fasthttp.StatusOK, &ans)
}

// serveLogin answers POST /ui/login with {"secret":".."}: a session cookie
// and {"auth_required":true,"authenticated":true,"csrf":".."} when the
// secret is a configured SecretKey or AccessKeySecret, 401 otherwise.
func (s *Server) serveLogin(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		s.methodNotAllowed(ctx, "POST", "/ui/login")
		return
	}
	if !s.authRequired() {
		writeJSON(ctx, fasthttp.StatusOK, &UISession{Authenticated: true})
		return
	}
	if !s.logins.limit.Allow() {
		s.metrics.request(actionNative, resultThrottled)
		nativeError(ctx, fasthttp.StatusTooManyRequests, "throttled", "admin: too many dashboard logins; try again in a second")
		return
	}
	var req struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusBadRequest, "bad_request", `admin: /ui/login wants a JSON body {"secret":"<a configured SecretKey or AccessKeySecret>"}`)
		return
	}
	if !s.creds.bearer([]byte(req.Secret)) {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "admin: that is not a configured SecretKey or AccessKeySecret")
		return
	}
	session, csrf := s.logins.add(s.now())
	s.setUICookie(ctx, session, int(uiSessionTTL/time.Second))
	s.metrics.request(actionNative, resultOK)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	writeJSON(ctx, fasthttp.StatusOK, &UISession{AuthRequired: true, Authenticated: true, CSRF: csrf})
}

// serveLogout answers POST /ui/logout: the login is forgotten and the
// cookie cleared. It needs the CSRF token, so no other site can log the
// browser out.
func (s *Server) serveLogout(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		s.methodNotAllowed(ctx, "POST", "/ui/logout")
		return
	}
	if s.authRequired() && s.apiAuthorized(ctx, true) {
		s.logins.remove(ctx.Request.Header.Cookie(uiCookie))
		s.setUICookie(ctx, "", -1)
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// setUICookie sets (or, with maxAge < 0, deletes) the session cookie.
func (s *Server) setUICookie(ctx *fasthttp.RequestCtx, value string, maxAge int) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(uiCookie)
	c.SetValue(value)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(ctx.IsTLS())
	if maxAge < 0 {
		c.SetExpire(fasthttp.CookieExpireDelete)
	} else {
		c.SetMaxAge(maxAge)
	}
	ctx.Response.Header.SetCookie(c)
}
