package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints a live line, rewritten in place every half second.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
	w    io.Writer
}

// startProgress prints label with the counts read returns until stop; with
// a nil w it prints nothing.
func startProgress(w io.Writer, label string, read func() (sent, delivered uint64)) *progress {
	p := &progress{done: make(chan struct{}), w: w}
	if w == nil {
		return p
	}
	p.wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		start := time.Now()
		var prev uint64
		for {
			select {
			case <-p.done:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-t.C:
				sent, got := read()
				fmt.Fprintf(w, "\r\033[K%s: %.1fs sent %d delivered %d (%s msg/s)",
					label, now.Sub(start).Seconds(), sent, got, si(float64(got-prev)*2))
				prev = got
			}
		}
	})
	return p
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

// si formats v with a k or M suffix and three significant digits.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
