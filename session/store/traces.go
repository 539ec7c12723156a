package store

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// Trace events kept across a restart (-trace-persist): the broker's
// connection and message trace events, written in batches through the
// group commit and bounded in the file as in memory: each batch's
// transaction also drops the events older than the retention and the
// oldest beyond the event limit, so the bucket never grows past the
// limit plus one batch.
//
// Layout: bucket "traces", key time (8 bytes, epoch µs, big-endian), kind
// (1), message ID (8), channel (8), client ID, so keys sort by time and an
// event written twice is stored once; value:
//
//	version (1 byte, traceVersion), info (1 byte)
//
// Bucket "tracemeta" holds "boot" (8 bytes: the run whose message IDs the
// events carry), "issued" (8 bytes: the highest message counter that run
// gave out) and "n" (8 bytes: the number of events stored).

var (
	bucketTraces    = []byte("traces")
	bucketTraceMeta = []byte("tracemeta")
	keyTraceBoot    = []byte("boot")
	keyTraceCount   = []byte("n")
	keyTraceIssued  = []byte("issued")
)

// traceVersion is the version of the trace records written now.
const traceVersion = 1

// TraceEvent is one stored trace event; the fields are those of
// trace.Event, which store may not import.
type TraceEvent struct {
	Time     int64 // epoch µs
	MsgID    uint64
	Channel  uint64
	ClientID string
	Kind     uint8
	Info     uint8
}

const traceKeyLen = 8 + 1 + 8 + 8

func traceKey(e *TraceEvent) []byte {
	k := make([]byte, 0, traceKeyLen+len(e.ClientID))
	k = binary.BigEndian.AppendUint64(k, uint64(e.Time))
	k = append(k, e.Kind)
	k = binary.BigEndian.AppendUint64(k, e.MsgID)
	k = binary.BigEndian.AppendUint64(k, e.Channel)
	return append(k, e.ClientID...)
}

// PutTraces stores events, boot being the run their message IDs belong
// to and issued the highest message counter it gave out, then keeps at
// most keep events, dropping the oldest, and none before since (epoch µs;
// 0 for no bound). It returns the ticket for WhenDurable. Safe for
// concurrent use.
func (d *DB) PutTraces(boot, issued uint64, events []TraceEvent, keep int, since int64) uint64 {
	return d.applyAux(auxOp{fn: func(tx *bolt.Tx) error { return putTraces(tx, boot, issued, events, keep, since) }})
}

func putTraces(tx *bolt.Tx, boot, issued uint64, events []TraceEvent, keep int, since int64) error {
	b, meta := tx.Bucket(bucketTraces), tx.Bucket(bucketTraceMeta)
	var n uint64
	if v := meta.Get(keyTraceCount); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	for i := range events {
		k := traceKey(&events[i])
		if b.Get(k) == nil {
			n++
		}
		if err := b.Put(k, []byte{traceVersion, events[i].Info}); err != nil {
			return err
		}
	}
	c := b.Cursor()
	for k, _ := c.First(); k != nil && (n > uint64(max(keep, 0)) || int64(binary.BigEndian.Uint64(k)) < since); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
		n--
	}
	if err := meta.Put(keyTraceBoot, binary.BigEndian.AppendUint64(nil, boot)); err != nil {
		return err
	}
	if err := meta.Put(keyTraceIssued, binary.BigEndian.AppendUint64(nil, issued)); err != nil {
		return err
	}
	return meta.Put(keyTraceCount, binary.BigEndian.AppendUint64(nil, n))
}

// Traces returns the stored trace events, oldest first, and the boot and
// issued they were last written with (0 when none were). A record that
// does not decode gives a *DamagedError. Safe for concurrent use.
func (d *DB) Traces() (boot, issued uint64, events []TraceEvent, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			boot, issued, events, err = 0, 0, nil, &DamagedError{Path: d.path, Detail: fmt.Sprint(r)}
		}
	}()
	err = d.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketTraceMeta)
		if v := meta.Get(keyTraceBoot); len(v) == 8 {
			boot = binary.BigEndian.Uint64(v)
		}
		if v := meta.Get(keyTraceIssued); len(v) == 8 {
			issued = binary.BigEndian.Uint64(v)
		}
		return tx.Bucket(bucketTraces).ForEach(func(k, v []byte) error {
			if len(k) < traceKeyLen || len(v) != 2 || v[0] != traceVersion {
				return fmt.Errorf("trace record %x: %w or unknown version", k, errShort)
			}
			events = append(events, TraceEvent{Time: int64(binary.BigEndian.Uint64(k)), Kind: k[8],
				MsgID: binary.BigEndian.Uint64(k[9:]), Channel: binary.BigEndian.Uint64(k[17:]),
				ClientID: string(k[traceKeyLen:]), Info: v[1]})
			return nil
		})
	})
	if err != nil {
		return 0, 0, nil, &DamagedError{Path: d.path, Detail: err.Error(), Err: err}
	}
	return boot, issued, events, nil
}
