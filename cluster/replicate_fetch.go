package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/session/store"
)

// errReplica says a replicated record did not decode.
var errReplica = errors.New("cluster: bad session replica record")

// Fetch rebuilds clientID's persistent session from JetStream: its record
// from the bucket, then its messages by replaying its queue subject, with
// the packet IDs they were sent with (resent with DUP on resume) and its
// inbound QoS 2 packet IDs. It returns nil, nil when no session is
// replicated. It blocks on the network; never call it on an event loop.
// Safe for concurrent use.
func (r *Replica) Fetch(ctx context.Context, clientID string) (*session.Restored, error) {
	// Right after a node died its streams may have no leader for a few
	// seconds: try again until ctx ends.
	for {
		rs, err := r.fetch(ctx, clientID)
		if err == nil || errors.Is(err, errReplica) || ctx.Err() != nil {
			return rs, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (r *Replica) fetch(ctx context.Context, clientID string) (*session.Restored, error) {
	e, err := r.kv.Get(ctx, EncodeToken(clientID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: session record of %q: %w", cut(clientID), err)
	}
	gen, rs, err := decodeReplRecord(e.Value())
	if err != nil {
		return nil, err
	}
	if rs.Record.ClientID != clientID {
		return nil, fmt.Errorf("%w: record of %q names %q", errReplica, cut(clientID), cut(rs.Record.ClientID))
	}
	var rp replay
	rp.init()
	subject := r.QueueSubject(clientID)
	info, err := r.stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, fmt.Errorf("cluster: queue of %q: %w", cut(clientID), err)
	}
	if info.State.Subjects[subject] > 0 {
		cons, err := r.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
		if err != nil {
			return nil, fmt.Errorf("cluster: read queue of %q: %w", cut(clientID), err)
		}
		for more := true; more; {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("cluster: read queue of %q: %w", cut(clientID), ctx.Err())
			}
			batch, err := cons.Fetch(512, jetstream.FetchMaxWait(2*time.Second))
			if err != nil {
				return nil, fmt.Errorf("cluster: read queue of %q: %w", cut(clientID), err)
			}
			got := 0
			for m := range batch.Messages() {
				got++
				if err := rp.applyPacked(gen, m.Data()); err != nil { // replicate_pack.go
					return nil, err
				}
				if meta, err := m.Metadata(); err == nil && meta.NumPending == 0 {
					more = false
				}
			}
			if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
				return nil, fmt.Errorf("cluster: read queue of %q: %w", cut(clientID), err)
			}
			if got == 0 {
				more = false // trimmed meanwhile
			}
		}
	}
	rp.result(&rs)
	r.Stats.Fetched.Add(1)
	return &rs, nil
}

// decodeReplRecord decodes a bucket value: version, generation, then the
// record in the hand-over format.
func decodeReplRecord(v []byte) (gen uint64, rs session.Restored, err error) {
	if len(v) < 9 || v[0] != replVersion {
		return 0, rs, fmt.Errorf("%w: session record header", errReplica)
	}
	rs, err = store.DecodeSession(v[9:])
	if err != nil {
		return 0, rs, fmt.Errorf("%w: %w", errReplica, err)
	}
	return binary.BigEndian.Uint64(v[1:9]), rs, nil
}

// replay folds queue records of one generation into the messages and QoS
// 2 packet IDs outstanding. It does not depend on the records' order for
// messages (a retried write may land after a later one): a deleted Seq
// stays deleted, and released wins over sent.
type replay struct {
	msgs     map[uint64]session.StoredMessage
	sent     map[uint64]uint16
	released map[uint64]bool
	deleted  map[uint64]bool
	rels     map[uint16]bool
}

func (rp *replay) init() {
	rp.msgs, rp.sent = make(map[uint64]session.StoredMessage), make(map[uint64]uint16)
	rp.released, rp.deleted, rp.rels = make(map[uint64]bool), make(map[uint64]bool), make(map[uint16]bool)
}

// apply folds one record in; records of other generations are skipped.
func (rp *replay) apply(gen uint64, b []byte) error {
	if len(b) < 10 || b[0] != replVersion {
		return fmt.Errorf("%w: queue record header", errReplica)
	}
	kind := session.OpKind(b[1])
	if binary.BigEndian.Uint64(b[2:]) != gen {
		return nil
	}
	seq, n := binary.Uvarint(b[10:])
	if n <= 0 || len(b) < 10+n+2 {
		return fmt.Errorf("%w: queue record sequence", errReplica)
	}
	id := binary.BigEndian.Uint16(b[10+n:])
	rest := b[10+n+2:]
	switch kind {
	case session.OpPutMessage:
		rs, err := store.DecodeSession(rest)
		if err != nil || len(rs.Messages) != 1 {
			return fmt.Errorf("%w: queued message: %v", errReplica, err)
		}
		if !rp.deleted[seq] {
			rp.msgs[seq] = rs.Messages[0]
		}
	case session.OpInflight:
		rp.sent[seq] = id
	case session.OpReleased:
		rp.released[seq] = true
	case session.OpDeleteMessage:
		rp.deleted[seq] = true
		delete(rp.msgs, seq)
	case session.OpPutRel:
		rp.rels[id] = true
	case session.OpDeleteRel:
		delete(rp.rels, id)
	}
	return nil
}

// result writes the outstanding messages, by Seq, and QoS 2 IDs into rs.
func (rp *replay) result(rs *session.Restored) {
	rs.Messages = rs.Messages[:0]
	for seq, m := range rp.msgs {
		m.Seq = seq
		m.PacketID = rp.sent[seq]
		m.Released = rp.released[seq] && m.PacketID != 0
		rs.Messages = append(rs.Messages, m)
	}
	slices.SortFunc(rs.Messages, func(a, b session.StoredMessage) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	rs.Rel = rs.Rel[:0]
	for id := range rp.rels {
		rs.Rel = append(rs.Rel, id)
	}
	slices.Sort(rs.Rel)
}
