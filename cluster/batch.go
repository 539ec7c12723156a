package cluster

import (
	"encoding/binary"
	"errors"
)

// The wire format of a batch: the messages of one topic that a node
// forwards in one loop round, sent as one NATS message.
//
//	batch  = version origin topic record*
//	record = uvarint(length) flags number expiry [from] props payload
//
// version is batchVersion. origin (node name and start time) and topic are
// fields: a uvarint length and the bytes; they are the same for every
// message of a batch, so they are sent once. In a record, flags holds the
// QoS in bits 0-1, retain in bit 2 and, in bit 3, "same publisher as the
// record before" (from is then left out). number is the message's number,
// as a uvarint: the first record's whole, each later one as the difference
// from the record before (numbers only grow within a batch). expiry is
// epoch milliseconds, 0 for never, as a uvarint. from is the publisher's
// client ID and props the MQTT 5.0 forwardable properties as in a PUBLISH,
// both fields; the payload runs to the end of the record. A 16-byte QoS 0
// message from the same publisher as the one before costs 21 bytes.
const batchVersion = 2

const (
	flagQoS      = 3
	flagRetain   = 4
	flagSameFrom = 8
)

var errEnvelope = errors.New("cluster: bad batch")

// envelope is one message between nodes, as a batch's reader returns it:
// its byte fields are views into the batch.
type envelope struct {
	origin  []byte
	seq     uint64
	qos     byte
	retain  bool
	expires int64
	from    []byte
	topic   []byte
	props   []byte
	payload []byte
}

// appendBatchHeader starts a batch of topic's messages from origin.
func appendBatchHeader[T ~string | ~[]byte](dst []byte, origin string, topic T) []byte {
	dst = append(dst, batchVersion)
	dst = appendField(dst, origin)
	return appendField(dst, topic)
}

// record is what a batch's record carries of a message besides its
// publisher: what the sending side knows of it.
type record struct {
	seq     uint64
	qos     byte
	retain  bool
	expires int64
	props   []byte
	payload []byte
}

// appendRecord appends the message e published by from to a batch:
// prevSeq is the number of the batch's record before (0 for the first),
// and sameFrom says that record had the same publisher. It returns dst
// unchanged and false when the record would make the batch longer than
// max bytes.
func appendRecord(dst []byte, e record, from string, prevSeq uint64, sameFrom bool, max int) ([]byte, bool) {
	flags := e.qos & flagQoS
	if e.retain {
		flags |= flagRetain
	}
	n := 1 + uvarintLen(e.seq-prevSeq) + uvarintLen(uint64(max64(e.expires, 0))) + uvarintLen(uint64(len(e.props))) + len(e.props) + len(e.payload)
	if sameFrom {
		flags |= flagSameFrom
	} else {
		n += uvarintLen(uint64(len(from))) + len(from)
	}
	if len(dst)+uvarintLen(uint64(n))+n > max {
		return dst, false
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, e.seq-prevSeq)
	dst = binary.AppendUvarint(dst, uint64(max64(e.expires, 0)))
	if !sameFrom {
		dst = appendField(dst, from)
	}
	dst = appendField(dst, e.props)
	return append(dst, e.payload...), true
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendField[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// batchReader reads the messages of a batch in order.
type batchReader struct {
	origin, topic []byte
	rest          []byte
	from          []byte // publisher of the last record read
	seq           uint64 // number of the last record read; 0 before the first
	n             int    // records read
}

// init starts reading the batch b; it fails when b is not one.
func (br *batchReader) init(b []byte) error {
	if len(b) < 1 || b[0] != batchVersion {
		return errEnvelope
	}
	var ok bool
	if br.origin, b, ok = field(b[1:]); !ok {
		return errEnvelope
	}
	if br.topic, b, ok = field(b); !ok {
		return errEnvelope
	}
	br.rest, br.from, br.seq, br.n = b, nil, 0, 0
	return nil
}

// next reads the next message into e, whose byte fields are then views
// into the batch. It reports false at the end of the batch, and an error
// for a record that cannot be read (the rest of the batch is then lost).
func (br *batchReader) next(e *envelope) (bool, error) {
	if len(br.rest) == 0 {
		return false, nil
	}
	rec, rest, ok := field(br.rest)
	if !ok || len(rec) < 1 {
		return false, errEnvelope
	}
	br.rest = rest
	flags := rec[0]
	if flags&^(flagQoS|flagRetain|flagSameFrom) != 0 || flags&flagQoS == 3 || flags&flagSameFrom != 0 && br.n == 0 {
		return false, errEnvelope
	}
	b := rec[1:]
	var delta, expires uint64
	if delta, b, ok = uvarint(b); !ok || br.n > 0 && delta == 0 {
		return false, errEnvelope
	}
	if expires, b, ok = uvarint(b); !ok || expires > 1<<62 {
		return false, errEnvelope
	}
	if flags&flagSameFrom == 0 {
		if br.from, b, ok = field(b); !ok {
			return false, errEnvelope
		}
	}
	var props []byte
	if props, b, ok = field(b); !ok {
		return false, errEnvelope
	}
	br.seq += delta
	br.n++
	// Field by field: a composite literal here built the envelope aside
	// and copied it, half the cost of reading a small record.
	e.origin, e.topic, e.from, e.props, e.payload = br.origin, br.topic, br.from, props, b
	e.seq, e.qos, e.retain, e.expires = br.seq, flags&flagQoS, flags&flagRetain != 0, int64(expires)
	return true, nil
}

// uvarint reads a uvarint at the start of b, as binary.Uvarint does, but
// small enough to be inlined: a batch's records are mostly one-byte
// lengths, deltas and expiries.
func uvarint(b []byte) (uint64, []byte, bool) {
	var v uint64
	for i, c := range b {
		if i == binary.MaxVarintLen64 || i == binary.MaxVarintLen64-1 && c > 1 {
			break // overflow
		}
		if c < 0x80 {
			return v | uint64(c)<<(7*i), b[i+1:], true
		}
		v |= uint64(c&0x7f) << (7 * i)
	}
	return 0, nil, false
}

func field(b []byte) ([]byte, []byte, bool) {
	n, b, ok := uvarint(b)
	if !ok || n > uint64(len(b)) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}
