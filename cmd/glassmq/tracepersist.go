package main

import (
	"sync"
	"time"

	"github.com/glassmq/glassmq/session/store"
	"github.com/glassmq/glassmq/trace"
)

// traceFlushEvery is how often -trace-persist writes the new trace events
// to the store. What the rings evict between two writes (at very high
// message rates) is not kept; what they hold is.
const traceFlushEvery = 2 * time.Second

// keepTraces gives tracer the events db kept from earlier runs and writes
// the new ones to db every traceFlushEvery, bounded there by the tracer's
// event limit and retention, until stop is called; stop writes the last
// ones for the store's Close to commit. Call it before the broker starts.
func keepTraces(tracer *trace.Tracer, db *store.DB) (stop func(), err error) {
	boot, issued, stored, err := db.Traces()
	if err != nil {
		return nil, err
	}
	past := make([]trace.Event, len(stored))
	var mark int64 // events at or after mark are written next
	for i, e := range stored {
		past[i] = trace.Event{Time: e.Time, MsgID: e.MsgID, Channel: e.Channel, ClientID: e.ClientID,
			Kind: trace.Kind(e.Kind), Info: trace.Info(e.Info)}
		mark = max(mark, e.Time+1)
	}
	now := time.Now()
	tracer.Restore(boot, issued, past, now)
	cfg := tracer.Config()
	flush := func(now time.Time) uint64 {
		evs := tracer.Find(trace.Filter{Begin: mark}, now.UnixMicro())
		var since int64
		if cfg.Retention > 0 {
			since = now.Add(-cfg.Retention).UnixMicro()
		}
		out := make([]store.TraceEvent, len(evs))
		for i, e := range evs {
			out[i] = store.TraceEvent{Time: e.Time, MsgID: e.MsgID, Channel: e.Channel, ClientID: e.ClientID,
				Kind: uint8(e.Kind), Info: uint8(e.Info)}
			mark = max(mark, e.Time) // inclusive: an event of the same µs written again is stored once
		}
		return db.PutTraces(tracer.Boot(), tracer.Issued(), out, cfg.MaxEvents, since)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(traceFlushEvery)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				flush(now)
			case <-done:
				flush(time.Now()) // db.Close, next, writes and syncs it
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }, nil
}
