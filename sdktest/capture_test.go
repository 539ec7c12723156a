package sdktest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// captureMode says what a capture does with the next request.
type captureMode int

const (
	forward      captureMode = iota // record the request, then send it
	hold                            // record the request, send nothing, fail the call
	replay                          // send the recorded request instead, byte for byte
	replayForged                    // send the recorded request with its signature altered
)

// String names the mode in failure messages.
func (m captureMode) String() string {
	return [...]string{"forward", "hold", "replay", "replayForged"}[m]
}

var errHeld = errors.New("sdktest: request held back by the capture")

// capture sits between an SDK and the broker, as an http.RoundTripper
// (Tencent, Alibaba classic) or as an HTTP proxy (darabonba, whose
// transport cannot be replaced), so that a signed request can be sent
// again unchanged: the only way to replay a nonce through the SDKs.
type capture struct {
	next http.RoundTripper

	mu    sync.Mutex
	mode  captureMode
	saved *savedRequest
	resp  savedResponse // the last response
}

// savedResponse is a response as it came off the wire.
type savedResponse struct {
	status int
	header http.Header
	body   []byte
}

// savedRequest is everything that is signed or carries parameters.
type savedRequest struct {
	method, url, host string
	header            http.Header
	body              []byte
}

func (s *savedRequest) request() (*http.Request, error) {
	req, err := http.NewRequest(s.method, s.url, bytes.NewReader(s.body))
	if err != nil {
		return nil, err
	}
	req.Header = s.header.Clone()
	req.Host = s.host
	return req, nil
}

func newCapture(t *testing.T) *capture {
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &capture{next: tr}
}

func (c *capture) setMode(m captureMode) {
	c.mu.Lock()
	c.mode = m
	c.mu.Unlock()
}

// RoundTrip implements http.RoundTripper.
func (c *capture) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	mode, saved := c.mode, c.saved
	c.mu.Unlock()

	if mode == forward || mode == hold || saved == nil {
		var body []byte
		if req.Body != nil {
			b, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			body = b
		}
		host := req.Host
		if host == "" {
			host = req.URL.Host
		}
		saved = &savedRequest{req.Method, req.URL.String(), host, req.Header.Clone(), body}
		c.mu.Lock()
		c.saved = saved
		c.mu.Unlock()
		if mode == hold {
			return nil, errHeld
		}
	} else if mode == replayForged {
		saved = forge(saved)
	}
	out, err := saved.request()
	if err != nil {
		return nil, err
	}
	resp, err := c.next.RoundTrip(out.WithContext(req.Context()))
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	c.resp = savedResponse{resp.StatusCode, resp.Header.Clone(), body}
	c.mu.Unlock()
	return resp, nil
}

// last returns the last response received.
func (c *capture) last() savedResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resp
}

// forge returns a copy of s with the signature changed: the Signature
// parameter of Alibaba RPC, or the Signature= of an Authorization header.
func forge(s *savedRequest) *savedRequest {
	f := *s
	f.header = s.header.Clone()
	if u, err := url.Parse(s.url); err == nil {
		q := u.Query()
		if q.Has("Signature") {
			q.Set("Signature", "Zm9yZ2VkIHNpZ25hdHVyZQ==")
			u.RawQuery = q.Encode()
			f.url = u.String()
			return &f
		}
	}
	if a := f.header.Get("Authorization"); strings.Contains(a, "Signature=") {
		i := strings.LastIndex(a, "Signature=") + len("Signature=")
		flip := byte('0')
		if a[i] == '0' {
			flip = '1'
		}
		f.header.Set("Authorization", a[:i]+string(flip)+a[i+1:])
	}
	return &f
}

// proxy starts an HTTP proxy that sends every request through c and
// returns its URL.
func (c *capture) proxy(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out.Header = r.Header.Clone()
		out.Header.Del("Proxy-Connection")
		out.Header.Del("Proxy-Authorization")
		out.Host = r.Host
		resp, err := c.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
