package cluster

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
)

// This file is the Replica's writing side: the writer goroutine that
// publishes records, JetStream's acknowledgements and refusals of them,
// and the trimming of queue subjects.

// writer publishes queued entries, packed by session, and packs to
// retry, asynchronously: a round never waits for an earlier one's
// acknowledgement, only for room in JetStream's window of pending
// publishes.
func (r *Replica) writer() {
	defer close(r.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var batch []*replEntry
	var packs []*replPack
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-tick.C:
		}
		r.mu.Lock()
		batch = r.coalesceLocked(append(batch[:0], r.queue...))
		clear(r.queue)
		r.queue = r.queue[:0]
		packs = r.packLocked(packs[:0], batch)
		if len(r.retry) > 0 {
			packs = append(packs, r.retry...)
			clear(r.retry)
			r.retry = r.retry[:0]
		}
		now := time.Now()
		for _, p := range packs {
			if p.first.IsZero() {
				p.first = now
			}
			r.inflight[p.n] = p
		}
		r.mu.Unlock()
		for _, p := range packs {
			if _, err := r.js.PublishMsgAsync(p.msg); err != nil {
				r.failed(r.js, p.msg, err)
			}
		}
		clear(batch)
		clear(packs)
	}
}

// msgKey names one message of one session.
type msgKey struct {
	c   *replClient
	seq uint64
}

// coalesceLocked drops from fresh (entries never published) every message
// queued and acknowledged within it: a message the client acknowledged
// before its copy left needs no copy; and the sent and released records
// of a message acknowledged within it: its deletion makes them moot.
// Their tickets count as done. It returns the entries left to publish, in
// order.
func (r *Replica) coalesceLocked(fresh []*replEntry) []*replEntry {
	var acked map[msgKey]bool
	for _, e := range fresh {
		if e.kind == session.OpDeleteMessage {
			if acked == nil {
				acked = make(map[msgKey]bool)
			}
			acked[msgKey{e.c, e.seq}] = false
		}
	}
	if acked == nil {
		return fresh
	}
	for _, e := range fresh {
		if k := (msgKey{e.c, e.seq}); e.kind == session.OpPutMessage {
			if _, ok := acked[k]; ok {
				acked[k] = true // put and acknowledgement both here
			}
		}
	}
	kept := fresh[:0]
	for _, e := range fresh {
		moot, deleted := acked[msgKey{e.c, e.seq}]
		if deleted && (e.kind == session.OpInflight || e.kind == session.OpReleased) {
			// Sent (or released) and acknowledged within this batch, its
			// queued record written before: the acknowledgement alone
			// says all a rebuild needs (it drops the message).
			moot = true
		}
		if e.queue && e.kind != session.OpPutRel && e.kind != session.OpDeleteRel && moot {
			e.c.unacked--
			r.Stats.Coalesced.Add(1)
			r.doneLocked(e, nil)
			continue
		}
		kept = append(kept, e)
	}
	clear(fresh[len(kept):])
	return kept
}

// packOfLocked returns the published pack of m, removing it from
// inflight.
func (r *Replica) packOfLocked(m *nats.Msg) *replPack {
	id := m.Header.Get(jetstream.MsgIDHeader)
	if len(id) <= len(r.run) || id[:len(r.run)] != r.run {
		return nil
	}
	n, err := strconv.ParseUint(id[len(r.run):], 10, 64)
	if err != nil {
		return nil
	}
	p := r.inflight[n]
	delete(r.inflight, n)
	return p
}

