package bench

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the progress goroutine and the
// test to use together.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestProgressLine: the live line names the run and shows the counts as
// they grow; a nil writer shows nothing and stops at once.
func TestProgressLine(t *testing.T) {
	var w lockedBuffer
	var n atomic.Uint64
	p := startProgress(&w, "pairs qos1", func() (uint64, uint64) { return n.Load() + 5, n.Load() })
	n.Store(1234)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(w.String(), "delivered 1234") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	if out := w.String(); !strings.Contains(out, "pairs qos1: sent 1239 delivered 1234") {
		t.Fatalf("progress output %q: want the label and the counts", out)
	}
	startProgress(nil, "x", func() (uint64, uint64) { return 0, 0 }).stop()
}
