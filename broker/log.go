package broker

import (
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// throttledLog writes at most one line per kind of client error per
// interval, with a count of the lines it skipped.
type throttledLog struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	skipped  map[string]int
}

func newThrottledLog(interval time.Duration) *throttledLog {
	return &throttledLog{interval: interval, last: map[string]time.Time{}, skipped: map[string]int{}}
}

// clientError logs a client-caused error. Safe for concurrent use.
func (l *throttledLog) clientError(addr string, t codec.Type, err error) {
	kind := t.String()
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last[kind]) < l.interval {
		l.skipped[kind]++
		l.mu.Unlock()
		return
	}
	skipped := l.skipped[kind]
	l.last[kind], l.skipped[kind] = now, 0
	l.mu.Unlock()
	suffix := ""
	if skipped > 0 {
		suffix = fmt.Sprintf(" (%d more %s errors in the last %s)", skipped, kind, l.interval)
	}
	log.Printf("client %s closed: %v%s", addr, err, suffix)
}
