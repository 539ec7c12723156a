package trace

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Mode says which messages get a message ID and a message trace.
type Mode uint8

// Modes of -message-trace.
const (
	MessagesQoS12 Mode = iota // QoS 1 and 2 messages (the default)
	MessagesOff               // no message trace; connection events only
	MessagesAll               // every message, QoS 0 included
)

// String returns the mode's flag value.
func (m Mode) String() string {
	switch m {
	case MessagesOff:
		return "off"
	case MessagesAll:
		return "all"
	}
	return "qos12"
}

// ParseMode parses a -message-trace value: off, qos12 or all.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "off":
		return MessagesOff, nil
	case "qos12", "":
		return MessagesQoS12, nil
	case "all":
		return MessagesAll, nil
	}
	return 0, fmt.Errorf("trace: -message-trace %q: want off, qos12 or all", s)
}

// Traces reports whether a message published at qos gets a message ID and
// trace events in mode m.
func (m Mode) Traces(qos byte) bool {
	return m == MessagesAll || m == MessagesQoS12 && qos > 0
}

// Defaults.
const (
	DefaultMaxEvents = 100_000
	DefaultRetention = 72 * time.Hour
)

// Config configures a Tracer.
type Config struct {
	MaxEvents int           // events kept in all, split evenly between the rings; oldest evicted
	Retention time.Duration // events older than this are not shown and are dropped; 0 keeps them until evicted
	Messages  Mode
}

// Validate returns every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxEvents < 1 {
		errs = append(errs, fmt.Errorf("trace: -trace-max-events %d: want at least 1", c.MaxEvents))
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("trace: -trace-retention %v: want 0 (no limit) or more", c.Retention))
	}
	if c.Messages > MessagesAll {
		errs = append(errs, fmt.Errorf("trace: message mode %d: want off, qos12 or all", c.Messages))
	}
	return errors.Join(errs...)
}

// Tracer holds the rings of one broker run. Safe for concurrent use; each
// ring has one writer (see Ring).
type Tracer struct {
	cfg   Config
	boot  uint64 // start time in ns: the first half of every formatted message ID (an earlier run's after Restore)
	rings []*Ring
	past  atomic.Pointer[past] // events of earlier runs (restore.go); nil when none
}

// New returns a Tracer with rings writers (one per event loop, plus one
// for work outside the loops) started at now. c must pass Validate.
func New(c Config, rings int, now time.Time) *Tracer {
	t := &Tracer{cfg: c, boot: uint64(now.UnixNano()), rings: make([]*Ring, rings)}
	per := max(1, (c.MaxEvents+rings-1)/rings)
	for i := range t.rings {
		t.rings[i] = newRing(i, per, c.Retention.Microseconds())
	}
	return t
}

// Ring returns writer i's ring. Safe for concurrent use.
func (t *Tracer) Ring(i int) *Ring { return t.rings[i] }

// Rings returns the number of rings. Safe for concurrent use.
func (t *Tracer) Rings() int { return len(t.rings) }

// Messages returns the message trace mode. Safe for concurrent use.
func (t *Tracer) Messages() Mode { return t.cfg.Messages }

// Config returns the tracer's configuration. Safe for concurrent use.
func (t *Tracer) Config() Config { return t.cfg }

// Len returns how many events the rings show now. Safe for concurrent use.
func (t *Tracer) Len() int {
	n := t.pastLen()
	for _, r := range t.rings {
		n += r.Len()
	}
	return n
}

// FormatMsgID renders a message ID as the cloud does, 32 upper-case hex
// digits: the broker's start time, then the ID, so IDs of different runs
// never collide.
func (t *Tracer) FormatMsgID(id uint64) string {
	return fmt.Sprintf("%016X%016X", t.boot, id)
}

// ParseMsgID is the inverse of FormatMsgID; it reports false for text that
// is not a message ID of this run.
func (t *Tracer) ParseMsgID(s string) (uint64, bool) {
	if len(s) != 32 {
		return 0, false
	}
	boot, err1 := strconv.ParseUint(s[:16], 16, 64)
	id, err2 := strconv.ParseUint(s[16:], 16, 64)
	if err1 != nil || err2 != nil || boot != t.boot || strings.ToUpper(s) != s && strings.ToLower(s) != s {
		return 0, false
	}
	return id, true
}

// Filter selects events for Find. Zero fields select everything.
type Filter struct {
	ClientID string // only this client's events
	MsgID    uint64 // only this message's events
	Begin    int64  // epoch µs, inclusive
	End      int64  // epoch µs, inclusive; 0 for no bound
	// Kinds selects kinds by bit (1<<Kind); 0 selects all.
	Kinds uint32
}

// Bits of Filter.Kinds.
const (
	Connections = 1<<KindConnect | 1<<KindClose | 1<<KindDisconnect
	Messages    = 1<<KindPublish | 1<<KindPublishAPI | 1<<KindPush | 1<<KindPushOffline
	Publishes   = 1<<KindPublish | 1<<KindPublishAPI
	Deliveries  = 1<<KindPush | 1<<KindPushOffline
)

// Find returns copies of the events f selects, oldest first, among those
// not older than the retention at now (epoch µs). With f.ClientID set it
// reads only the chunks of events that may hold the client (see bloom.go),
// so its cost follows the client's events, not all events kept. Safe for
// concurrent use; it never blocks a writer.
func (t *Tracer) Find(f Filter, now int64) []Event {
	since := f.Begin
	if r := t.cfg.Retention.Microseconds(); r > 0 {
		since = max(since, now-r)
	}
	m := newMatcher(f, since)
	out := t.findPast(&m, nil)
	for _, r := range t.rings {
		out = r.find(&m, out)
	}
	slices.SortStableFunc(out, byTime)
	return out
}

// order sorts a message's events of the same microsecond (one round
// reads the clock once) in causal order: its publication before its
// pushes. Other events of one time keep their ring order.
func (k Kind) order() int {
	if k.Delivery() {
		return 1
	}
	return 0
}
