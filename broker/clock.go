package broker

import "time"

// Clock is the engine's source of time. Keep-alive, connect timeouts,
// session expiry, $SYS and the times recorded in sessions all read it, so
// tests can advance a clock of their own instead of sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTicker returns a channel that receives the clock's time every d,
	// and a function that stops it.
	NewTicker(d time.Duration) (<-chan time.Time, func())
}

// systemClock is the Clock of time.Now and time.Ticker.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// now returns the engine clock's time. Safe for concurrent use.
func (e *Engine) now() time.Time { return e.clock.Now() }

// nowMillis returns the engine clock's time in epoch milliseconds. Safe
// for concurrent use.
func (e *Engine) nowMillis() int64 { return e.clock.Now().UnixMilli() }
