//go:build !race

package admin

import (
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/session"
)

// allocsPerRequest serves raw repeatedly and returns the allocations per
// request after warm-up.
func allocsPerRequest(t *testing.T, s *Server, raw string) float64 {
	req := parseRequest(t, raw)
	var ctx fasthttp.RequestCtx
	ctx.Init(req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}, nil)
	h := s.Handler()
	return testing.AllocsPerRun(200, func() {
		req.CopyTo(&ctx.Request)
		ctx.Response.Reset()
		h(&ctx)
	})
}

// TestHandlerAllocs pins the allocations of the cloud handlers, and checks
// that they do not grow with the session: the pooled state and response
// buffers are reused, whatever the number of subscriptions. The bounds are
// what crypto/hmac (a new keyed hash per derived key: TC3 derives four per
// request) and encoding/json (the request body, the answer from the vendor
// structs' tags) cost, measured: a few microseconds a request against rate
// limits of tens to hundreds a second.
func TestHandlerAllocs(t *testing.T) {
	big := seedInfo()
	big.ClientID = "big"
	for i := range 200 {
		big.Subscriptions = append(big.Subscriptions, session.Subscription{TopicFilter: fmt.Sprintf("sensors/%d/#", i), QoS: 1})
	}
	s := newTestServer(t, newFakeBroker(seedInfo(), big), withKeys)
	ts := testNow.Unix()
	cases := []struct {
		name string
		raw  string
		max  float64
	}{
		{"TC3 POST", tc3Post(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`, ts).raw(), 44},
		{"TC3 POST, 200 subscriptions", tc3Post(`{"InstanceId":"mqtt-local","ClientId":"big"}`, ts).raw(), 44},
		{"TC3 GET", tc3Get(url.Values{"ClientId": {"sub_client2"}, "InstanceId": {"mqtt-local"}}, ts).raw(), 38},
		{"HmacSHA256", tcLegacyPost(tcLegacyParams("mqtt-local", "sub_client2", ts), "HmacSHA256").raw(), 12},
	}
	got := map[string]float64{}
	for _, c := range cases {
		n := allocsPerRequest(t, s, c.raw)
		got[c.name] = n
		if n > c.max {
			t.Errorf("%s: %v allocs/request, want at most %v", c.name, n, c.max)
		}
	}
	if small, big := got["TC3 POST"], got["TC3 POST, 200 subscriptions"]; big > small {
		t.Errorf("TC3 POST: %v allocs/request with 200 subscriptions, %v with 2: allocations grow with the session", big, small)
	}
	u := newTestServer(t, newFakeBroker(seedInfo()), nil)
	raw := unsignedRPC(url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"mqtt-local"}, "ClientId": {"sub_client2"}}).raw()
	if n := allocsPerRequest(t, u, raw); n > 4 {
		t.Errorf("QuerySessionByClientId: %v allocs/request, want at most 4 (request ID, client ID, answer encoding)", n)
	}
}
