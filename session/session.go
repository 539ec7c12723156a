package session

import (
	"sync"
	"sync/atomic"

	"github.com/glassmq/glassmq/stats"
)

// historyMax bounds the per-session connect/disconnect history.
const historyMax = 32

// ConnMeta describes the connection a session was last attached to. It is
// immutable once published with Connected.
type ConnMeta struct {
	Address         string // remote ip:port
	ProtocolVersion byte   // 3 or 4
	KeepAlive       uint16 // seconds
	CleanSession    bool
	Username        string
	WillTopic       string
	Listener        string // "tcp", "tls", "ws" or "wss"
	Authenticated   bool   // the user name was verified (password or client certificate)
}

type disconnect struct {
	reason Reason
	detail string
}

type ownerBox struct{ v any }

// Session is one client's session: what outlives a single network connection
// when CleanSession is 0, and the introspection data the admin API shows.
//
// Lock order: see the package doc. Session.mu is never held while calling
// into another session or the broker's router; Store.Apply may be called
// under it.
type Session struct {
	ClientID string       // immutable
	Seq      uint64       // immutable, unique per registry; orders sessions for de-duplication
	Counters stats.Client // written by the owning loop, read by admin

	QueueMax    int   // immutable: bound on queued QoS 1/2 messages
	InflightMax int   // immutable: outgoing in-flight window
	Expiry      int64 // immutable: seconds an offline persistent session is kept

	createTime     atomic.Int64 // epoch ms
	connectTime    atomic.Int64
	disconnectTime atomic.Int64
	lastActivity   atomic.Int64
	connected      atomic.Bool
	connections    atomic.Uint64
	meta           atomic.Pointer[ConnMeta]
	last           atomic.Pointer[disconnect]
	subs           atomic.Pointer[[]Subscription] // copy-on-write, written by the owning loop
	history        atomic.Pointer[[]Event]        // copy-on-write, written under mu
	queueLen       atomic.Int32
	queueDropped   atomic.Uint64
	inflightLen    atomic.Int32
	awaitingRel    atomic.Int32

	owner atomic.Pointer[ownerBox] // attached connection; written under mu

	mu      sync.Mutex
	claim   any    // connection taking the session over; guarded by mu
	q       queue  // QoS 1/2 messages not yet in flight; guarded by mu
	removed bool   // deleted from the registry; guarded by mu
	durable bool   // persisted to the Store (CleanSession 0); guarded by mu
	nextSeq uint64 // Seq of the next queued message; guarded by mu

	// Loop belongs to the event loop of the attached connection (or of the
	// connection finishing a takeover): touch it only from that loop.
	Loop struct {
		NextPacketID uint16
		Inflight     []Inflight          // in the order sent
		AwaitingRel  map[uint16]struct{} // inbound QoS 2 packet IDs before PUBREL
	}
}

// New returns a session created at now (epoch ms).
func New(clientID string, seq uint64, queueMax, inflightMax int, expiry int64, now int64) *Session {
	s := &Session{ClientID: clientID, Seq: seq, QueueMax: queueMax, InflightMax: inflightMax, Expiry: expiry}
	s.q.max = queueMax
	s.createTime.Store(now)
	return s
}

// Lock locks the session's mutex, which guards attachment, the claim and the
// queue. Safe for concurrent use.
func (s *Session) Lock() { s.mu.Lock() }

// Unlock unlocks the session's mutex. Safe for concurrent use.
func (s *Session) Unlock() { s.mu.Unlock() }

// Owner returns the attached connection, or nil when the session is offline
// or being taken over. Safe for concurrent use.
func (s *Session) Owner() any {
	if b := s.owner.Load(); b != nil {
		return b.v
	}
	return nil
}

// SetOwnerLocked attaches c (nil detaches). The caller holds the lock.
func (s *Session) SetOwnerLocked(c any) {
	if c == nil {
		s.owner.Store(nil)
		return
	}
	s.owner.Store(&ownerBox{c})
}

// ClaimLocked returns the connection taking the session over, if any. The caller
// holds the lock.
func (s *Session) ClaimLocked() any { return s.claim }

// SetClaimLocked records c as the connection taking the session over. The
// caller holds the lock.
func (s *Session) SetClaimLocked(c any) { s.claim = c }

// RemovedLocked reports whether the session was deleted from its registry,
// after which it must not be attached. The caller holds the lock.
func (s *Session) RemovedLocked() bool { return s.removed }

// MarkRemovedLocked records that the session was deleted from its registry.
// The caller holds the lock.
func (s *Session) MarkRemovedLocked() { s.removed = true }

// DurableLocked reports whether the session is kept in the Store. The
// caller holds the lock.
func (s *Session) DurableLocked() bool { return s.durable }

// SetDurableLocked sets whether the session is kept in the Store. The caller
// holds the lock.
func (s *Session) SetDurableLocked(d bool) { s.durable = d }

