package trace

import (
	"slices"
	"time"
)

// Traces kept across a restart (-trace-persist): the events an earlier run
// kept are given back with Restore before the broker starts. They are
// served beside the rings, read-only, until the retention passes them;
// the run goes on with the earlier run's boot time, its message IDs
// continuing after the highest one kept, so every ID the earlier run
// answered still finds its events and no new message reuses one.

// past is the events of earlier runs, oldest first; never changed once set.
// filters[i] holds the client IDs of ev[i*maxChunkLen:][:maxChunkLen].
type past struct {
	ev      []Event
	filters []bloom
}

// Restore gives t the events of an earlier run (any order) and continues
// its message IDs: boot is that run's (see Boot), issued its Issued. Events
// older than the retention at now are dropped, and of the rest at most
// MaxEvents, the newest, are kept. Call it before any ring is written
// (before the broker starts); it is not safe for concurrent use.
func (t *Tracer) Restore(boot, issued uint64, events []Event, now time.Time) {
	if boot != 0 {
		t.boot = boot
	}
	seq := issued
	for _, e := range events {
		seq = max(seq, e.MsgID&(1<<48-1))
	}
	for _, r := range t.rings {
		r.seq.Store(max(r.seq.Load(), seq))
	}
	ev := slices.Clone(events)
	if r := t.cfg.Retention.Microseconds(); r > 0 {
		since := now.UnixMicro() - r
		ev = slices.DeleteFunc(ev, func(e Event) bool { return e.Time < since })
	}
	slices.SortStableFunc(ev, byTime)
	if len(ev) > t.cfg.MaxEvents {
		ev = ev[len(ev)-t.cfg.MaxEvents:]
	}
	p := &past{ev: ev, filters: make([]bloom, (len(ev)+maxChunkLen-1)/maxChunkLen)}
	for i := range p.filters {
		p.filters[i].addIDs(ev[i*maxChunkLen : min(len(ev), (i+1)*maxChunkLen)])
	}
	t.past.Store(p)
}

// Issued returns the highest message counter any ring has issued (the low
// 48 bits of a message ID), to keep with the events so that a restored run
// never reissues an ID, even of a message whose events were evicted before
// they were kept. Safe for concurrent use.
func (t *Tracer) Issued() uint64 {
	var n uint64
	for _, r := range t.rings {
		n = max(n, r.seq.Load()&(1<<48-1))
	}
	return n
}

// Boot returns the start time that the first half of every formatted
// message ID carries: this run's, or the earlier run's after Restore
// (which comes before any concurrent use). Safe for concurrent use.
func (t *Tracer) Boot() uint64 { return t.boot }

// findPast appends to out copies of the restored events m selects,
// oldest first, reading only the segments of events whose client filter
// may hold m's client.
func (t *Tracer) findPast(m *matcher, out []Event) []Event {
	p := t.past.Load()
	if p == nil {
		return out
	}
	for i := range p.filters {
		ev := p.ev[i*maxChunkLen : min(len(p.ev), (i+1)*maxChunkLen)]
		if m.client != "" {
			out = m.scanFiltered(&p.filters[i], ev, 0, out)
		} else {
			out = m.scan(ev, out)
		}
	}
	return out
}

// pastLen returns the number of restored events.
func (t *Tracer) pastLen() int {
	if p := t.past.Load(); p != nil {
		return len(p.ev)
	}
	return 0
}

// byTime orders events by time, a message's publication before its pushes
// in the same microsecond.
func byTime(a, b Event) int {
	switch {
	case a.Time < b.Time:
		return -1
	case a.Time > b.Time:
		return 1
	}
	return a.Kind.order() - b.Kind.order()
}
