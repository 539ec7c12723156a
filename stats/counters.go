package stats

import (
	"math/bits"
	"strconv"
	"sync/atomic"

	"github.com/glassmq/glassmq/codec"
)

// The packet types and fixed-header QoS values that can occur: PUBLISH at
// 0, 1 and 2; PUBREL, SUBSCRIBE and UNSUBSCRIBE at 1 (their reserved flags
// are 0010); every other type at 0. One slot each keeps a client's counters
// at 136 bytes a direction instead of 392 for all 16 x 3 combinations.
const numSlots = 16

var (
	slotOf  [16][3]int8 // -1: a combination that cannot occur
	slotKey [numSlots]struct {
		t   codec.Type
		qos byte
	}
)

func init() {
	for t := range slotOf {
		slotOf[t] = [3]int8{-1, -1, -1}
	}
	i := int8(0)
	add := func(t codec.Type, qos byte) {
		slotOf[t][qos] = i
		slotKey[i].t, slotKey[i].qos = t, qos
		i++
	}
	for t := codec.TypeConnect; t <= codec.TypeDisconnect; t++ {
		switch t {
		case codec.TypePublish:
			add(t, 0)
			add(t, 1)
			add(t, 2)
		case codec.TypePubrel, codec.TypeSubscribe, codec.TypeUnsubscribe:
			add(t, 1)
		default:
			add(t, 0)
		}
	}
}

// Counters counts the packets of one direction of one client (or one loop):
// whole-packet bytes, and packets by type and by the QoS field of the fixed
// header. The zero value is ready to use.
type Counters struct {
	bytes atomic.Uint64
	n     [numSlots]atomic.Uint64
}

// Add counts one packet of type t with fixed-header QoS qos (0, 1 or 2) whose
// whole encoded size is size bytes: two uncontended atomic adds (about 10 ns
// on the machines we measured; an atomic load+store pair is no cheaper on
// amd64, where Store is an XCHG). A combination that cannot occur (a
// malformed packet's) counts its bytes only. It does not allocate. Safe for
// concurrent use.
func (c *Counters) Add(t codec.Type, qos byte, size int) {
	c.bytes.Add(uint64(size))
	if i := slotOf[t&0x0f][qos%3]; i >= 0 {
		c.n[i].Add(1)
	}
}

// AddN counts n packets of type t and QoS qos, size bytes in all: what a
// loop gathered in plain fields over a round, in two atomic adds. Safe for
// concurrent use.
func (c *Counters) AddN(t codec.Type, qos byte, n, size uint64) {
	c.bytes.Add(size)
	if i := slotOf[t&0x0f][qos%3]; i >= 0 {
		c.n[i].Add(n)
	}
}

// Bytes returns the number of bytes counted so far. Safe for concurrent use.
func (c *Counters) Bytes() uint64 { return c.bytes.Load() }

// Count returns the number of packets of type t and QoS qos counted so far.
// Safe for concurrent use.
func (c *Counters) Count(t codec.Type, qos byte) uint64 {
	if i := slotOf[t&0x0f][qos%3]; i >= 0 {
		return c.n[i].Load()
	}
	return 0
}

// Reset sets every count to zero. Safe for concurrent use, but a reader may
// see a mix of old and new counts while it runs.
func (c *Counters) Reset() {
	c.bytes.Store(0)
	for i := range c.n {
		c.n[i].Store(0)
	}
}

// Item is one non-zero count of a Snapshot.
type Item struct {
	Type  codec.Type
	QoS   byte
	Count uint64
}

// Snapshot is a point-in-time copy of Counters. Items hold only non-zero
// counts, ordered by packet type then QoS.
type Snapshot struct {
	Bytes uint64
	Items []Item
}

// Snapshot appends the current non-zero counts to dst.Items (after truncating
// it) and sets dst.Bytes. It allocates only when dst.Items must grow.
// Safe for concurrent use.
func (c *Counters) Snapshot(dst *Snapshot) {
	dst.Bytes = c.bytes.Load()
	dst.Items = dst.Items[:0]
	for i := range c.n {
		if v := c.n[i].Load(); v != 0 {
			dst.Items = append(dst.Items, Item{Type: slotKey[i].t, QoS: slotKey[i].qos, Count: v})
		}
	}
}

// Client holds one client's counters in both directions. Received is traffic
// from the client to the server (Tencent's "OutBound"); Sent is traffic from
// the server to the client (Tencent's "Inbound").
type Client struct {
	Received Counters
	Sent     Counters
}

// String renders the snapshot's items as "TYPE/qos:count ...", for logs and
// tests.
func (s Snapshot) String() string {
	var b []byte
	for i, it := range s.Items {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, it.Type.String()...)
		b = append(b, '/', '0'+it.QoS, ':')
		b = strconv.AppendUint(b, it.Count, 10)
	}
	return string(b)
}

// Local accumulates counts on one goroutine with plain arithmetic, for a
// writer that publishes them to Counters once per batch of work (an event
// loop does it once per round): a per-packet increment costs about a
// nanosecond instead of two atomic adds. The zero value is ready to use;
// not safe for concurrent use.
type Local struct {
	bytes uint64
	n     [numSlots]uint64
	dirty uint32 // bit i set when n[i] is not zero
}

// Add counts one packet, like Counters.Add.
func (l *Local) Add(t codec.Type, qos byte, size int) {
	l.bytes += uint64(size)
	if i := slotOf[t&0x0f][qos%3]; i >= 0 {
		l.n[i]++
		l.dirty |= 1 << i
	}
}

// FlushTo adds the accumulated counts to c and zeroes l. It does not
// allocate.
func (l *Local) FlushTo(c *Counters) {
	if l.bytes != 0 {
		c.bytes.Add(l.bytes)
		l.bytes = 0
	}
	for d := l.dirty; d != 0; d &= d - 1 {
		i := bits.TrailingZeros32(d)
		c.n[i].Add(l.n[i])
		l.n[i] = 0
	}
	l.dirty = 0
}
