package session

import (
	"sync"
	"sync/atomic"

	"github.com/glassmq/glassmq/stats"
)

// historyMax bounds the per-session connect/disconnect history.
const historyMax = 32

// ConnMeta describes the connection a session was last attached to. It is
// immutable once published with Attach.
type ConnMeta struct {
	Address         string // remote ip:port
	ProtocolVersion byte   // 3, 4 or 5
	CleanSession    bool   // 3.1.1 CleanSession; 5.0 Clean Start: begin with an empty session
	Authenticated   bool   // the user name was verified (password or client certificate)
	WillExpires     bool   // 5.0: the will has a Message Expiry Interval, WillExpiry
	ReceiveMaximum  uint16 // 5.0: QoS 1/2 deliveries the client takes at once; 0 for no limit of its own
	KeepAlive       uint16 // seconds
	MaxPacketSize   uint32 // 5.0: largest packet the client accepts; 0 for no limit of its own
	WillDelay       uint32 // 5.0: seconds from the connection's end to its will's publication, unless the session ends first
	WillExpiry      uint32 // 5.0: seconds the will lives once published, when WillExpires
	SessionExpiry   int64  // seconds the session outlives this connection; 0 ends it with the connection
	Username        string
	Will            *Message // the will message (its Topic is the will topic), nil for none; immutable
	Listener        string   // "tcp", "tls", "ws" or "wss"
	V5              *ConnV5  // 5.0: what else CONNECT said, including its Authentication Method (v5info.go); nil for 3.1.1 and 3.1
}

// AuthMethod returns the CONNECT's 5.0 Authentication Method, "" for none
// and for 3.1.1 and 3.1. A connection whose CONNECT named one is attached
// only once the method proved the user, so for an attached connection it
// is the method that proved Username ("SCRAM-SHA-256"). Kept in V5, not
// here, so that a ConnMeta stays in the 96-byte size class.
func (m *ConnMeta) AuthMethod() string {
	if m.V5 == nil {
		return ""
	}
	return m.V5.AuthMethod
}

type disconnect struct {
	reason Reason
	detail string
	code   DisconnectCode
}

// Limits are the bounds every session of a Registry gets.
type Limits struct {
	QueueMax    int   // queued QoS 1/2 messages; past it the oldest is dropped
	InflightMax int   // outgoing in-flight window
	MaxExpiry   int64 // seconds: a session restored from the Store keeps at most this expiry
}

// NeverExpires is the session expiry interval of a session that is kept
// until it is taken over with a clean start (MQTT 5.0's 0xFFFFFFFF).
const NeverExpires = 0xFFFFFFFF

// Session is one client's session: what outlives a single network connection
// when CleanSession is 0, and the introspection data an operator reads. C is
// the broker's connection type: a session is attached to at most one *C.
//
// A session moves through these states, each change made by one method:
//
//	offline --Claim--> claimed --Attach--> attached --Detach--> offline
//	                   claimed --Abandon-> offline
//	attached --Claim (takeover)--> claimed, the old connection told to close
//	offline or claimed-then-abandoned, clean or expired --> ended (removed
//	from the registry; End releases what it held)
//
// Messages enter with Deliver (any goroutine), move into the in-flight
// window with Send and leave it with Ack (the attached connection's loop).
// Inbound QoS 2 packet IDs are tracked with Receive and Release. Every
// change a persistent session must survive is applied to the Store inside
// the method that makes it, in the order memory changes.
//
// Lock order: see the package doc. mu is never held while calling into
// another session or the caller; Store.Apply is called under it.
type Session[C any] struct {
	ClientID string       // immutable
	Seq      uint64       // immutable, unique per registry; orders sessions for de-duplication
	Counters stats.Client // written by the owning loop, read by admin

	reg *Registry[C] // immutable: the registry the session belongs to

	// The fields below are ordered by size, so that the struct has no
	// padding holes: one Session per client, fleets of them.
	expiry         atomic.Int64 // seconds the session outlives its connection; set by Attach and SetExpiry
	createTime     atomic.Int64 // epoch ms
	connectTime    atomic.Int64
	disconnectTime atomic.Int64
	lastActivity   atomic.Int64
	meta           atomic.Pointer[ConnMeta]
	last           atomic.Pointer[disconnect]
	subs           atomic.Pointer[subList] // copy-on-write, written by the owning loop
	history        atomic.Pointer[[]Event] // copy-on-write, written under mu
	owner          atomic.Pointer[C]       // attached connection; written under mu
	connected      atomic.Bool
	connections    atomic.Uint32 // accepted CONNECTs; fills what was padding
	removed        bool          // deleted from the registry; guarded by mu
	durable        bool          // persisted to the Store (CleanSession 0); guarded by mu
	fresh          bool          // never attached: a CONNECT finds no session present; guarded by mu
	queueLen       atomic.Int32
	inflightLen    atomic.Int32
	awaitingRel    atomic.Int32

	mu      sync.Mutex
	claim   *C                    // connection taking the session over; guarded by mu
	leaving *C                    // taken-over owner whose loop has not closed it yet; guarded by mu
	q       atomic.Pointer[queue] // QoS 1/2 messages not yet in flight, nil until the first; written under mu, its counters read by Info
	nextSeq uint64                // Seq of the next queued message; guarded by mu

	// loop belongs to the event loop of the attached connection (or of the
	// connection finishing a claim): touched only by the Loop-only methods.
	loop struct {
		f            *flight // nil until a message is in flight either way
		window       int32   // messages the window holds: InflightMax, or less for a 5.0 Receive Maximum
		nextPacketID uint16
		countAll     bool // 5.0: released entries count in window until PUBCOMP
	}
}

