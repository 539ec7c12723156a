package session

// OpKind says what an Op changes in persistent state.
type OpKind uint8

// Kinds of Op. Message ops name a message by (ClientID, Seq); Seq increases
// per session and orders its queue.
const (
	OpPutSession     OpKind = iota + 1 // Session record: create or replace (subscriptions, times)
	OpDeleteSession                    // the session and all its messages and QoS 2 IDs
	OpPutMessage                       // a queued QoS 1/2 message
	OpInflight                         // message Seq was sent with PacketID
	OpReleased                         // message Seq got PUBREC; PUBREL sent
	OpDeleteMessage                    // message Seq acknowledged or dropped
	OpPutRel                           // inbound QoS 2 PacketID awaiting PUBREL
	OpDeleteRel                        // PUBREL for PacketID received
	OpPutRetained                      // retained message for Msg.Topic
	OpDeleteRetained                   // no retained message for Msg.Topic
)

// Op is one change to persistent state. Which fields matter depends on Kind.
type Op struct {
	Kind     OpKind
	ClientID string
	Seq      uint64
	PacketID uint16
	QoS      byte
	Retain   bool
	Msg      *Message
	Record   *Record // OpPutSession
}

// Record is what is stored of a persistent session besides its messages.
type Record struct {
	ClientID       string
	CreateTime     int64 // epoch ms
	ConnectTime    int64
	DisconnectTime int64  // 0 while connected when written
	Expiry         int64  // seconds
	Username       string // user name of the last connection, for its ACL after a restart
	Subscriptions  []Subscription
}

// StoredMessage is a queued or in-flight message as loaded from a Store.
type StoredMessage struct {
	Seq      uint64
	Msg      *Message
	QoS      byte
	Retain   bool
	PacketID uint16 // 0 while queued
	Released bool
}

// Restored is one session as loaded from a Store.
type Restored struct {
	Record   Record
	Messages []StoredMessage // by Seq
	Rel      []uint16        // inbound QoS 2 packet IDs awaiting PUBREL
}

// Store persists persistent sessions (CleanSession 0) and retained
// messages. Implementations are safe for concurrent use. Apply never waits
// for I/O, so event loops may call it; it waits only when a bounded number
// of ops are already pending because the disk is behind or failing.
type Store interface {
	// Apply records op after every op applied before it, and returns a
	// ticket that becomes durable with it.
	Apply(op Op) (ticket uint64)
	// WhenDurable calls fn, on a goroutine of the store's, once: with nil
	// when every op up to ticket is as durable as the store's fsync mode
	// promises (at once if it already is), or with an error when a write or
	// sync failed first, meaning the ops up to ticket are not known to be
	// stored and nothing that depends on them may be acknowledged. fn must
	// not block.
	WhenDurable(ticket uint64, fn func(err error))
	// Durable returns the highest ticket known durable: every op up to it
	// is stored.
	Durable() uint64
	// Err returns the store's current failure (its last write or sync
	// error), or nil when it is healthy: after a failure, a later write and
	// sync that succeed make it nil again.
	Err() error
	// Load reads every stored session and retained message, for start-up.
	Load() (sessions []Restored, retained []*Message, err error)
	// Close writes what is pending, syncs and closes the store.
	Close() error
}
