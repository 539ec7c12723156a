package broker

import (
	"sync"
	"time"
)

// fakeClock is a Clock that moves only when a test calls Advance. Its
// tickers fire from Advance, once per interval crossed (at most once per
// call, like a time.Ticker that drops ticks for a slow reader), and Advance
// returns only when the tick was received.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

type fakeTicker struct {
	c    chan time.Time
	d    time.Duration
	next time.Time
	stop chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), d: d, next: f.now.Add(d), stop: make(chan struct{})}
	f.tickers = append(f.tickers, t)
	var once sync.Once
	return t.c, func() { once.Do(func() { close(t.stop) }) }
}

// Advance moves the clock by d and delivers one tick to every ticker whose
// next tick time was reached.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	now := f.now
	var due []*fakeTicker
	for _, t := range f.tickers {
		if !now.Before(t.next) {
			for !now.Before(t.next) {
				t.next = t.next.Add(t.d)
			}
			due = append(due, t)
		}
	}
	f.mu.Unlock()
	for _, t := range due {
		select {
		case t.c <- now:
		case <-t.stop:
		}
	}
}