// flight is the QoS 1/2 state of a session's loop: outgoing deliveries in
// flight and inbound QoS 2 packet IDs awaiting PUBREL. A session allocates
// it with its first QoS 1/2 message either way and keeps it while it
// lives, so an idle or QoS 0 client pays one pointer for it and a busy one
// allocates it once. Loop-owned, like the session's loop struct.
type flight struct {
	inflight    []Inflight          // in the order sent
	awaitingRel map[uint16]struct{} // inbound QoS 2 packet IDs before PUBREL
	released    int32               // entries of inflight with Released set
}

// sent returns the outgoing deliveries in flight, nil for a nil f.
func (f *flight) sent() []Inflight {
	if f == nil {
		return nil
	}
	return f.inflight
}

// flightLoop returns s's in-flight state, allocating it on first use.
// Loop-only.
func (s *Session[C]) flightLoop() *flight {
	if s.loop.f == nil {
		s.loop.f = new(flight)
	}
	return s.loop.f
}

func newSession[C any](r *Registry[C], clientID string, now int64) *Session[C] {
	s := &Session[C]{ClientID: clientID, Seq: r.newSeq(), reg: r, fresh: true}
	s.createTime.Store(now)
	return s
}

// queueLocked returns s's queue, allocating it on first use. Call with mu
// held.
func (s *Session[C]) queueLocked() *queue {
	q := s.q.Load()
	if q == nil {
		q = &queue{max: s.reg.Limits.QueueMax}
		s.q.Store(q)
	}
	return q
}

// Owner returns the attached connection, or nil when the session is offline
// or being claimed. Safe for concurrent use.
func (s *Session[C]) Owner() *C { return s.owner.Load() }

// Record returns what the Store keeps of the session. Safe for concurrent
// use.
func (s *Session[C]) Record() *Record {
	r := &Record{ClientID: s.ClientID, CreateTime: s.createTime.Load(), ConnectTime: s.connectTime.Load(),
		DisconnectTime: s.disconnectTime.Load(), Expiry: s.expiry.Load(), Subscriptions: s.Subscriptions()}
	if m := s.meta.Load(); m != nil {
		r.Username = m.Username
	}
	return r
}

// restore fills a new, unregistered session from the Store as an offline
// persistent session. A session that was connected when the broker stopped
// gets now as its disconnect time.
func (s *Session[C]) restore(r *Restored, now int64) {
	rec := &r.Record
	s.fresh = false
	s.createTime.Store(rec.CreateTime)
	s.connectTime.Store(rec.ConnectTime)
	dt := rec.DisconnectTime
	if dt < rec.ConnectTime || dt == 0 {
		dt = now
	}
	s.disconnectTime.Store(dt)
	exp := rec.Expiry
	if m := s.reg.Limits.MaxExpiry; m > 0 && (exp > m || exp <= 0) {
		exp = m // only sessions that outlive their connection are stored
	}
	s.expiry.Store(exp)
	s.meta.Store(&ConnMeta{CleanSession: false, SessionExpiry: exp, Username: rec.Username})
	subs := append([]Subscription(nil), rec.Subscriptions...)
	s.setSubs(subs)
	s.durable = true
	for _, m := range r.Messages {
		if m.Seq > s.nextSeq {
			s.nextSeq = m.Seq
		}
		if m.PacketID != 0 {
			f := s.flightLoop()
			if m.Released {
				f.released++
			}
			f.inflight = append(f.inflight, Inflight{Seq: m.Seq, PacketID: m.PacketID, Msg: m.Msg,
				QoS: m.QoS, Retain: m.Retain, Released: m.Released})
			if m.PacketID > s.loop.nextPacketID {
				s.loop.nextPacketID = m.PacketID
			}
			continue
		}
		s.queueLocked().push(Queued{Seq: m.Seq, Msg: m.Msg, QoS: m.QoS, Retain: m.Retain})
	}
	s.queueLen.Store(int32(s.q.Load().len()))
	s.reg.addQueued(s.q.Load().len())
	if len(r.Rel) > 0 {
		f := s.flightLoop()
		f.awaitingRel = make(map[uint16]struct{}, len(r.Rel))
		for _, id := range r.Rel {
			f.awaitingRel[id] = struct{}{}
		}
	}
	s.syncLoopGauges()
}

