package session

import "github.com/glassmq/glassmq/stats"

// Reason says why a connection ended. The zero value means it has not ended.
type Reason uint8

// Reasons a connection ends, as shown by the admin API.
const (
	ReasonNone          Reason = iota // still connected, or never connected
	ReasonClient                      // client sent DISCONNECT
	ReasonKeepAlive                   // no packet within 1.5 x keep-alive
	ReasonTakenOver                   // another CONNECT with the same client ID
	ReasonProtocolError               // malformed packet or protocol violation; see Detail
	ReasonNetworkError                // read or write failed, or the peer closed
	ReasonKicked                      // an operator kicked it through the admin API
	ReasonSlowConsumer                // outbound buffer limit exceeded past recovery
	ReasonShutdown                    // the broker shut down
	ReasonStoreError                  // the store failed to write messages the client sent; see Detail
)

var reasonNames = [...]string{
	ReasonNone:          "",
	ReasonClient:        "client_disconnect",
	ReasonKeepAlive:     "keepalive_timeout",
	ReasonTakenOver:     "taken_over",
	ReasonProtocolError: "protocol_error",
	ReasonNetworkError:  "network_error",
	ReasonKicked:        "kicked",
	ReasonSlowConsumer:  "slow_consumer",
	ReasonShutdown:      "server_shutdown",
	ReasonStoreError:    "store_error",
}

// String returns the reason's snake_case name, "" for ReasonNone.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Subscription is one topic filter of a session with its granted QoS and,
// for MQTT 5.0 clients, its subscription options and identifier.
type Subscription struct {
	TopicFilter       string
	QoS               byte
	NoLocal           bool   // 5.0: never deliver the session's own messages through it
	RetainAsPublished bool   // 5.0: forward the RETAIN flag as published
	RetainHandling    byte   // 5.0: 0 send retained on subscribe, 1 only if new, 2 never
	ID                uint32 // 5.0 subscription identifier, 0 for none
}

// Event is one entry of a session's connect/disconnect history.
type Event struct {
	Time      int64  // epoch milliseconds
	Connected bool   // true for a connect, false for a disconnect
	Address   string // remote ip:port of that connection
	Reason    Reason // for disconnects
	Detail    string // for ReasonProtocolError: the codec error text
}

// Info is a point-in-time copy of one session, for the admin API. All times
// are epoch milliseconds, 0 when the event has not happened.
type Info struct {
	ClientID        string
	ClientAddress   string // ip:port of the current or last connection
	ProtocolVersion int    // 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0)
	KeepAlive       int    // seconds, as sent in CONNECT
	Connected       bool
	CreateTime      int64 // session created
	ConnectTime     int64 // last accepted CONNECT
	DisconnectTime  int64 // last disconnect, 0 if none
	CleanSession    bool
	Subscriptions   []Subscription // in the order first subscribed
	Received        stats.Snapshot // client to server (Tencent "OutBound")
	Sent            stats.Snapshot // server to client (Tencent "Inbound")

	// Native-only fields.
	Username         string
	Authenticated    bool   // the user name was verified (password or client certificate)
	Listener         string // listener of the current or last connection: "tcp", "tls", "ws", "wss"
	SessionExpiry    int64  // seconds an offline persistent session is kept; 0 for clean sessions
	QueueLen         int    // QoS 1/2 messages waiting to be sent
	QueueMax         int    // bound on QueueLen
	QueueDropped     uint64 // messages dropped from the queue because it was full
	Expired          uint64 // messages dropped because their message expiry passed before delivery
	InflightLen      int    // QoS 1/2 messages sent and not yet acknowledged
	InflightMax      int    // the in-flight window
	AwaitingRel      int    // inbound QoS 2 messages waiting for PUBREL
	RetainedBacklog  int    // retained messages matched by SUBSCRIBE still to send (an estimate; filled by the broker)
	LastActivity     int64  // last packet received
	WillTopic        string // "" when the connection has no will
	Connections      uint64 // accepted CONNECTs over the session's life
	DisconnectReason Reason // reason of the last disconnect
	DisconnectDetail string // detail of the last disconnect (protocol errors)
	History          []Event

	// MQTT 5.0 fields, zero for 3.1.1 and 3.1 clients (see v5info.go).
	DisconnectCode DisconnectCode // the 5.0 DISCONNECT of the last disconnect: who sent it, its reason code
	ReceiveMaximum int            // the client's Receive Maximum; 0 when it sent none (65535 applies)
	TopicAliasMax  int            // the client's Topic Alias Maximum; 0: it accepts no aliases
	MaxPacketSize  int            // the client's Maximum Packet Size in bytes; 0 when it sent none (no limit)
	AuthMethod     string         // the CONNECT's Authentication Method, "" for none
	UserProperties []UserProperty // the CONNECT's user properties, in order, at most MaxConnectUserProps bytes of them
	UserPropsCut   bool           // the CONNECT had more user properties than UserProperties shows
}