// acked is JetStream's acknowledgement of one pack.
func (r *Replica) acked(_ jetstream.JetStream, m *nats.Msg, pa *jetstream.PubAck) {
	r.mu.Lock()
	p := r.packOfLocked(m)
	if p == nil || p.done {
		r.mu.Unlock()
		return
	}
	r.err = nil
	r.Stats.Written.Add(uint64(len(p.entries)))
	r.Stats.Packs.Add(1)
	c := p.c
	c.unacked -= len(p.entries)
	var jobs [2]purgeJob
	nj := 0
	if p.queue {
		c.lastSeq = max(c.lastSeq, pa.Sequence)
		c.since += len(p.entries)
		if c.firstSeq == 0 {
			c.firstSeq = pa.Sequence
		}
		if !c.purged && !p.retried {
			// Records of earlier owners and sessions are dead from here on.
			c.purged = true
			jobs[nj] = purgeJob{c.subject, c.firstSeq}
			nj++
		}
		// Quiet: nothing outstanding at the pack's last record, so every
		// record of the subject before it is dead. Packs are stored in
		// the order they were published (one writer, one connection),
		// unless one was retried.
		if p.quiet() && c.since >= trimEvery && !c.disorder {
			c.since = 0
			jobs[nj] = purgeJob{c.subject, pa.Sequence + 1}
			nj++
		}
	}
	if p.end() && c.unacked == 0 && c.lastSeq > 0 {
		jobs[nj] = purgeJob{c.subject, c.lastSeq + 1}
		nj++
	}
	r.donePackLocked(p, nil)
	r.mu.Unlock()
	for _, j := range jobs[:nj] {
		select {
		case r.purges <- j:
		default: // trimming is an economy, not a duty: the next trim covers it
		}
	}
}

// failed is JetStream's refusal (or the timeout) of one pack: it is
// sent again until cfg.Retry has passed since its first attempt.
func (r *Replica) failed(_ jetstream.JetStream, m *nats.Msg, err error) {
	r.mu.Lock()
	p := r.packOfLocked(m)
	if p == nil || p.done {
		r.mu.Unlock()
		return
	}
	r.err = err
	full := isStreamFull(err)
	if full {
		r.Stats.Refused.Add(1)
	}
	if !full && time.Since(p.first) < r.cfg.Retry {
		p.retried = true
		p.c.disorder = true
		r.retry = append(r.retry, p)
		r.mu.Unlock()
		r.Stats.Retried.Add(1)
		return
	}
	r.Stats.Failed.Add(1)
	p.c.unacked -= len(p.entries)
	r.failT, r.failUpTo = p.entries[0].ticket, r.issued
	r.donePackLocked(p, err)
	r.mu.Unlock()
	if !full || r.Stats.Refused.Load()&(r.Stats.Refused.Load()-1) == 0 { // when full: the 1st, 2nd, 4th, 8th... refusal
		r.log.Error("cluster: session replica write failed; acks waiting for it fail", "client", p.c.id, "err", err,
			"refused", r.Stats.Refused.Load())
	}
}

// isStreamFull reports whether err is JetStream refusing a record because
// the queue stream reached its MaxBytes (discard new).
func isStreamFull(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return strings.Contains(apiErr.Description, "maximum bytes")
	}
	return err != nil && strings.Contains(err.Error(), "maximum bytes exceeded")
}

// doneLocked marks e done, advances the replicated frontier and calls the
// waiters it passed (err for those at or after a failed ticket).
func (r *Replica) doneLocked(e *replEntry, err error) {
	e.done = true
	r.advanceLocked(e.ticket, err)
}

// donePackLocked marks every entry of p done, as doneLocked.
func (r *Replica) donePackLocked(p *replPack, err error) {
	p.done = true
	for _, e := range p.entries {
		e.done = true
	}
	r.advanceLocked(p.entries[0].ticket, err)
}

// advanceLocked advances the replicated frontier past the entries done
// and calls the waiters it passed; with err, also those at or after
// ticket, the first of what failed.
func (r *Replica) advanceLocked(ticket uint64, err error) {
	i := 0
	for i < len(r.order) && r.order[i].done {
		i++
	}
	if i > 0 {
		clear(r.order[:i])
		r.order = r.order[i:]
	}
	if len(r.waiters) == 0 {
		return
	}
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		switch {
		case err != nil && w.t >= ticket:
			go w.fn(err)
		case len(r.order) == 0 || r.order[0].ticket > w.t:
			go w.fn(nil)
		default:
			kept = append(kept, w)
		}
	}
	clear(r.waiters[len(kept):])
	r.waiters = kept
}

// purger trims queue subjects, one request at a time, off every hot path.
func (r *Replica) purger() {
	for {
		select {
		case <-r.stop:
			return
		case j := <-r.purges:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := r.stream.Purge(ctx, jetstream.WithPurgeSubject(j.subject), jetstream.WithPurgeSequence(j.upTo))
			cancel()
			if err == nil {
				r.Stats.Purges.Add(1)
			}
		}
	}
}
