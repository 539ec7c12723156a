package admin

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// loginCookie logs in with secret and returns the cookie header value and
// the CSRF token.
func loginCookie(t *testing.T, s *Server, secret string) (cookie, csrf string) {
	t.Helper()
	resp := serve(t, s, &testReq{method: "POST", path: "/ui/login", body: `{"secret":"` + secret + `"}`})
	if resp.StatusCode() != 200 {
		t.Fatalf("login: status %d: %s", resp.StatusCode(), resp.Body())
	}
	var ans UISession
	if err := json.Unmarshal(resp.Body(), &ans); err != nil || ans.CSRF == "" || !ans.Authenticated {
		t.Fatalf("login answer %s: %v; want authenticated with a CSRF token", resp.Body(), err)
	}
	var c fasthttp.Cookie
	c.SetKey(uiCookie)
	if !resp.Header.Cookie(&c) {
		t.Fatal("login set no cookie")
	}
	if !c.HTTPOnly() || c.SameSite() != fasthttp.CookieSameSiteStrictMode || string(c.Path()) != "/" {
		t.Errorf("cookie %s: want HttpOnly, SameSite=Strict, Path=/", c.String())
	}
	return uiCookie + "=" + string(c.Value()), ans.CSRF
}

// TestUILogin: with credentials configured, the native API takes a login
// cookie for reads, and for a kick only with the login's CSRF token; a
// wrong secret, an expired or logged-out cookie get nothing.
func TestUILogin(t *testing.T) {
	b := newFakeBroker(seedInfo())
	b.sessions["sub_client2"].Connected = true
	s := newTestServer(t, b, withKeys)
	do := func(method, path, cookie, csrf string) int {
		r := &testReq{method: method, path: path}
		if cookie != "" {
			r.set("Cookie", cookie)
		}
		if csrf != "" {
			r.set(csrfHeader, csrf)
		}
		return serve(t, s, r).StatusCode()
	}
	var ses UISession
	if code := nativeGet(t, s, "/ui/session", "", &ses); code != 200 || !ses.AuthRequired || ses.Authenticated || ses.CSRF != "" {
		t.Errorf("logged out /ui/session: %d %+v; want 200, auth required, not authenticated, no token", code, ses)
	}
	resp := serve(t, s, &testReq{method: "POST", path: "/ui/login", body: `{"secret":"` + tcSecretID + `"}`})
	if resp.StatusCode() != 401 || len(resp.Header.PeekCookie(uiCookie)) != 0 {
		t.Errorf("login with the SecretId, not the key: %d, cookie %q; want 401 and none", resp.StatusCode(), resp.Header.PeekCookie(uiCookie))
	}
	for _, path := range []string{"/api/v1/clients", "/api/v1/clients/sub_client2", "/api/v1/overview", "/api/v1/retained"} {
		if code := do("GET", path, uiCookie+"=forged", ""); code != 401 {
			t.Errorf("GET %s with a forged cookie: %d, want 401", path, code)
		}
	}

	cookie, csrf := loginCookie(t, s, alSecret)
	if code := do("GET", "/api/v1/clients/sub_client2", cookie, ""); code != 200 {
		t.Errorf("GET a client with the cookie: %d, want 200", code)
	}
	if code := do("GET", "/api/v1/overview", cookie, ""); code != 200 {
		t.Errorf("GET the overview with the cookie: %d, want 200", code)
	}
	if code := do("DELETE", "/api/v1/clients/sub_client2", cookie, ""); code != 401 {
		t.Errorf("kick with the cookie and no CSRF token: %d, want 401", code)
	}
	if code := do("DELETE", "/api/v1/clients/sub_client2", cookie, csrf+"x"); code != 401 {
		t.Errorf("kick with a wrong CSRF token: %d, want 401", code)
	}
	if len(b.kicks) != 0 {
		t.Fatalf("kicks without a valid CSRF token reached the broker: %v", b.kicks)
	}
	if code := do("DELETE", "/api/v1/clients/sub_client2", cookie, csrf); code != 200 || len(b.kicks) != 1 {
		t.Errorf("kick with the CSRF token: %d, %d kicks; want 200, 1", code, len(b.kicks))
	}
	if code := nativeGet(t, s, "/ui/session", "", nil); code != 200 {
		t.Errorf("/ui/session: %d", code)
	}

	// Logging out needs the token too, and ends the login.
	if code := do("POST", "/ui/logout", cookie, ""); code != 204 {
		t.Errorf("logout: %d, want 204", code)
	}
	if code := do("GET", "/api/v1/clients", cookie, ""); code != 200 {
		t.Errorf("after a logout without the token: %d, want 200 (still logged in)", code)
	}
	if code := do("POST", "/ui/logout", cookie, csrf); code != 204 {
		t.Errorf("logout: %d, want 204", code)
	}
	if code := do("GET", "/api/v1/clients", cookie, ""); code != 401 {
		t.Errorf("after logout: %d, want 401", code)
	}

	// A login lasts uiSessionTTL.
	cookie, _ = loginCookie(t, s, tcSecretKey)
	s.now = func() time.Time { return testNow.Add(uiSessionTTL) }
	if code := do("GET", "/api/v1/clients", cookie, ""); code != 401 {
		t.Errorf("after %v: %d, want 401", uiSessionTTL, code)
	}
}

