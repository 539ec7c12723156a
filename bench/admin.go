package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// adminAPI is one admin call the admin scenario measures.
type adminAPI struct {
	name string
	// request builds the request for clientID.
	request func(base, instance, clientID string) (*http.Request, error)
	// classify sorts a response: accepted (a correct answer about an online
	// client), throttled (the API's rate limit) or failed.
	classify func(status int, body []byte) (accepted, throttled bool)
}

var adminAPIs = []adminAPI{
	{
		name: "DescribeMQTTClient",
		request: func(base, instance, clientID string) (*http.Request, error) {
			body := fmt.Sprintf(`{"InstanceId":%q,"ClientId":%q}`, instance, clientID)
			req, err := http.NewRequest(http.MethodPost, base+"/", bytes.NewBufferString(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-TC-Action", "DescribeMQTTClient")
			req.Header.Set("X-TC-Version", "2023-03-08")
			return req, nil
		},
		classify: func(status int, body []byte) (bool, bool) {
			if bytes.Contains(body, []byte(`"RequestLimitExceeded"`)) {
				return false, true
			}
			return status == 200 && bytes.Contains(body, []byte(`"ConnectionStatus":"CONNECTED"`)), false
		},
	},
	{
		name: "QuerySessionByClientId",
		request: func(base, instance, clientID string) (*http.Request, error) {
			q := url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {instance},
				"ClientId": {clientID}, "Format": {"JSON"}}
			return http.NewRequest(http.MethodGet, base+"/?"+q.Encode(), nil)
		},
		classify: func(status int, body []byte) (bool, bool) {
			if bytes.Contains(body, []byte(`"SystemOverFlow"`)) {
				return false, true
			}
			return status == 200 && bytes.Contains(body, []byte(`"OnlineStatus":true`)), false
		},
	},
	{
		// The darabonba v2 SDK's style: action and version in x-acs-*
		// headers, parameters in the query. Unsigned, so it measures a
		// broker without -admin-credentials, as the other APIs here do.
		name: "QuerySessionByClientId/ACS3",
		request: func(base, instance, clientID string) (*http.Request, error) {
			q := url.Values{"InstanceId": {instance}, "ClientId": {clientID}}
			req, err := http.NewRequest(http.MethodPost, base+"/?"+q.Encode(), nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("x-acs-action", "QuerySessionByClientId")
			req.Header.Set("x-acs-version", "2020-04-20")
			req.Header.Set("Accept", "application/json")
			return req, nil
		},
		classify: func(status int, body []byte) (bool, bool) {
			if bytes.Contains(body, []byte(`"SystemOverFlow"`)) {
				return false, true
			}
			return status == 200 && bytes.Contains(body, []byte(`"OnlineStatus":true`)), false
		},
	},
	{
		name: "native /api/v1/clients",
		request: func(base, _, clientID string) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, base+"/api/v1/clients/"+url.PathEscape(clientID), nil)
		},
		classify: func(status int, body []byte) (bool, bool) {
			if status == http.StatusTooManyRequests {
				return false, true
			}
			return status == 200 && bytes.Contains(body, []byte(`"status":"online"`)), false
		},
	},
}

// adminStats is what one API's callers measured.
type adminStats struct {
	mu                                    sync.Mutex
	hist                                  Histogram // accepted requests only
	requests, accepted, throttled, failed atomic.Uint64
	firstErr                              atomic.Value
}

