package bench

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// An adminCaller sends one admin request and reads the whole answer.
// Each is used by one goroutine at a time.
type adminCaller interface {
	// do sends req and returns the status, the body and the time from the
	// first byte written to the last byte read.
	do(req *http.Request) (status int, body []byte, d time.Duration, err error)
	close()
}

// httpCaller is Go's net/http client: connections from a pool, reads and
// writes through the runtime's poller, so an answer reaches the caller
// through two goroutine wake-ups (the transport's reader, then the
// caller).
type httpCaller struct{ c *http.Client }

func (h httpCaller) do(req *http.Request) (int, []byte, time.Duration, error) {
	t0 := time.Now()
	resp, err := h.c.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, body, time.Since(t0), err
}

func (h httpCaller) close() { h.c.CloseIdleConnections() }

// newCallers returns n callers of kind c.AdminClient for one API, sharing
// one connection pool with "http".
func newCallers(c *Config, shared *http.Client, n int) ([]adminCaller, error) {
	out := make([]adminCaller, 0, n)
	for range n {
		switch c.AdminClient {
		case "http":
			out = append(out, httpCaller{shared})
		default:
			lc, err := newLockedCaller(c.AdminAddr)
			if err != nil {
				for _, x := range out {
					x.close()
				}
				return nil, fmt.Errorf("admin: connecting to %s: %w", c.AdminAddr, err)
			}
			out = append(out, lc)
		}
	}
	return out, nil
}