// TestUIOpenOnLoopback: without credentials (loopback only) the dashboard
// needs no login and the API no token.
func TestUIOpenOnLoopback(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	var ses UISession
	if code := nativeGet(t, s, "/ui/session", "", &ses); code != 200 || ses.AuthRequired || !ses.Authenticated {
		t.Errorf("/ui/session: %d %+v; want no auth required, authenticated", code, ses)
	}
	if code := serve(t, s, &testReq{method: "DELETE", path: "/api/v1/clients/nobody"}).StatusCode(); code != 404 {
		t.Errorf("kick of an unknown client: %d, want 404 (not 401)", code)
	}
}

// TestUIFiles: the page and its two files come from the binary with a
// policy that lets the page load nothing from elsewhere.
func TestUIFiles(t *testing.T) {
	s := newTestServer(t, newFakeBroker(), withKeys)
	for _, c := range []struct {
		path, ctype string
		code        int
	}{
		{"/ui/", "text/html", 200},
		{"/ui/index.html", "text/html", 200},
		{"/ui/app.js", "javascript", 200},
		{"/ui/app.css", "text/css", 200},
		{"/ui", "", 301},
		{"/ui/nope.js", "application/json", 404},
		{"/ui/ui/app.js", "application/json", 404},
		{"/ui/%2e%2e/server.go", "application/json", 404},
	} {
		resp := serve(t, s, &testReq{method: "GET", path: c.path})
		if resp.StatusCode() != c.code || !strings.Contains(string(resp.Header.ContentType()), c.ctype) {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, resp.StatusCode(), resp.Header.ContentType(), c.code, c.ctype)
		}
		if c.code == 200 {
			if csp := string(resp.Header.Peek("Content-Security-Policy")); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
				t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
			}
		}
	}
	page := serve(t, s, &testReq{method: "GET", path: "/ui/"}).Body()
	for _, ext := range []string{"http://", "https://", "//cdn", "@import"} {
		if strings.Contains(string(page), ext) {
			t.Errorf("index.html refers to %q: the dashboard must load nothing from elsewhere", ext)
		}
	}
}

// TestNativeListSorted pages the client list by traffic and by connect
// time: every client once, in order, with its summary; the prefix filter
// reads only IDs.
func TestNativeListSorted(t *testing.T) {
	b := newFakeBroker()
	const n = 95
	for i := range n {
		id := fmt.Sprintf("dev-%02d", i)
		b.sessions[id] = &session.Info{ClientID: id, Connected: i%2 == 0, Username: "u" + id,
			ConnectTime: int64(1000 + i%7), // ties, broken by ID
			Received:    statsSnapshot(uint64(i * 37 % 101)), Sent: statsSnapshot(uint64(i % 5))}
	}
	b.sessions["other"] = &session.Info{ClientID: "other", Received: statsSnapshot(1 << 40)}
	s := newTestServer(t, b, nil)

	for _, order := range []string{"traffic", "connect_time"} {
		var got []ClientSummary
		cursor := ""
		for page := 0; page < 20; page++ {
			q := url.Values{"sort": {order}, "limit": {"10"}, "prefix": {"dev-"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var l ClientList
			if code := nativeGet(t, s, "/api/v1/clients", q.Encode(), &l); code != 200 {
				t.Fatalf("sort=%s page %d: %d", order, page, code)
			}
			got = append(got, l.Clients...)
			if cursor = l.NextCursor; cursor == "" {
				break
			}
		}
		if len(got) != n {
			t.Fatalf("sort=%s: %d clients, want %d", order, len(got), n)
		}
		key := func(c ClientSummary) int64 {
			if order == "traffic" {
				return int64(c.ReceivedBytes + c.SentBytes)
			}
			return c.ConnectTimeMs
		}
		if !slices.IsSortedFunc(got, func(a, b ClientSummary) int {
			if ka, kb := key(a), key(b); ka != kb {
				return int(kb - ka)
			}
			return strings.Compare(a.ClientID, b.ClientID)
		}) {
			t.Errorf("sort=%s: not in order", order)
		}
		seen := map[string]bool{}
		for _, c := range got {
			if seen[c.ClientID] || c.Username != "u"+c.ClientID {
				t.Errorf("sort=%s: %+v repeated or with the wrong summary", order, c)
			}
			seen[c.ClientID] = true
		}
	}
	var l ClientList
	if code := nativeGet(t, s, "/api/v1/clients", "sort=traffic&limit=1", &l); code != 200 || len(l.Clients) != 1 || l.Clients[0].ClientID != "other" {
		t.Errorf("top by traffic: %d %+v, want other", code, l.Clients)
	}
	for _, q := range []string{"sort=size", "sort=traffic&cursor=" + "bm90LWEta2V5", "status=gone"} {
		if code := nativeGet(t, s, "/api/v1/clients", q, nil); code != 400 {
			t.Errorf("?%s: %d, want 400", q, code)
		}
	}
}

func statsSnapshot(bytes uint64) stats.Snapshot { return stats.Snapshot{Bytes: bytes} }
