package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RetainedStream is the JetStream stream that keeps the newest retained
// message of every topic, for nodes that start after it was set. It
// captures the retained subjects the routers already publish on core NATS
// (RetainedPrefix), keeping one message per subject.
const RetainedStream = "GLASSMQ_RETAINED"

// catchUp loads, once JetStream answers, the newest retained message of
// every topic from RetainedStream into the engine (stored, not delivered:
// nobody subscribed to them live), then lets run forget which topics it saw
// live meanwhile. It gives up only at Close.
func (r *Router) catchUp() {
	defer close(r.caughtUp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	n, err := r.loadRetained(ctx)
	for attempt := 1; err != nil; attempt++ {
		if ctx.Err() != nil {
			return
		}
		if attempt%20 == 0 { // the first tries often meet a leader election
			r.log.Warn("cluster: retained messages not loaded yet, retrying", "attempts", attempt, "err", err)
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return
		}
		n, err = r.loadRetained(ctx)
	}
	r.enqueue(inMsg{kind: caughtUp})
	r.log.Info("cluster: retained messages loaded", "stream", RetainedStream, "messages", n)
}

// loadRetained makes sure RetainedStream exists and queues its messages,
// newest per subject, up to the last one stored when it started.
func (r *Router) loadRetained(ctx context.Context) (int, error) {
	if err := r.node.JetStreamReady(ctx); err != nil {
		return 0, err
	}
	js := r.node.JS()
	// Short attempts: a request that reaches a meta leader still settling
	// may get no answer; the next one does.
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := js.CreateOrUpdateStream(c, jetstream.StreamConfig{
		Name:              RetainedStream,
		Description:       "glassmq: the newest retained message of each topic",
		Subjects:          []string{RetainedPrefix + ".>"},
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		Storage:           jetstream.FileStorage,
		Replicas:          r.node.Replicas(),
	})
	if err != nil {
		return 0, err
	}
	info, err := st.Info(c)
	if err != nil {
		return 0, err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return 0, nil
	}
	cons, err := js.OrderedConsumer(c, RetainedStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{RetainedPrefix + ".>"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return n, err
		}
		got := 0
		done := false
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return n, err
			}
			r.enqueue(inMsg{kind: stored, subject: m.Subject(), data: m.Data()})
			n++
			if meta.NumPending == 0 || meta.Sequence.Stream >= last {
				done = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return n, err
		}
		if done || got == 0 {
			return n, nil
		}
	}
}
