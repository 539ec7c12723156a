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

// writer publishes queued entries, and entries to retry, asynchronously.
func (r *Replica) writer() {
	defer close(r.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var batch []*replEntry
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
		if len(r.retry) > 0 {
			batch = append(batch, r.retry...)
			r.retry = r.retry[:0]
		}
		for _, e := range batch {
			if e.first.IsZero() {
				e.first = time.Now()
			}
			r.inflight[e.n] = e
		}
		r.mu.Unlock()
		for _, e := range batch {
			if _, err := r.js.PublishMsgAsync(e.msg); err != nil {
				r.failed(r.js, e.msg, err)
			}
		}
		clear(batch)
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

// entryOfLocked returns the published entry of m, removing it from
// inflight.
func (r *Replica) entryOfLocked(m *nats.Msg) *replEntry {
	id := m.Header.Get(jetstream.MsgIDHeader)
	if len(id) <= len(r.run) || id[:len(r.run)] != r.run {
		return nil
	}
	n, err := strconv.ParseUint(id[len(r.run):], 10, 64)
	if err != nil {
		return nil
	}
	e := r.inflight[n]
	delete(r.inflight, n)
	return e
}

// acked is JetStream's acknowledgement of one record.
func (r *Replica) acked(_ jetstream.JetStream, m *nats.Msg, pa *jetstream.PubAck) {
	r.mu.Lock()
	e := r.entryOfLocked(m)
	if e == nil || e.done {
		r.mu.Unlock()
		return
	}
	r.err = nil
	r.Stats.Written.Add(1)
	c := e.c
	c.unacked--
	var jobs [2]purgeJob
	nj := 0
	if e.queue {
		c.lastSeq = max(c.lastSeq, pa.Sequence)
		c.since++
		if c.firstSeq == 0 {
			c.firstSeq = pa.Sequence
		}
		if !c.purged && !e.retried {
			// Records of earlier owners and sessions are dead from here on.
			c.purged = true
			jobs[nj] = purgeJob{c.subject, c.firstSeq}
			nj++
		}
		// Quiet: nothing outstanding at this record, so every record of
		// the subject before it is dead. Records are stored in the order
		// they were published (one writer, one connection), unless one
		// was retried.
		if e.quiet && c.since >= trimEvery && !c.disorder {
			c.since = 0
			jobs[nj] = purgeJob{c.subject, pa.Sequence + 1}
			nj++
		}
	}
	if e.end && c.unacked == 0 && c.lastSeq > 0 {
		jobs[nj] = purgeJob{c.subject, c.lastSeq + 1}
		nj++
	}
	r.doneLocked(e, nil)
	r.mu.Unlock()
	for _, j := range jobs[:nj] {
		select {
		case r.purges <- j:
		default: // trimming is an economy, not a duty: the next trim covers it
		}
	}
}

// failed is JetStream's refusal (or the timeout) of one record: it is
// sent again until cfg.Retry has passed since its first attempt.
func (r *Replica) failed(_ jetstream.JetStream, m *nats.Msg, err error) {
	r.mu.Lock()
	e := r.entryOfLocked(m)
	if e == nil || e.done {
		r.mu.Unlock()
		return
	}
	r.err = err
	full := isStreamFull(err)
	if full {
		r.Stats.Refused.Add(1)
	}
	if !full && time.Since(e.first) < r.cfg.Retry {
		e.retried = true
		e.c.disorder = true
		r.retry = append(r.retry, e)
		r.mu.Unlock()
		r.Stats.Retried.Add(1)
		return
	}
	r.Stats.Failed.Add(1)
	e.c.unacked--
	r.failT, r.failUpTo = e.ticket, r.issued
	r.doneLocked(e, err)
	r.mu.Unlock()
	if !full || r.Stats.Refused.Load()&(r.Stats.Refused.Load()-1) == 0 { // when full: the 1st, 2nd, 4th, 8th... refusal
		r.log.Error("cluster: session replica write failed; acks waiting for it fail", "client", e.c.id, "err", err,
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
		case err != nil && w.t >= e.ticket:
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
