package admin

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/trace"
)

func nativeGet(t *testing.T, s *Server, path, query string, out any) int {
	t.Helper()
	resp := serve(t, s, &testReq{method: "GET", path: path, query: query})
	if out != nil {
		if err := json.Unmarshal(resp.Body(), out); err != nil {
			t.Fatalf("GET %s?%s: not JSON: %v\n%s", path, query, err, resp.Body())
		}
	}
	return resp.StatusCode()
}

func TestNativeClient(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo(), weirdInfo()), nil)
	for _, path := range []string{
		"/api/v1/clients/" + url.PathEscape(weirdID),
		"/api/v1/clients/GID_test@@@dev%201*~%2F%C3%A9+&=", // only what must be escaped
	} {
		var c Client
		if code := nativeGet(t, s, path, "", &c); code != 200 || c.ClientID != weirdID {
			t.Errorf("GET %s: %d %q, want 200 %q", path, code, c.ClientID, weirdID)
		}
	}
	var c Client
	nativeGet(t, s, "/api/v1/clients/sub_client2", "", &c)
	if c.Status != "online" || c.Received.Bytes != 134 || c.Sent.Bytes != 40 || len(c.Subscriptions) != 4 || c.DisconnectTime != "" || c.DisconnectTimeMs != 0 {
		t.Errorf("documented example client: %+v", c)
	}
	var e APIError
	if code := nativeGet(t, s, "/api/v1/clients/nobody", "", &e); code != 404 || e.Error.Code != "not_found" || !strings.HasPrefix(e.Error.Message, "admin: ") {
		t.Errorf("unknown client: %d %+v", code, e)
	}
	if code := nativeGet(t, s, "/api/v1/clients/bad%zzescape", "", &e); code != 400 || e.Error.Code != "bad_request" {
		t.Errorf("bad escape: %d %+v", code, e)
	}
	if code := nativeGet(t, s, "/api/v1/clientsfoo", "", &e); code != 404 {
		t.Errorf("/api/v1/clientsfoo: %d, want 404", code)
	}
	resp := serve(t, s, &testReq{method: "POST", path: "/api/v1/clients/sub_client2"})
	if resp.StatusCode() != 405 || string(resp.Header.Peek("Allow")) != "GET, DELETE" {
		t.Errorf("POST: %d Allow %q", resp.StatusCode(), resp.Header.Peek("Allow"))
	}
}

func TestNativeKick(t *testing.T) {
	online := func(id string) *session.Info { return &session.Info{ClientID: id, Connected: true} }
	b := newFakeBroker(online("a"), online(weirdID), &session.Info{ClientID: "offline"})
	s := newTestServer(t, b, nil)
	kickReq := func(id, query string) *testReq {
		return &testReq{method: "DELETE", path: "/api/v1/clients/" + url.PathEscape(id), query: query}
	}
	var k KickResult
	resp := serve(t, s, kickReq("a", ""))
	if err := json.Unmarshal(resp.Body(), &k); err != nil || resp.StatusCode() != 200 || !k.Kicked || !k.PublishWill {
		t.Errorf("kick a: %d %s", resp.StatusCode(), resp.Body())
	}
	resp = serve(t, s, kickReq(weirdID, "will=false"))
	if err := json.Unmarshal(resp.Body(), &k); err != nil || resp.StatusCode() != 200 || k.PublishWill || k.ClientID != weirdID {
		t.Errorf("kick weird, will=false: %d %s", resp.StatusCode(), resp.Body())
	}
	if want := []kick{{"a", true}, {weirdID, false}}; !slices.Equal(b.kicks, want) {
		t.Errorf("broker saw kicks %v, want %v", b.kicks, want)
	}
	for _, id := range []string{"a", "offline", "nobody"} {
		resp = serve(t, s, kickReq(id, ""))
		var e APIError
		_ = json.Unmarshal(resp.Body(), &e)
		if resp.StatusCode() != 404 || e.Error.Code != "not_connected" {
			t.Errorf("kick %s (not connected): %d %s", id, resp.StatusCode(), resp.Body())
		}
	}
	if resp = serve(t, s, kickReq("a", "will=maybe")); resp.StatusCode() != 400 {
		t.Errorf("will=maybe: %d, want 400", resp.StatusCode())
	}
}

