package bench

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress keeps a live line on w while a run lasts: elapsed time, what
// was sent and delivered, and the delivery rate, drawn by
// github.com/schollz/progressbar (a spinner, since a run's total is its
// duration, not a count) and refreshed every half second.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
}

// startProgress shows label with the counts read returns until stop; with
// a nil w it shows nothing.
func startProgress(w io.Writer, label string, read func() (sent, delivered uint64)) *progress {
	p := &progress{done: make(chan struct{})}
	if w == nil {
		return p
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetSpinnerChangeInterval(0), // no goroutine of its own: our ticker redraws it
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(250*time.Millisecond),
		progressbar.OptionClearOnFinish())
	p.wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		var prev uint64
		for {
			select {
			case <-p.done:
				bar.Finish()
				return
			case <-t.C:
				sent, got := read()
				bar.Describe(fmt.Sprintf("%s: sent %d delivered %d (%s msg/s)", label, sent, got, si(float64(got-prev)*2)))
				bar.Set64(int64(got))
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
