package session

// Message is an application message as stored for QoS 1/2 delivery, for
// retained storage and for wills. It is immutable once created, so one Message
// may be shared by every session that delivers it.
type Message struct {
	Topic   []byte // immutable
	Payload []byte // immutable
	QoS     byte   // QoS it was published with
	Retain  bool
	// Props are the MQTT 5.0 PUBLISH properties forwarded to subscribers as
	// they came (payload format, content type, response topic, correlation
	// data, user properties), encoded; nil for none. Message expiry, topic
	// alias and subscription identifiers are per delivery, not here.
	Props []byte
	// Expires is when the message expires, epoch ms; 0 for never. A message
	// not delivered by then is dropped, and a forwarded one carries the
	// time left.
	Expires int64
	TraceID uint64 // message trace ID, 0 when not traced; set before the Message is shared
}

// NewMessage copies topic and payload (which may be views into a read
// buffer) into a new Message, with one allocation.
func NewMessage(topic, payload []byte, qos byte, retain bool) *Message {
	b := make([]byte, len(topic)+len(payload))
	copy(b, topic)
	copy(b[len(topic):], payload)
	return &Message{Topic: b[:len(topic):len(topic)], Payload: b[len(topic):], QoS: qos, Retain: retain}
}

// NewMessageProps is NewMessage with MQTT 5.0 properties (copied into the
// same allocation) and an expiry time (epoch ms, 0 for never).
func NewMessageProps(topic, payload, props []byte, qos byte, retain bool, expires int64) *Message {
	if len(props) == 0 {
		m := NewMessage(topic, payload, qos, retain)
		m.Expires = expires
		return m
	}
	b := make([]byte, len(topic)+len(payload)+len(props))
	n := copy(b, topic)
	n += copy(b[n:], props)
	copy(b[n:], payload)
	t, p := len(topic), len(topic)+len(props)
	return &Message{Topic: b[:t:t], Props: b[t:p:p], Payload: b[p:], QoS: qos, Retain: retain, Expires: expires}
}

// Expired reports whether m's message expiry passed at now (epoch ms).
func (m *Message) Expired(now int64) bool { return m.Expires != 0 && m.Expires <= now }

// Queued is a message waiting in a session queue, with the QoS it will be
// delivered at (the minimum of the publish and subscription QoS).
type Queued struct {
	Seq    uint64 // per-session order, for the Store
	Msg    *Message
	QoS    byte
	Retain bool // retain flag to send: true only for retained messages sent on subscribe
	Via    Via  // which matching subscriptions caused it (5.0 subscription identifiers)
}

// Via says which of a session's subscriptions matching a message's topic
// caused its delivery, so that a 5.0 PUBLISH carries the subscription
// identifiers of those and no others [MQTT5-3.3.4-3]. The zero value is
// all of them. It is not stored: a delivery read back after a restart has
// the zero value.
type Via uint8

const (
	// ViaNotShared: no group of the session's shared subscriptions picked
	// the session for this message; only its other subscriptions caused it.
	ViaNotShared Via = 1 << iota
	// ViaOwn: the session published the message itself, so its No Local
	// subscriptions did not take part [MQTT5-3.8.3-3].
	ViaOwn
)

// Inflight is an outgoing QoS 1/2 message sent and not yet fully acknowledged.
type Inflight struct {
	Seq      uint64 // the Queued.Seq it came from
	PacketID uint16
	Msg      *Message
	QoS      byte
	Retain   bool
	Released bool // QoS 2: PUBREC received and PUBREL sent; waiting for PUBCOMP
	Via      Via  // the Queued.Via it came from
}