// runAdmin connects the pairs and, while they run a load (c.AdminLoad
// "pairs") or sit idle for c.Duration ("none"), offers c.AdminRate requests
// per second to each admin API about the pairs' clients, open loop.
func runAdmin(c *Config) ([]Result, error) {
	f := &flow{cfg: c, top: topologyOf(c)}
	if err := f.connect(); err != nil {
		f.close()
		return nil, err
	}
	var clients []string
	for i := range c.Pairs {
		clients = append(clients, fmt.Sprintf("bench-%s-s%d", f.nonce, i), fmt.Sprintf("bench-%s-p%d", f.nonce, i))
	}
	httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer httpc.CloseIdleConnections()
	callers := make([][]adminCaller, len(adminAPIs))
	for i := range adminAPIs {
		cs, err := newCallers(c, httpc, probeWorkers)
		if err != nil {
			for _, cs := range callers {
				for _, ac := range cs {
					ac.close()
				}
			}
			f.close()
			return nil, err
		}
		callers[i] = cs
	}
	defer func() {
		for _, cs := range callers {
			for _, ac := range cs {
				ac.close()
			}
		}
	}()
	base := "http://" + c.AdminAddr
	stats := make([]adminStats, len(adminAPIs))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cpu0, cpuErr0 := selfCPU()
	start := time.Now()
	for i, api := range adminAPIs {
		wg.Go(func() { offer(callers[i], base, c, api, clients, &stats[i], stop) })
	}
	var load Result
	var elapsed, probeCPU float64
	f.beforeClose = func() { // every client is still online until here
		close(stop)
		wg.Wait()
		elapsed = time.Since(start).Seconds()
		if cpu1, err := selfCPU(); err == nil && cpuErr0 == nil {
			probeCPU = float64(cpu1-cpu0) / float64(time.Second) / elapsed
		}
	}
	if c.AdminLoad == "none" {
		time.Sleep(c.Duration)
		f.beforeClose()
		f.close()
	} else {
		f.run(&load, label(c))
	}

	var out []Result
	for i, api := range adminAPIs {
		s := &stats[i]
		r := newResult(c)
		r.Variant = api.name
		r.Publishers, r.Subscribers = c.Pairs, c.Pairs
		r.Requests, r.Accepted = s.requests.Load(), s.accepted.Load()
		r.Throttled, r.Failed = s.throttled.Load(), s.failed.Load()
		r.OfferedRate = c.AdminRate
		r.ClientCPU = probeCPU // this process's CPU in cores; with -admin-load pairs, the load's too
		r.AcceptRate = float64(r.Accepted) / elapsed
		r.Elapsed = elapsed
		r.setLatency(&s.hist)
		r.LoadRate, r.LoadLost, r.Lost = load.Rate, load.Lost, load.Lost
		r.Delivered, r.Sent, r.Expected, r.Duplicates = load.Delivered, load.Sent, load.Expected, load.Duplicates
		if err, ok := s.firstErr.Load().(error); ok {
			r.addError(fmt.Errorf("%s: %d failed, first: %w", api.name, r.Failed, err))
		}
		for _, e := range load.Errors {
			r.Errors = append(r.Errors, e)
		}
		out = append(out, r)
	}
	return out, nil
}

// probeWorkers is how many requests to one API may be outstanding.
const probeWorkers = 4

// offer sends requests at c.AdminRate per second until stop, up to
// probeWorkers at a time, each from a worker with its own caller (with
// -admin-client locked, its own connection and OS thread); a request due
// while all are busy is sent late, not dropped.
func offer(callers []adminCaller, base string, c *Config, api adminAPI, clients []string, s *adminStats, stop chan struct{}) {
	jobs := make(chan string)
	var wg sync.WaitGroup
	for _, ac := range callers {
		wg.Go(func() {
			if c.AdminClient != "http" {
				lockThread()
			}
			for clientID := range jobs {
				s.requests.Add(1)
				accepted, throttled, d, err := call(ac, base, c.InstanceID, api, clientID)
				switch {
				case err != nil:
					s.failed.Add(1)
					s.firstErr.CompareAndSwap(nil, err)
				case accepted:
					s.accepted.Add(1)
					s.mu.Lock()
					s.hist.Record(int64(d))
					s.mu.Unlock()
				case throttled:
					s.throttled.Add(1)
				default:
					s.failed.Add(1)
				}
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)
	interval := time.Duration(float64(time.Second) / c.AdminRate)
	next := time.Now()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(time.Until(next)):
		}
		next = next.Add(interval)
		select {
		case jobs <- clients[i%len(clients)]:
		case <-stop:
			return
		}
	}
}

func call(ac adminCaller, base, instance string, api adminAPI, clientID string) (accepted, throttled bool, d time.Duration, err error) {
	req, err := api.request(base, instance, clientID)
	if err != nil {
		return false, false, 0, err
	}
	status, body, d, err := ac.do(req)
	if err != nil {
		return false, false, d, err
	}
	accepted, throttled = api.classify(status, body)
	if !accepted && !throttled {
		return false, false, d, fmt.Errorf("HTTP %d: %.200s", status, body)
	}
	return accepted, throttled, d, nil
}
