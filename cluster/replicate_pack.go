package cluster

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Packs. JetStream's cost is per stored message (a replicated append on
// every replica, an acknowledgement), hardly per byte, so the writer
// sends what gathered for one session in one round as one message on the
// session's subject: a pack. A pack of one record is the record itself;
// a pack of more is replPackVersion, then each record as a uvarint length
// and the record's bytes, in the order they were applied. Fetch unpacks
// them (applyPacked) and folds the records in as before, so packs change
// nothing a rebuild sees. A pack is published, acknowledged, retried and
// trimmed as a whole; a bucket write is a pack of its own.

// replPackVersion starts a pack of more than one record; a record starts
// with replVersion.
const replPackVersion = 2

// Bounds of one pack: the stream's per-subject bound counts packs, so a
// subject holds at most maxPackRecords × ClientRecords records, and a
// pack stays far below NATS's largest payload.
const (
	maxPackRecords = 64
	maxPackBytes   = 256 << 10
)

// replPack is one JetStream message of the writer: records of one session
// (queue), or one bucket write.
type replPack struct {
	n       uint64 // number, in the message ID
	c       *replClient
	msg     *nats.Msg
	entries []*replEntry // in ticket order
	size    int          // bytes of the records, while packing
	queue   bool
	done    bool
	first   time.Time // first published
	retried bool
}

// quiet reports whether the session had nothing outstanding at the
// pack's last record.
func (p *replPack) quiet() bool { return p.entries[len(p.entries)-1].quiet }

// end reports whether the pack is the session's deletion.
func (p *replPack) end() bool { return p.entries[len(p.entries)-1].end }

// packLocked appends to packs the messages that carry fresh (entries
// never published, in ticket order): each session's queue records of the
// round packed together, up to the bounds, and each bucket write alone.
// A session's packs keep the order of its records.
func (r *Replica) packLocked(packs []*replPack, fresh []*replEntry) []*replPack {
	from := len(packs)
	for _, e := range fresh {
		if !e.queue {
			packs = append(packs, &replPack{c: e.c, msg: e.msg, entries: []*replEntry{e}})
			continue
		}
		p := r.open[e.c]
		if p == nil || len(p.entries) == maxPackRecords || p.size+len(e.data) > maxPackBytes {
			p = &replPack{c: e.c, queue: true}
			r.open[e.c] = p
			packs = append(packs, p)
		}
		p.entries = append(p.entries, e)
		p.size += len(e.data)
	}
	clear(r.open)
	for _, p := range packs[from:] {
		r.next++
		p.n = r.next
		if p.queue {
			p.msg = &nats.Msg{Subject: p.c.subject, Data: packRecords(p.entries, p.size), Header: nats.Header{}}
		}
		p.msg.Header.Set(jetstream.MsgIDHeader, r.run+strconv.FormatUint(p.n, 10))
	}
	return packs
}

// packRecords returns the pack of entries' records, size bytes in all,
// and lets the entries drop them.
func packRecords(entries []*replEntry, size int) []byte {
	if len(entries) == 1 {
		b := entries[0].data
		entries[0].data = nil
		return b
	}
	b := make([]byte, 0, 1+size+binary.MaxVarintLen32*len(entries))
	b = append(b, replPackVersion)
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(len(e.data)))
		b = append(b, e.data...)
		e.data = nil
	}
	return b
}

// applyPacked folds one stored message of a queue subject in: a record,
// or a pack of records.
func (rp *replay) applyPacked(gen uint64, b []byte) error {
	if len(b) == 0 || b[0] != replPackVersion {
		return rp.apply(gen, b)
	}
	for b = b[1:]; len(b) > 0; {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return fmt.Errorf("%w: pack of queue records", errReplica)
		}
		if err := rp.apply(gen, b[k:k+int(n)]); err != nil {
			return err
		}
		b = b[k+int(n):]
	}
	return nil
}
