package broker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// Log record fields. An operator filters on them, so they keep these names.
const (
	logClient = "client"  // MQTT client ID; absent before CONNECT is accepted
	logRemote = "remote"  // the connection's remote ip:port
	logReason = "reason"  // why the connection was closed
	logPacket = "packet"  // packet type being handled, PUBLISH, CONNECT ...
	logMore   = "skipped" // records of the same kind dropped by the rate limit since the last one
)

// throttledLog writes client-caused errors as slog records at level Warn, at
// most one per packet type per interval, each carrying the number of records
// of its kind skipped since the previous one. Stats count every error; this
// log is for an operator, who needs an example and a rate, not a flood.
type throttledLog struct {
	logger   *slog.Logger
	interval time.Duration
	now      func() time.Time // time.Now; tests pass a clock they move
	mu       sync.Mutex
	last     [16]time.Time // by codec.Type
	skipped  [16]int       // by codec.Type
}

// newThrottledLog returns a limiter writing to slog's default logger as it
// is when called: the command installs its handler before building the
// engine.
func newThrottledLog(interval time.Duration) *throttledLog {
	return &throttledLog{logger: slog.Default(), interval: interval, now: time.Now}
}

// clientError logs an error caused by the client at addr whose client ID is
// not known (or not at hand). Safe for concurrent use.
func (l *throttledLog) clientError(addr string, t codec.Type, err error) {
	l.clientErrorFor("", addr, t, err)
}

// clientErrorFor logs an error caused by client clientID at addr while
// handling a packet of type t; an empty clientID leaves the client field out.
// Safe for concurrent use.
func (l *throttledLog) clientErrorFor(clientID, addr string, t codec.Type, err error) {
	if !l.logger.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	k := t & 0x0f
	now := l.now()
	l.mu.Lock()
	if !l.last[k].IsZero() && now.Sub(l.last[k]) < l.interval {
		l.skipped[k]++
		l.mu.Unlock()
		return
	}
	skipped := l.skipped[k]
	l.last[k], l.skipped[k] = now, 0
	l.mu.Unlock()
	attrs := make([]slog.Attr, 0, 5)
	if clientID != "" {
		attrs = append(attrs, slog.String(logClient, clientID))
	}
	attrs = append(attrs, slog.String(logRemote, addr), slog.String(logPacket, t.String()), slog.String(logReason, err.Error()))
	if skipped > 0 {
		attrs = append(attrs, slog.Int(logMore, skipped))
	}
	l.logger.LogAttrs(context.Background(), slog.LevelWarn, "client connection closed", attrs...)
}

// clientID returns the connection's client ID once CONNECT has been
// accepted, "" before. Loop-only.
func (c *Conn) clientID() string {
	if c.sess == nil {
		return ""
	}
	return c.sess.ClientID
}