// TestNativeListPaging walks every page while clients come and go: each
// client that exists throughout appears exactly once, in byte order.
func TestNativeListPaging(t *testing.T) {
	b := newFakeBroker()
	for i := range 250 {
		id := fmt.Sprintf("c%03d", i)
		b.sessions[id] = &session.Info{ClientID: id, Connected: i%3 == 0}
	}
	b.sessions[weirdID] = &session.Info{ClientID: weirdID, Connected: true}
	s := newTestServer(t, b, nil)

	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		var l ClientList
		q := url.Values{"limit": {"40"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if code := nativeGet(t, s, "/api/v1/clients", q.Encode(), &l); code != 200 {
			t.Fatalf("page %d: status %d", page, code)
		}
		for _, c := range l.Clients {
			seen = append(seen, c.ClientID)
		}
		// Churn between pages: add IDs before and after the cursor, remove
		// one not yet seen... but never one of the c### that stay.
		b.mu.Lock()
		b.sessions[fmt.Sprintf("a-new-%d", page)] = &session.Info{ClientID: "x"} // before every cursor: never shown
		delete(b.sessions, fmt.Sprintf("z-gone-%d", page-1))
		b.sessions[fmt.Sprintf("z-gone-%d", page)] = &session.Info{}
		b.mu.Unlock()
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
		if page > 20 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.IsSorted(seen) {
		t.Errorf("pages not in byte order: %v", seen)
	}
	count := map[string]int{}
	for _, id := range seen {
		count[id]++
	}
	for i := range 250 {
		if id := fmt.Sprintf("c%03d", i); count[id] != 1 {
			t.Errorf("%s seen %d times, want 1", id, count[id])
		}
	}
	if count[weirdID] != 1 {
		t.Errorf("%q seen %d times, want 1", weirdID, count[weirdID])
	}

	var l ClientList
	nativeGet(t, s, "/api/v1/clients", "status=online&limit=1000", &l)
	for _, c := range l.Clients {
		if c.Status != "online" {
			t.Errorf("status=online listed %+v", c)
		}
	}
	if n := len(l.Clients); n != 84+1 || l.NextCursor != "" {
		t.Errorf("status=online: %d clients, next %q; want 85 and no next page", n, l.NextCursor)
	}
	nativeGet(t, s, "/api/v1/clients", "status=offline&limit=1000", &l)
	for _, c := range l.Clients {
		if c.Status != "offline" {
			t.Errorf("status=offline listed %+v", c)
		}
	}
	for _, q := range []string{"status=sleeping", "limit=0", "limit=1001", "limit=x", "cursor=!!!"} {
		var e APIError
		if code := nativeGet(t, s, "/api/v1/clients", q, &e); code != 400 || e.Error.Code != "bad_request" {
			t.Errorf("%s: %d %+v, want 400 bad_request", q, code, e)
		}
	}
}

// TestNativeAuth: with credentials the native API wants a bearer secret;
// /healthz and /metrics stay open.
func TestNativeAuth(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), withKeys)
	get := func(path, auth string) int {
		r := &testReq{method: "GET", path: path}
		if auth != "" {
			r.set("Authorization", auth)
		}
		return serve(t, s, r).StatusCode()
	}
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/api/v1/clients/sub_client2", "", 401},
		{"/api/v1/clients/sub_client2", "Bearer wrong", 401},
		{"/api/v1/clients/sub_client2", "Bearer " + tcSecretID, 401}, // the ID is not the secret
		{"/api/v1/clients/sub_client2", "Bearer " + tcSecretKey, 200},
		{"/api/v1/clients", "Bearer " + alSecret, 200},
		{"/healthz", "", 200},
		{"/metrics", "", 200},
	} {
		if got := get(c.path, c.auth); got != c.want {
			t.Errorf("GET %s with %q: %d, want %d", c.path, c.auth, got, c.want)
		}
	}
}

func TestHealthz(t *testing.T) {
	s := newTestServer(t, newFakeBroker(), nil)
	resp := serve(t, s, &testReq{method: "GET", path: "/healthz"})
	if resp.StatusCode() != 200 || string(resp.Body()) != `{"status":"ok"}` {
		t.Errorf("got %d %s", resp.StatusCode(), resp.Body())
	}
}

// TestNativeListByUsername lists the clients of one user, combined with
// the status filter and paging.
func TestNativeListByUsername(t *testing.T) {
	b := newFakeBroker()
	for i := range 30 {
		id := fmt.Sprintf("dev%02d", i)
		user := []string{"alice", "bob", ""}[i%3]
		b.sessions[id] = &session.Info{ClientID: id, Username: user, Connected: i%2 == 0}
	}
	s := newTestServer(t, b, nil)
	var all []string
	for cursor := ""; ; {
		q := url.Values{"username": {"alice"}, "limit": {"4"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var l ClientList
		if code := nativeGet(t, s, "/api/v1/clients", q.Encode(), &l); code != 200 {
			t.Fatalf("status %d", code)
		}
		for _, c := range l.Clients {
			all = append(all, c.ClientID)
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	if len(all) != 10 || all[0] != "dev00" || all[9] != "dev27" {
		t.Fatalf("alice's clients: %v, want dev00, dev03 ... dev27", all)
	}
	var l ClientList
	nativeGet(t, s, "/api/v1/clients", url.Values{"username": {"alice"}, "status": {"online"}}.Encode(), &l)
	if len(l.Clients) != 5 || l.Clients[1].ClientID != "dev06" {
		t.Fatalf("alice online: %+v, want dev00, dev06, dev12, dev18, dev24", l.Clients)
	}
}

// TestClientCarriesTrace: with traces kept, a client's answer carries its
// newest message trace events (the dashboard's client page shows them);
// connection events and other clients' events stay out.
func TestClientCarriesTrace(t *testing.T) {
	info := seedInfo()
	s := newTestServer(t, newFakeBroker(info), nil)
	tr := trace.New(trace.Config{MaxEvents: 1000}, 1, time.Now())
	s.UseTracer(tr)
	r := tr.Ring(0)
	now := time.Now().UnixMicro()
	id := r.NextMsgID()
	r.Add(trace.Event{Time: now, MsgID: id, ClientID: info.ClientID, Kind: trace.KindPublish, Info: trace.InfoPubFromClient})
	r.Add(trace.Event{Time: now, ClientID: info.ClientID, Kind: trace.KindConnect, Info: trace.InfoAccepted})
	r.Add(trace.Event{Time: now, MsgID: id, ClientID: "someone-else", Kind: trace.KindPush, Info: trace.InfoPushToClient})
	r.Sync()
	resp := serve(t, s, &testReq{method: "GET", path: "/api/v1/clients/" + url.PathEscape(info.ClientID)})
	var c Client
	if err := json.Unmarshal(resp.Body(), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Trace) != 1 || c.Trace[0].Action != "pub_mqtt" || c.Trace[0].MsgID != tr.FormatMsgID(id) {
		t.Fatalf("trace %+v, want the one pub_mqtt event with its message ID", c.Trace)
	}
}