// EnqueueLocked gives m the session's next Seq and appends it to the queue,
// dropping the oldest message when the queue is full. It returns m as
// queued, and the dropped message when dropped is true. The caller holds the
// lock.
func (s *Session) EnqueueLocked(m Queued) (queued, old Queued, dropped bool) {
	s.nextSeq++
	m.Seq = s.nextSeq
	if s.q.max > 0 && s.q.size == s.q.max {
		old = s.q.buf[s.q.head]
	}
	dropped = s.q.push(m)
	if dropped {
		s.queueDropped.Add(1)
	}
	s.queueLen.Store(int32(s.q.size))
	return m, old, dropped
}

// DequeueLocked removes the oldest queued message. The caller holds the lock.
func (s *Session) DequeueLocked() (Queued, bool) {
	m, ok := s.q.pop()
	if ok {
		s.queueLen.Store(int32(s.q.size))
	}
	return m, ok
}

// QueueLenLocked returns the number of queued messages. The caller holds the lock.
func (s *Session) QueueLenLocked() int { return s.q.size }

// EachQueuedLocked calls fn for each queued message, oldest first. The caller
// holds the lock.
func (s *Session) EachQueuedLocked(fn func(Queued)) { s.q.each(fn) }

// ResetLocked turns s into a new, empty session created at now, as a CONNECT
// with CleanSession 1 requires [MQTT-3.1.2-6]. It clears subscriptions,
// queue, in-flight window and counters; the history is kept. The caller holds
// the lock and is the session's new loop owner. It returns the subscriptions
// that were dropped, for the caller to remove from its router.
func (s *Session) ResetLocked(now int64) []Subscription {
	var old []Subscription
	if p := s.subs.Swap(nil); p != nil {
		old = *p
	}
	s.q.clear()
	s.queueLen.Store(0)
	s.nextSeq = 0
	s.queueDropped.Store(0)
	s.Loop.NextPacketID = 0
	s.Loop.Inflight = nil
	s.Loop.AwaitingRel = nil
	s.inflightLen.Store(0)
	s.awaitingRel.Store(0)
	s.Counters.Received.Reset()
	s.Counters.Sent.Reset()
	s.createTime.Store(now)
	s.connectTime.Store(0)
	s.disconnectTime.Store(0)
	s.connections.Store(0)
	s.last.Store(nil)
	return old
}

// Record returns what the Store keeps of the session. Safe for concurrent
// use.
func (s *Session) Record() *Record {
	return &Record{ClientID: s.ClientID, CreateTime: s.createTime.Load(), ConnectTime: s.connectTime.Load(),
		DisconnectTime: s.disconnectTime.Load(), Expiry: s.Expiry, Subscriptions: s.Subscriptions()}
}

// Restore fills a new, unregistered session from the Store as an offline
// persistent session. A session that was connected when the broker stopped
// gets now as its disconnect time. It returns the next in-flight gauges
// synced. Call before the session is shared.
func (s *Session) Restore(r *Restored, now int64) {
	rec := &r.Record
	s.createTime.Store(rec.CreateTime)
	s.connectTime.Store(rec.ConnectTime)
	dt := rec.DisconnectTime
	if dt < rec.ConnectTime || dt == 0 {
		dt = now
	}
	s.disconnectTime.Store(dt)
	s.meta.Store(&ConnMeta{CleanSession: false})
	subs := append([]Subscription(nil), rec.Subscriptions...)
	s.subs.Store(&subs)
	s.durable = true
	for _, m := range r.Messages {
		if m.Seq > s.nextSeq {
			s.nextSeq = m.Seq
		}
		if m.PacketID != 0 {
			s.Loop.Inflight = append(s.Loop.Inflight, Inflight{Seq: m.Seq, PacketID: m.PacketID, Msg: m.Msg,
				QoS: m.QoS, Retain: m.Retain, Released: m.Released})
			if m.PacketID > s.Loop.NextPacketID {
				s.Loop.NextPacketID = m.PacketID
			}
			continue
		}
		s.q.push(Queued{Seq: m.Seq, Msg: m.Msg, QoS: m.QoS, Retain: m.Retain})
	}
	s.queueLen.Store(int32(s.q.size))
	if len(r.Rel) > 0 {
		s.Loop.AwaitingRel = make(map[uint16]struct{}, len(r.Rel))
		for _, id := range r.Rel {
			s.Loop.AwaitingRel[id] = struct{}{}
		}
	}
	s.SyncLoopGauges()
}

// Connected records an accepted CONNECT at now (epoch ms) over the connection
// described by m. Called by the owning loop.
func (s *Session) Connected(m *ConnMeta, now int64) {
	s.meta.Store(m)
	s.connectTime.Store(now)
	s.lastActivity.Store(now)
	s.connections.Add(1)
	s.connected.Store(true)
	s.addEvent(Event{Time: now, Connected: true, Address: m.Address})
}

