package admin

import (
	"bytes"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/internal/longtest"
)

func TestBurstFor(t *testing.T) {
	for _, c := range []struct {
		rate float64
		want int
	}{{0.5, 1}, {1, 1}, {20, 20}, {500, 500}, {15, 15}, {2.5, 3}} {
		if got := burstFor(c.rate); got != c.want {
			t.Errorf("burstFor(%v) = %d, want %d", c.rate, got, c.want)
		}
	}
}

// TestRateLimitOverload offers 4x an action's limit for 3 s from concurrent
// clients to a real server on loopback, and checks that the sustained
// accepted rate (after the initial burst of one second's worth) stays within
// 10% of the limit, the rest answered with the vendor's throttle error.
func TestRateLimitOverload(t *testing.T) {
	longtest.Skip(t, "fills both buckets for 3 s each")
	cases := []struct {
		name     string
		rate     float64
		workers  int
		prepare  func(req *fasthttp.Request, addr string)
		accepted func(resp *fasthttp.Response) (ok, throttled bool)
	}{
		{"DescribeMQTTClient", DefaultDescribeRate, 4,
			func(req *fasthttp.Request, addr string) {
				req.SetRequestURI("http://" + addr + "/")
				req.Header.SetMethod("POST")
				req.Header.SetContentType("application/json")
				req.Header.Set("X-TC-Action", "DescribeMQTTClient")
				req.Header.Set("X-TC-Version", "2023-03-08")
				req.SetBodyString(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`)
			},
			func(resp *fasthttp.Response) (bool, bool) {
				b := resp.Body()
				return resp.StatusCode() == 200 && bytes.Contains(b, []byte(`"ConnectionStatus":"CONNECTED"`)),
					bytes.Contains(b, []byte(`"Code":"RequestLimitExceeded"`))
			}},
		{"QuerySessionByClientId", DefaultQueryRate, 16,
			func(req *fasthttp.Request, addr string) {
				req.SetRequestURI("http://" + addr + "/?Action=QuerySessionByClientId&InstanceId=mqtt-local&ClientId=sub_client2&Format=JSON")
				req.Header.SetMethod("POST")
			},
			func(resp *fasthttp.Response) (bool, bool) {
				b := resp.Body()
				return resp.StatusCode() == 200 && bytes.Contains(b, []byte(`"OnlineStatus":true`)),
					resp.StatusCode() == 500 && bytes.Contains(b, []byte(`"Code":"SystemOverFlow"`))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(DefaultConfig(), newFakeBroker(seedInfo()), nil)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- s.Serve(ln) }()
			defer func() {
				if err := s.Shutdown(); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				if err := <-served; err != nil {
					t.Errorf("Serve: %v", err)
				}
			}()
			addr := ln.Addr().String()
			client := &fasthttp.HostClient{Addr: addr, MaxConns: tc.workers}

			const window = 3 * time.Second
			offered := 4 * tc.rate
			interval := time.Duration(float64(time.Second) / offered)
			total := int64(offered * window.Seconds())
			var next, sent, ok, throttled, other atomic.Int64
			var last atomic.Int64          // nanoseconds after start of the last request sent
			sentAt := make([]int64, total) // when each request left, ns after start; -1 for one never sent
			for i := range sentAt {
				sentAt[i] = -1
			}
			start := time.Now().Add(20 * time.Millisecond)
			var wg sync.WaitGroup
			for range tc.workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
					defer fasthttp.ReleaseRequest(req)
					defer fasthttp.ReleaseResponse(resp)
					for {
						i := next.Add(1) - 1
						if i >= total {
							return
						}
						at := start.Add(time.Duration(i) * interval)
						if d := time.Until(at); d > 0 {
							time.Sleep(d)
						} else if d < -window/3 {
							return // hopelessly behind: this machine cannot offer the load
						}
						req.Reset()
						tc.prepare(req, addr)
						sentAt[i] = int64(time.Since(start))
						err := client.Do(req, resp)
						sent.Add(1)
						last.Store(int64(time.Since(start)))
						if err != nil {
							other.Add(1)
							continue
						}
						switch a, th := tc.accepted(resp); {
						case a:
							ok.Add(1)
						case th:
							throttled.Add(1)
						default:
							other.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			span := time.Duration(last.Load()).Seconds()
			// The bucket starts full: one second's worth passes at once,
			// then the refill rate holds. Judge the sustained rate.
			acceptedRate := float64(ok.Load()-int64(burstFor(tc.rate))) / span
			offeredRate := float64(sent.Load()) / span
			t.Logf("%s: limit %.0f/s (burst %d), offered %.0f/s (%d requests in %.2f s), accepted %d = %.1f/s (%+.1f%%), throttled %d, other %d",
				tc.name, tc.rate, burstFor(tc.rate), offeredRate, sent.Load(), span, ok.Load(), acceptedRate, 100*(acceptedRate/tc.rate-1), throttled.Load(), other.Load())
			if other.Load() != 0 {
				t.Errorf("%d answers were neither success nor the throttle error", other.Load())
			}
			if acceptedRate > 1.1*tc.rate {
				t.Errorf("accepted %.1f/s, want at most %.1f/s (limit + 10%%)", acceptedRate, 1.1*tc.rate)
			}
			// The lower bound is judged against the requests as they really
			// left: a loaded machine sends them in bursts with gaps, and a
			// gap is time the limit could not be used. A token bucket of the
			// limit's rate and burst, fed the same send times, accepts want.
			want := bucketAccepts(sentAt, tc.rate, burstFor(tc.rate))
			if math.Abs(float64(ok.Load()-want)) > 0.1*float64(want) {
				t.Errorf("accepted %d, want within 10%% of %d, what a bucket of %.0f/s (burst %d) accepts from the same send times",
					ok.Load(), want, tc.rate, burstFor(tc.rate))
			}
		})
	}
}

// TestBurstAfterPause: a script's N back-to-back calls after a pause all
// pass for N = the limit (the clouds count requests per second), over a
// real listener with the default limits; the 2N-th back-to-back call of an
// action limited to 20/s is refused, so the bucket is not unlimited.
func TestBurstAfterPause(t *testing.T) {
	s, err := New(DefaultConfig(), newFakeBroker(seedInfo()), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer func() { _ = s.Shutdown() }()
	addr := ln.Addr().String()
	client := &fasthttp.HostClient{Addr: addr}
	call := func(prepare func(*fasthttp.Request)) []byte {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + addr + "/")
		req.Header.SetMethod("POST")
		prepare(req)
		if err := client.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		return bytes.Clone(resp.Body())
	}
	tc3 := func(action, version, body string) func(*fasthttp.Request) {
		return func(req *fasthttp.Request) {
			req.Header.SetContentType("application/json")
			req.Header.Set("X-TC-Action", action)
			req.Header.Set("X-TC-Version", version)
			req.SetBodyString(body)
		}
	}
	describe := tc3("DescribeMQTTClient", "2023-03-08", `{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`)
	list := tc3("DescribeClientList", "2024-05-16", `{"InstanceId":"mqtt-local"}`)
	query := func(req *fasthttp.Request) {
		req.SetRequestURI("http://" + addr + "/?Action=QuerySessionByClientId&InstanceId=mqtt-local&ClientId=sub_client2&Format=JSON")
	}
	throttled := func(b []byte) bool {
		return bytes.Contains(b, []byte("RequestLimitExceeded")) || bytes.Contains(b, []byte("SystemOverFlow"))
	}
	for _, c := range []struct {
		name    string
		limit   int
		prepare func(*fasthttp.Request)
	}{
		{"DescribeMQTTClient", DefaultDescribeRate, describe},
		{"DescribeClientList", 20, list},
		{"QuerySessionByClientId", DefaultQueryRate, query},
	} {
		for i := range c.limit {
			if b := call(c.prepare); throttled(b) {
				t.Fatalf("%s: call %d of %d back to back refused: %s", c.name, i+1, c.limit, b)
			}
		}
	}
	// The buckets refill: after a pause, the same again.
	time.Sleep(time.Second)
	refused := 0
	for i := range 2 * DefaultDescribeRate {
		b := call(describe)
		if throttled(b) {
			if i < DefaultDescribeRate {
				t.Fatalf("DescribeMQTTClient after a pause: call %d refused: %s", i+1, b)
			}
			refused++
		}
	}
	if refused == 0 {
		t.Errorf("DescribeMQTTClient: %d calls back to back all passed; want the limit (20/s) to refuse some", 2*DefaultDescribeRate)
	}
}

// bucketAccepts counts the requests, sent at the given times (ns after a
// common start, -1 for none, in any order), that a token bucket of rate per
// second holding burst tokens, full at the first, accepts.
func bucketAccepts(sentAt []int64, rate float64, burst int) int64 {
	ts := slices.DeleteFunc(slices.Clone(sentAt), func(t int64) bool { return t < 0 })
	slices.Sort(ts)
	tokens, n := float64(burst), int64(0)
	for i, t := range ts {
		if i > 0 {
			tokens = min(float64(burst), tokens+float64(t-ts[i-1])*rate/1e9)
		}
		if tokens >= 1 {
			tokens--
			n++
		}
	}
	return n
}
