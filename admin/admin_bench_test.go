package admin

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/session"
)

// handlerLoop serves raw through the handler repeatedly, as a connection's
// worker would: the request is copied in fresh (so it is parsed again) and
// the response reset each time. It returns the last response body.
func handlerLoop(b *testing.B, s *Server, raw string, run func(func())) string {
	req := parseRequest(b, raw)
	var ctx fasthttp.RequestCtx
	ctx.Init(req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}, nil)
	h := s.Handler()
	run(func() {
		req.CopyTo(&ctx.Request)
		ctx.Response.Reset()
		h(&ctx)
	})
	return string(ctx.Response.Body())
}

func benchLoop(b *testing.B) func(func()) {
	return func(f func()) {
		f() // warm the pools
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			f()
		}
	}
}

// BenchmarkDescribeMQTTClient measures the whole handler for the client
// of Tencent's documented example: parse, (verify), look up, encode.
func BenchmarkDescribeMQTTClient(b *testing.B) {
	body := `{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`
	ts := testNow.Unix()
	cases := []struct {
		name string
		keys bool
		req  *testReq
	}{
		{"unsigned", false, unsignedTC3(body)},
		{"TC3-POST", true, tc3Post(body, ts)},
		{"TC3-GET", true, tc3Get(url.Values{"ClientId": {"sub_client2"}, "InstanceId": {"mqtt-local"}}, ts)},
		{"HmacSHA256", true, tcLegacyPost(tcLegacyParams("mqtt-local", "sub_client2", ts), "HmacSHA256")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			mod := func(*Config) {}
			if c.keys {
				mod = withKeys
			}
			s := newTestServer(b, newFakeBroker(seedInfo()), mod)
			out := handlerLoop(b, s, c.req.raw(), benchLoop(b))
			if !strings.Contains(out, `"ConnectionStatus":"CONNECTED"`) {
				b.Fatalf("not a success: %s", out)
			}
		})
	}
}

// BenchmarkQuerySessionByClientId measures the Alibaba handler, unsigned
// (signed requests need a fresh nonce each time).
func BenchmarkQuerySessionByClientId(b *testing.B) {
	s := newTestServer(b, newFakeBroker(seedInfo()), nil)
	r := unsignedRPC(url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"mqtt-local"}, "ClientId": {"sub_client2"}, "Format": {"JSON"}})
	out := handlerLoop(b, s, r.raw(), benchLoop(b))
	if !strings.Contains(out, `"OnlineStatus":true`) {
		b.Fatalf("not a success: %s", out)
	}
}

// BenchmarkClientList pages through 100k sessions: the first page, a page
// from a cursor in the middle, and the online-only filter.
func BenchmarkClientList(b *testing.B) {
	const n = 100_000
	fb := newFakeBroker()
	for i := range n {
		id := fmt.Sprintf("GID_dev@@@%06d", (i*7919)%n) // inserted out of order
		fb.sessions[id] = &session.Info{ClientID: id, Connected: i%2 == 0}
	}
	s := newTestServer(b, fb, nil)
	mid := fmt.Sprintf("GID_dev@@@%06d", n/2)
	cursor := base64.RawURLEncoding.EncodeToString([]byte(mid))
	for _, c := range []struct{ name, query string }{
		{"100k/first-page-100", "limit=100"},
		{"100k/cursor-page-100", "limit=100&cursor=" + cursor},
		{"100k/online-page-1000", "status=online&limit=1000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := &testReq{method: "GET", path: "/api/v1/clients", query: c.query}
			out := handlerLoop(b, s, r.raw(), benchLoop(b))
			if !strings.Contains(out, `"next_cursor":"`) || strings.Contains(out, `"error"`) {
				b.Fatalf("bad page: %.200s", out)
			}
		})
	}
}