// connectedAt records the attachment of a connection described by m at
// now. Its connect event is not stored in the history while it lasts: it
// is (connectTime, m.Address), which Info adds, so a connected client that
// never disconnected holds no history slice at all.
func (s *Session[C]) connectedAt(m *ConnMeta, now int64) {
	s.meta.Store(m)
	s.connectTime.Store(now)
	s.lastActivity.Store(now)
	s.connections.Add(1)
	s.connected.Store(true)
}

// disconnectedLocked records the end of the attached connection at now:
// its connect and disconnect events go into the history together.
// connected is cleared before the history grows, and Info reads the
// history before connected, so a reader never sees a connect event twice.
// The caller holds mu.
func (s *Session[C]) disconnectedLocked(r Reason, detail string, code DisconnectCode, now int64) {
	s.disconnectTime.Store(now)
	s.last.Store(&disconnect{r, detail, code})
	wasConnected := s.connected.Swap(false)
	addr := ""
	if m := s.meta.Load(); m != nil {
		addr = m.Address
	}
	d := Event{Time: now, Address: addr, Reason: r, Detail: detail}
	if wasConnected {
		s.addEventsLocked(Event{Time: s.connectTime.Load(), Connected: true, Address: addr}, d)
	} else {
		s.addEventsLocked(d)
	}
}

// addEventsLocked appends es to the history, keeping the last historyMax
// events.
func (s *Session[C]) addEventsLocked(es ...Event) {
	var h []Event
	if p := s.history.Load(); p != nil {
		h = *p
	}
	if len(h)+len(es) > historyMax {
		h = h[min(len(h), len(h)+len(es)-historyMax):]
	}
	nh := make([]Event, len(h), len(h)+len(es))
	copy(nh, h)
	nh = append(nh, es...)
	s.history.Store(&nh)
}

// IsConnected reports whether a connection is attached. Safe for concurrent use.
func (s *Session[C]) IsConnected() bool { return s.connected.Load() }

// DisconnectTime returns the epoch ms of the last disconnect, 0 if none. Safe
// for concurrent use.
func (s *Session[C]) DisconnectTime() int64 { return s.disconnectTime.Load() }

// QueueLen returns the number of queued messages. Safe for concurrent use.
func (s *Session[C]) QueueLen() int { return int(s.queueLen.Load()) }

// AwaitingRel returns how many QoS 2 messages from the client await their
// PUBREL. Safe for concurrent use.
func (s *Session[C]) AwaitingRel() int { return int(s.awaitingRel.Load()) }

// Touch records activity at now (epoch ms). Safe for concurrent use.
func (s *Session[C]) Touch(now int64) { s.lastActivity.Store(now) }

// Expiry returns the session expiry interval in seconds: how long the
// session outlives its connection (NeverExpires: forever). Safe for
// concurrent use.
func (s *Session[C]) Expiry() int64 { return s.expiry.Load() }

// Meta returns the description of the last connection, nil before the first.
// Safe for concurrent use.
func (s *Session[C]) Meta() *ConnMeta { return s.meta.Load() }

// Subscriptions returns the session's subscriptions in the order first
// subscribed. The slice must not be modified. Safe for concurrent use.
func (s *Session[C]) Subscriptions() []Subscription {
	if p := s.subs.Load(); p != nil {
		return p.list
	}
	return nil
}

// HasSubscriptionIDs reports whether any subscription carries an MQTT 5.0
// Subscription Identifier, so that a delivery need not look for one. Safe
// for concurrent use.
func (s *Session[C]) HasSubscriptionIDs() bool {
	p := s.subs.Load()
	return p != nil && p.withIDs
}

// subList is a session's subscriptions, never changed once stored, and
// whether any has a Subscription Identifier.
type subList struct {
	list    []Subscription
	withIDs bool
}

// setSubs stores list as the session's subscriptions.
func (s *Session[C]) setSubs(list []Subscription) {
	l := &subList{list: list}
	for i := range list {
		if list[i].ID != 0 {
			l.withIDs = true
			break
		}
	}
	s.subs.Store(l)
}

