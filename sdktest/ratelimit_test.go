package sdktest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// Rate-limit tests configure a low rate, fire a burst of concurrent SDK
// calls (some must be throttled), then overload the action for a few
// seconds and expect about rate × duration acceptances. Bounds are loose:
// the machine may be slow, but an unthrottled broker would accept hundreds.
const (
	lowRate        = 5
	burstCalls     = 40
	sustainFor     = 4 * time.Second
	sustainCallers = 4
)

// outcome classifies one call: "" for success, else the error code.
type outcome = string

// burst runs the calls at once, one per goroutine, and counts outcomes.
func burst(calls []func() outcome) map[outcome]int {
	var mu sync.Mutex
	counts := make(map[outcome]int)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, call := range calls {
		wg.Go(func() {
			<-start
			o := call()
			mu.Lock()
			counts[o]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return counts
}

// sustain calls for d from each caller in its own goroutine, as fast as the
// answers come (with a 2 ms breath), and counts outcomes.
func sustain(d time.Duration, calls []func() outcome) (map[outcome]int, time.Duration) {
	var mu sync.Mutex
	counts := make(map[outcome]int)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for _, call := range calls {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				o := call()
				mu.Lock()
				counts[o]++
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	return counts, time.Since(start)
}

func show(counts map[outcome]int) string {
	var parts []string
	for o, n := range counts {
		if o == "" {
			o = "ok"
		}
		parts = append(parts, fmt.Sprintf("%s:%d", o, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// checkRate checks a burst and a sustained overload of one action whose
// throttle answer is code. newCall returns the i-th caller, each with its
// own SDK client: the SDK clients are not all safe for concurrent use.
func checkRate(t *testing.T, newCall func(i int) func() outcome, code string) {
	t.Helper()
	calls := make([]func() outcome, burstCalls)
	for i := range calls {
		calls[i] = newCall(i)
	}
	b := burst(calls)
	t.Logf("burst of %d at %d/s: %s", burstCalls, lowRate, show(b))
	if b[""] == 0 || b[code] == 0 || b[""]+b[code] != burstCalls {
		t.Errorf("burst of %d: %s; want some accepted, some %s, nothing else", burstCalls, show(b), code)
	}
	// A token bucket holds at most about a second of tokens.
	if b[""] > 2*lowRate+1 {
		t.Errorf("burst of %d at %d/s: %d accepted, want at most %d", burstCalls, lowRate, b[""], 2*lowRate+1)
	}

	s, elapsed := sustain(sustainFor, calls[:sustainCallers])
	want := lowRate * elapsed.Seconds()
	t.Logf("sustained %v at %d/s: %s (rate × duration = %.1f)", elapsed.Round(time.Millisecond), lowRate, show(s), want)
	lo, hi := int(0.6*want), int(1.4*want)+lowRate
	if n := s[""]; n < lo || n > hi || s[code] == 0 || n+s[code] != total(s) {
		t.Errorf("sustained overload for %v: %s; want %d..%d accepted, the rest %s", elapsed, show(s), lo, hi, code)
	}
}

func total(counts map[outcome]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func TestTencentRateLimit(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true, rateDescribe: lowRate})
	connectPaho(t, b, seedClientID, true, 60*time.Second)

	checkRate(t, func(i int) func() outcome {
		c := newTencent(t, b, tencentSecretID, tencentSecretKey, tcVariants[i%len(tcVariants)], nil)
		return func() outcome {
			_, err := describe(c, str(instanceID), str(seedClientID))
			return tencentCode(err)
		}
	}, "RequestLimitExceeded")

	// The limit is per action: QuerySessionByClientId is not throttled.
	q := classicJSON.newQuery(t, b, alibabaKeyID, alibabaKeySecret, nil)
	if online, _, err := q(str(instanceID), str(seedClientID)); err != nil || !online {
		t.Errorf("QuerySessionByClientId while DescribeMQTTClient is throttled: OnlineStatus %v, err %v; want true, nil", online, err)
	}
}

func TestAlibabaRateLimit(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true, rateQuery: lowRate})
	connectPaho(t, b, seedClientID, true, 60*time.Second)

	checkRate(t, func(i int) func() outcome {
		v := aliVariants[i%len(aliVariants)]
		q := v.newQuery(t, b, alibabaKeyID, alibabaKeySecret, nil)
		return func() outcome {
			_, _, err := q(str(instanceID), str(seedClientID))
			if err == nil {
				return ""
			}
			e, xerr := v.asError(err)
			if xerr != nil {
				return xerr.Error()
			}
			if e.Code == "SystemOverFlow" && e.Status != 500 {
				return fmt.Sprintf("SystemOverFlow with HTTP %d, want 500", e.Status)
			}
			return e.Code
		}
	}, "SystemOverFlow")

	// The limit is per action: DescribeMQTTClient is not throttled.
	c := newTencent(t, b, tencentSecretID, tencentSecretKey, tc3Post, nil)
	if _, err := describe(c, str(instanceID), str(seedClientID)); err != nil {
		t.Errorf("DescribeMQTTClient while QuerySessionByClientId is throttled: %v", err)
	}
}

// countingTransport counts the HTTP requests an SDK sends.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(req)
}

// TestTencentRateLimitRetries lets the Tencent SDK retry on
// RequestLimitExceeded (ClientProfile.RateLimitExceededMaxRetries). The SDK
// resends byte-identical requests, same timestamp, nonce and signature, so
// this works only if the broker keeps no replay cache for the Tencent
// schemes.
func TestTencentRateLimitRetries(t *testing.T) {
	b := startBroker(t, brokerConfig{credentials: true, rateDescribe: lowRate})
	connectPaho(t, b, seedClientID, true, 60*time.Second)
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	ct := &countingTransport{next: tr}

	const callers = 6
	var wg sync.WaitGroup
	errs := make(chan error, callers*len(tcVariants))
	for i := range callers {
		c := newTencent(t, b, tencentSecretID, tencentSecretKey, tcVariants[i%len(tcVariants)], ct, func(cpf *profile.ClientProfile) {
			cpf.RateLimitExceededMaxRetries = 40
			cpf.RateLimitExceededRetryDuration = func(int) time.Duration { return 200 * time.Millisecond }
		})
		wg.Go(func() {
			for range 2 {
				if _, err := describe(c, str(instanceID), str(seedClientID)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("DescribeMQTTClient with rate-limit retries: %v", err)
	}
	if n := ct.n.Load(); n <= 2*callers {
		t.Errorf("%d HTTP requests for %d calls at %d/s: the SDK never had to retry, so the test proved nothing", n, 2*callers, lowRate)
	} else {
		t.Logf("%d calls took %d HTTP requests", 2*callers, n)
	}
}