// Disconnected records the end of the attached connection at now. Called by
// the loop that owned the connection.
func (s *Session) Disconnected(r Reason, detail string, now int64) {
	s.disconnectTime.Store(now)
	s.last.Store(&disconnect{r, detail})
	s.connected.Store(false)
	addr := ""
	if m := s.meta.Load(); m != nil {
		addr = m.Address
	}
	s.addEvent(Event{Time: now, Address: addr, Reason: r, Detail: detail})
}

func (s *Session) addEvent(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var h []Event
	if p := s.history.Load(); p != nil {
		h = *p
	}
	if len(h) >= historyMax {
		h = h[len(h)-historyMax+1:]
	}
	nh := make([]Event, len(h), len(h)+1)
	copy(nh, h)
	nh = append(nh, e)
	s.history.Store(&nh)
}

// IsConnected reports whether a connection is attached. Safe for concurrent use.
func (s *Session) IsConnected() bool { return s.connected.Load() }

// DisconnectTime returns the epoch ms of the last disconnect, 0 if none. Safe
// for concurrent use.
func (s *Session) DisconnectTime() int64 { return s.disconnectTime.Load() }

// Touch records activity at now (epoch ms). Safe for concurrent use.
func (s *Session) Touch(now int64) { s.lastActivity.Store(now) }

// Meta returns the description of the last connection, nil before the first.
// Safe for concurrent use.
func (s *Session) Meta() *ConnMeta { return s.meta.Load() }

// Subscriptions returns the session's subscriptions in the order first
// subscribed. The slice must not be modified. Safe for concurrent use.
func (s *Session) Subscriptions() []Subscription {
	if p := s.subs.Load(); p != nil {
		return *p
	}
	return nil
}

// Subscribe adds filter at qos, or changes the QoS of an existing filter
// keeping its position. It reports whether the filter is new. Loop-only.
func (s *Session) Subscribe(filter string, qos byte) (added bool) {
	old := s.Subscriptions()
	for i := range old {
		if old[i].TopicFilter == filter {
			if old[i].QoS != qos {
				n := append([]Subscription(nil), old...)
				n[i].QoS = qos
				s.subs.Store(&n)
			}
			return false
		}
	}
	n := make([]Subscription, len(old), len(old)+1)
	copy(n, old)
	n = append(n, Subscription{TopicFilter: filter, QoS: qos})
	s.subs.Store(&n)
	return true
}

// Unsubscribe removes filter and reports whether it was there. Loop-only.
func (s *Session) Unsubscribe(filter string) bool {
	old := s.Subscriptions()
	for i := range old {
		if old[i].TopicFilter == filter {
			n := make([]Subscription, 0, len(old)-1)
			n = append(n, old[:i]...)
			n = append(n, old[i+1:]...)
			s.subs.Store(&n)
			return true
		}
	}
	return false
}

// SyncLoopGauges publishes the sizes of the loop-owned in-flight window and
// QoS 2 receive set for readers. Loop-only.
func (s *Session) SyncLoopGauges() {
	s.inflightLen.Store(int32(len(s.Loop.Inflight)))
	s.awaitingRel.Store(int32(len(s.Loop.AwaitingRel)))
}

// Info fills dst with a snapshot of s, reusing dst's slices. It takes no lock
// and never blocks. Safe for concurrent use.
func (s *Session) Info(dst *Info) {
	subs, hist := dst.Subscriptions[:0], dst.History[:0]
	recv, sent := dst.Received.Items, dst.Sent.Items
	*dst = Info{ClientID: s.ClientID}
	if m := s.meta.Load(); m != nil {
		dst.ClientAddress = m.Address
		dst.ProtocolVersion = int(m.ProtocolVersion)
		dst.KeepAlive = int(m.KeepAlive)
		dst.CleanSession = m.CleanSession
		dst.Username = m.Username
		dst.WillTopic = m.WillTopic
		dst.Listener = m.Listener
		dst.Authenticated = m.Authenticated
		if !m.CleanSession {
			dst.SessionExpiry = s.Expiry
		}
	}
	dst.Connected = s.connected.Load()
	dst.CreateTime = s.createTime.Load()
	dst.ConnectTime = s.connectTime.Load()
	dst.DisconnectTime = s.disconnectTime.Load()
	dst.Subscriptions = append(subs, s.Subscriptions()...)
	dst.Received.Items, dst.Sent.Items = recv, sent
	s.Counters.Received.Snapshot(&dst.Received)
	s.Counters.Sent.Snapshot(&dst.Sent)
	dst.QueueLen = int(s.queueLen.Load())
	dst.QueueMax = s.QueueMax
	dst.QueueDropped = s.queueDropped.Load()
	dst.InflightLen = int(s.inflightLen.Load())
	dst.InflightMax = s.InflightMax
	dst.AwaitingRel = int(s.awaitingRel.Load())
	dst.LastActivity = s.lastActivity.Load()
	dst.Connections = s.connections.Load()
	if d := s.last.Load(); d != nil {
		dst.DisconnectReason, dst.DisconnectDetail = d.reason, d.detail
	}
	if p := s.history.Load(); p != nil {
		hist = append(hist, *p...)
	}
	dst.History = hist
}