// Subscribe adds sub, or replaces the QoS and options of an existing
// subscription to the same filter keeping its position [MQTT-3.8.4-3]. It
// reports whether the filter is new. Call Save after a SUBSCRIBE's changes.
// Loop-only.
func (s *Session[C]) Subscribe(sub Subscription) (added bool) {
	old := s.Subscriptions()
	for i := range old {
		if old[i].TopicFilter == sub.TopicFilter {
			if old[i] != sub {
				n := append([]Subscription(nil), old...)
				n[i] = sub
				s.setSubs(n)
			}
			return false
		}
	}
	n := make([]Subscription, len(old), len(old)+1)
	copy(n, old)
	n = append(n, sub)
	s.setSubs(n)
	return true
}

// Unsubscribe removes filter and reports whether it was there. Call Save
// after an UNSUBSCRIBE's changes. Loop-only.
func (s *Session[C]) Unsubscribe(filter string) bool {
	old := s.Subscriptions()
	for i := range old {
		if old[i].TopicFilter == filter {
			n := make([]Subscription, 0, len(old)-1)
			n = append(n, old[:i]...)
			n = append(n, old[i+1:]...)
			s.setSubs(n)
			return true
		}
	}
	return false
}

// Save writes the session's record (subscriptions, times) to the Store
// when the session is persistent. It returns the store ticket, 0 when
// nothing was written. Loop-only.
func (s *Session[C]) Save() (ticket uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveLocked(0)
}

// saveLocked writes the record with disconnectAt as its disconnect time
// when not 0. Under mu, records and messages reach the store in the order
// of the claims that change owners.
func (s *Session[C]) saveLocked(disconnectAt int64) uint64 {
	if !s.durable || s.reg.Store == nil {
		return 0
	}
	rec := s.Record()
	if disconnectAt != 0 {
		rec.DisconnectTime = disconnectAt
	}
	return s.reg.Store.Apply(Op{Kind: OpPutSession, ClientID: s.ClientID, Record: rec})
}

// syncLoopGauges publishes the sizes of the loop-owned in-flight window and
// QoS 2 receive set for readers.
func (s *Session[C]) syncLoopGauges() {
	if f := s.loop.f; f != nil {
		s.inflightLen.Store(int32(len(f.inflight)))
		s.awaitingRel.Store(int32(len(f.awaitingRel)))
	} else {
		s.inflightLen.Store(0)
		s.awaitingRel.Store(0)
	}
}

// Status is a consistency snapshot of a session's attachment, for checks
// and tests.
type Status struct {
	Attached, Claimed, Removed bool
	Queued                     int
}

// Status returns the session's attachment state under its lock. Safe for
// concurrent use.
func (s *Session[C]) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Attached: s.owner.Load() != nil, Claimed: s.claim != nil, Removed: s.removed, Queued: s.q.Load().len()}
}

// Info fills dst with a snapshot of s, reusing dst's slices. It takes no lock
// and never blocks. Safe for concurrent use.
func (s *Session[C]) Info(dst *Info) {
	subs, hist := dst.Subscriptions[:0], dst.History[:0]
	recv, sent := dst.Received.Items, dst.Sent.Items
	*dst = Info{ClientID: s.ClientID}
	if m := s.meta.Load(); m != nil {
		dst.ClientAddress = m.Address
		dst.ProtocolVersion = int(m.ProtocolVersion)
		dst.KeepAlive = int(m.KeepAlive)
		dst.CleanSession = m.CleanSession
		dst.Username = m.Username
		dst.WillTopic = ""
		if m.Will != nil {
			dst.WillTopic = string(m.Will.Topic) // kept once, in the will; copied for the reader
		}
		dst.Listener = m.Listener
		dst.Authenticated = m.Authenticated
		dst.SessionExpiry = s.expiry.Load()
		if m.V5 != nil {
			m.V5.info(m, dst)
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
	dst.QueueMax = s.reg.Limits.QueueMax
	dst.QueueDropped, dst.Expired = 0, 0
	if q := s.q.Load(); q != nil {
		dst.QueueDropped, dst.Expired = q.dropped.Load(), q.expired.Load()
	}
	dst.InflightLen = int(s.inflightLen.Load())
	dst.InflightMax = s.reg.Limits.InflightMax
	dst.AwaitingRel = int(s.awaitingRel.Load())
	dst.LastActivity = s.lastActivity.Load()
	dst.Connections = uint64(s.connections.Load())
	if d := s.last.Load(); d != nil {
		dst.DisconnectReason, dst.DisconnectDetail, dst.DisconnectCode = d.reason, d.detail, d.code
	}
	var h []Event
	if p := s.history.Load(); p != nil {
		h = *p
	}
	if s.connected.Load() { // after the history: see disconnectedLocked
		if len(h) >= historyMax {
			h = h[1:]
		}
		hist = append(hist, h...)
		addr := ""
		if m := s.meta.Load(); m != nil {
			addr = m.Address
		}
		hist = append(hist, Event{Time: s.connectTime.Load(), Connected: true, Address: addr})
	} else {
		hist = append(hist, h...)
	}
	dst.History = hist
}
