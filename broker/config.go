package broker

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"time"
)

// Config holds the broker's settings. DefaultConfig gives the defaults;
// Validate reports every bad value at once.
type Config struct {
	Listen           string        // MQTT over TCP, host:port
	DataDir          string        // persistent state
	Loops            int           // event loops; 0 means GOMAXPROCS
	MaxPacketSize    int           // bytes, whole packet
	MaxConnections   int           // open network connections
	MaxInflight      int           // outgoing QoS 1/2 window per client
	MaxQueued        int           // QoS 1/2 messages queued per session
	MaxSubscriptions int           // topic filters per client
	MaxClientIDLen   int           // bytes
	MaxOutbound      int           // bytes buffered for one connection before QoS 0 is dropped
	SessionExpiry    time.Duration // offline persistent sessions are removed after this
	ConnectTimeout   time.Duration // a connection must send CONNECT within this
	SysInterval      time.Duration // $SYS/broker/... publishing period; 0 disables
	LogInterval      time.Duration // at most one log line per kind of client error per interval
	Clock            Clock         // not a flag: the engine's time source; nil means the system clock
	TLSListen        string        // MQTT over TLS, host:port; "" for none
	TLSCert, TLSKey  string        // PEM files for -tls-listen, -wss-listen and the admin port's HTTPS
	TLSClientCA      string        // PEM CA bundle: require client certificates signed by it (mutual TLS)
	WSListen         string        // MQTT over WebSocket, host:port, path /mqtt; "" for none
	WSSListen        string        // MQTT over secure WebSocket; "" for none
	Persistence      string        // "on" or "off"
	Fsync            string        // "always" or "interval"
	FsyncInterval    time.Duration // sync period with Fsync "interval"
	StoreMaxPending  int           // store ops applied and not yet written before writers wait

	MaxSessionExpiry time.Duration // 5.0: longest Session Expiry Interval granted; 0 means -session-expiry
	ReceiveMaximum   int           // 5.0: unacknowledged QoS 1/2 PUBLISHes a client may send (1..65535; 0 means 65535)

	// Server capabilities (capabilities.go): enforced for every client,
	// announced to 5.0 clients in CONNACK when they differ from what the
	// standard assumes.
	MaxQoS                  int  // 0, 1 or 2: highest QoS accepted from 5.0 clients and granted to subscriptions
	RetainAvailable         bool // retained messages kept; false refuses RETAIN (5.0) or ignores it (3.1.1)
	WildcardSubscriptions   bool // topic filters may hold '+' and '#'
	SubscriptionIdentifiers bool // 5.0 SUBSCRIBE may carry a Subscription Identifier
	// Shared subscriptions ($share/GROUP/FILTER, shared.go).
	SharedSubscriptions        bool   // accept them (5.0 and 3.1.1); announced in a 5.0 CONNACK
	SharedSubscriptionStrategy string // round_robin, random or hash_clientid: which member a message goes to
	// MQTT 5.0 topic aliases, server keep-alive and message expiry cap (alias.go).
	TopicAliasMaximum int           // aliases each way per 5.0 connection (0..65535); 0 disables them
	ServerKeepAlive   int           // seconds imposed on 5.0 clients in CONNACK (0..65535); 0 keeps the client's
	MaxMessageExpiry  time.Duration // longest life of a 5.0 message (whole seconds); 0 for no cap
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		Listen:           ":1883",
		DataDir:          "./data",
		MaxPacketSize:    1 << 20,
		MaxConnections:   100000,
		MaxInflight:      32,
		MaxQueued:        1000,
		MaxSubscriptions: 1000,
		MaxClientIDLen:   256,
		MaxOutbound:      4 << 20,
		SessionExpiry:    2 * time.Hour,
		ConnectTimeout:   10 * time.Second,
		SysInterval:      10 * time.Second,
		LogInterval:      time.Second,
		Persistence:      "on",
		Fsync:            "interval",
		FsyncInterval:    time.Second,
		StoreMaxPending:  65536,
		ReceiveMaximum:   65535,

		// Server capabilities.
		MaxQoS:                     2,
		RetainAvailable:            true,
		WildcardSubscriptions:      true,
		SubscriptionIdentifiers:    true,
		SharedSubscriptions:        true,
		SharedSubscriptionStrategy: "round_robin",
		// MQTT 5.0 topic aliases, server keep-alive and message expiry cap.
		TopicAliasMaximum: 10,
	}
}

// RegisterFlags registers the broker's flags in fs, with c's values as
// defaults, writing parsed values into c.
func RegisterFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "MQTT TCP listen address `host:port`")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for persistent state")
	fs.IntVar(&c.Loops, "loops", c.Loops, "event loops; 0 means one per CPU (GOMAXPROCS)")
	fs.IntVar(&c.MaxPacketSize, "max-packet-size", c.MaxPacketSize, "largest accepted MQTT packet in bytes (16..268435460)")
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "open network connections; more are refused")
	fs.IntVar(&c.MaxInflight, "max-inflight", c.MaxInflight, "outgoing QoS 1/2 messages in flight per client (1..65535)")
	fs.IntVar(&c.MaxQueued, "max-queued", c.MaxQueued, "QoS 1/2 messages queued per session; the oldest is dropped and counted beyond this")
	fs.IntVar(&c.MaxSubscriptions, "max-subscriptions", c.MaxSubscriptions, "topic filters per client; more get SUBACK 0x80")
	fs.IntVar(&c.MaxClientIDLen, "max-client-id-len", c.MaxClientIDLen, "longest client ID in bytes; longer gets CONNACK 0x02")
	fs.IntVar(&c.MaxOutbound, "max-outbound", c.MaxOutbound, "bytes buffered for one slow connection before its QoS 0 messages are dropped")
	fs.DurationVar(&c.SessionExpiry, "session-expiry", c.SessionExpiry, "offline persistent sessions are removed after this long")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", c.ConnectTimeout, "close connections that send no CONNECT within this")
	fs.DurationVar(&c.SysInterval, "sys-interval", c.SysInterval, "period of $SYS/broker/... publishing; 0 disables")
	fs.DurationVar(&c.LogInterval, "log-interval", c.LogInterval, "at most one log line per kind of client error per interval")
	fs.StringVar(&c.TLSListen, "tls-listen", c.TLSListen, "MQTT over TLS listen address `host:port`, e.g. :8883 (needs -tls-cert and -tls-key)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate `file` (chain) for -tls-listen and -wss-listen")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key `file` for -tls-cert")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", c.TLSClientCA, "PEM CA `file`: TLS clients must present a certificate it signed; its common name becomes the user name")
	fs.StringVar(&c.WSListen, "ws-listen", c.WSListen, "MQTT over WebSocket listen address `host:port`, e.g. :8083 (path /mqtt, subprotocol mqtt)")
	fs.StringVar(&c.WSSListen, "wss-listen", c.WSSListen, "MQTT over secure WebSocket listen address `host:port`, e.g. :8084 (needs -tls-cert and -tls-key)")
	fs.StringVar(&c.Persistence, "persistence", c.Persistence, "on: persistent sessions, their QoS 1/2 messages and retained messages are stored under -data-dir; off: all in memory")
	fs.StringVar(&c.Fsync, "fsync", c.Fsync, "always: every acknowledged QoS 1/2 message is on disk before its PUBACK/PUBREC (survives kill -9, slower); interval: the store is synced every -fsync-interval, so a crash loses at most that much")
	fs.DurationVar(&c.FsyncInterval, "fsync-interval", c.FsyncInterval, "store sync period with -fsync interval")
	fs.DurationVar(&c.MaxSessionExpiry, "max-session-expiry", c.MaxSessionExpiry, "MQTT 5.0: longest session expiry a client is granted (longer requests are capped and told so in CONNACK); 0 means -session-expiry")
	fs.IntVar(&c.ReceiveMaximum, "receive-maximum", c.ReceiveMaximum, "MQTT 5.0: QoS 1/2 PUBLISHes a client may send unacknowledged, announced in CONNACK (1..65535)")
	registerCapabilityFlags(fs, c)
	// Shared subscriptions.
	fs.BoolVar(&c.SharedSubscriptions, "shared-subscriptions", c.SharedSubscriptions, "accept shared subscriptions $share/GROUP/FILTER from MQTT 5.0 and 3.1.1 clients (one delivery per group per message); -shared-subscriptions=false refuses them with SUBACK 0x9E (5.0) or 0x80 (3.1.1)")
	fs.StringVar(&c.SharedSubscriptionStrategy, "shared-subscription-strategy", c.SharedSubscriptionStrategy, "which member of a shared subscription group gets a message: round_robin, random, or hash_clientid (a hash of the publisher's client ID, so one publisher's messages go to one member); in a cluster it picks among the members on the node NATS chose")
	// MQTT 5.0 topic aliases, server keep-alive and message expiry cap.
	fs.IntVar(&c.TopicAliasMaximum, "topic-alias-maximum", c.TopicAliasMaximum, "MQTT 5.0: topic aliases per connection each way: announced in CONNACK for the client's PUBLISHes, and the most the broker assigns to a client that allows them (0..65535; 0 disables)")
	fs.IntVar(&c.ServerKeepAlive, "server-keep-alive", c.ServerKeepAlive, "MQTT 5.0: keep-alive in seconds that every 5.0 client must use, announced in CONNACK as Server Keep Alive (0..65535; 0 keeps the client's own)")
	fs.DurationVar(&c.MaxMessageExpiry, "max-message-expiry", c.MaxMessageExpiry, "MQTT 5.0: longest a 5.0 client's message lives; a longer Message Expiry Interval is shortened and a message without one gets this (0: no cap)")
	fs.IntVar(&c.StoreMaxPending, "store-max-pending", c.StoreMaxPending, "store ops waiting for the disk before the event loops wait for it too (backpressure instead of unbounded memory)")
}

// Validate returns every problem with c, joined; nil when c is usable.
func (c *Config) Validate() error {
	var errs []error
	bad := func(flag string, v any, valid string) {
		errs = append(errs, fmt.Errorf("broker: -%s %s: %s", flag, quoteValue(v), valid))
	}
	if err := checkHostPort(c.Listen); err != "" {
		bad("listen", c.Listen, err)
	}
	if c.DataDir == "" {
		bad("data-dir", c.DataDir, "must name a directory")
	}
	if c.Loops < 0 || c.Loops > 1024 {
		bad("loops", c.Loops, "must be 0 (one per CPU) to 1024")
	}
	if c.MaxPacketSize < 16 || c.MaxPacketSize > 268435460 {
		bad("max-packet-size", c.MaxPacketSize, "must be 16 to 268435460 bytes")
	}
	if c.MaxConnections < 1 {
		bad("max-connections", c.MaxConnections, "must be at least 1")
	}
	if c.MaxInflight < 1 || c.MaxInflight > 65535 {
		bad("max-inflight", c.MaxInflight, "must be 1 to 65535")
	}
	if c.MaxQueued < 0 {
		bad("max-queued", c.MaxQueued, "must be 0 or more")
	}
	if c.MaxSubscriptions < 1 {
		bad("max-subscriptions", c.MaxSubscriptions, "must be at least 1")
	}
	if c.MaxClientIDLen < 23 || c.MaxClientIDLen > 65535 {
		bad("max-client-id-len", c.MaxClientIDLen, "must be 23 to 65535 bytes (MQTT 3.1.1 requires at least 23)")
	}
	if c.MaxOutbound < 1024 || c.MaxOutbound > 1<<30 {
		bad("max-outbound", c.MaxOutbound, "must be 1024 bytes to 1 GiB (1073741824)")
	}
	if c.MaxSessionExpiry < 0 || c.MaxSessionExpiry > 0xFFFFFFFE*time.Second {
		bad("max-session-expiry", c.MaxSessionExpiry, "must be 0 (use -session-expiry) or at most 4294967294s")
	}
	if c.ReceiveMaximum < 0 || c.ReceiveMaximum > 65535 {
		bad("receive-maximum", c.ReceiveMaximum, "must be 1 to 65535 (0 means 65535)")
	}
	if _, ok := parseShareStrategy(c.SharedSubscriptionStrategy); !ok { // shared subscriptions
		bad("shared-subscription-strategy", c.SharedSubscriptionStrategy, "must be round_robin, random or hash_clientid")
	}
	// MQTT 5.0 topic aliases, server keep-alive and message expiry cap.
	if c.TopicAliasMaximum < 0 || c.TopicAliasMaximum > 65535 {
		bad("topic-alias-maximum", c.TopicAliasMaximum, "must be 0 (no aliases) to 65535")
	}
	if c.ServerKeepAlive < 0 || c.ServerKeepAlive > 65535 {
		bad("server-keep-alive", c.ServerKeepAlive, "must be 0 (use the client's) to 65535 seconds")
	}
	if c.MaxMessageExpiry != 0 && (c.MaxMessageExpiry < time.Second || c.MaxMessageExpiry > 0xFFFFFFFF*time.Second) {
		bad("max-message-expiry", c.MaxMessageExpiry, "must be 0 (no cap) or 1s to 4294967295s, with a unit such as 24h")
	}
	if c.SessionExpiry < time.Second {
		bad("session-expiry", c.SessionExpiry, "must be at least 1s, with a unit such as 2h or 30m")
	}
	if c.ConnectTimeout < 100*time.Millisecond {
		bad("connect-timeout", c.ConnectTimeout, "must be at least 100ms, with a unit such as 10s")
	}
	if c.SysInterval != 0 && c.SysInterval < 100*time.Millisecond {
		bad("sys-interval", c.SysInterval, "must be 0 (off) or at least 100ms, with a unit such as 10s")
	}
	for _, l := range []struct{ flag, v string }{{"tls-listen", c.TLSListen}, {"ws-listen", c.WSListen}, {"wss-listen", c.WSSListen}} {
		if l.v != "" {
			if err := checkHostPort(l.v); err != "" {
				bad(l.flag, l.v, err)
			}
		}
	}
	if (c.TLSListen != "" || c.WSSListen != "") && (c.TLSCert == "" || c.TLSKey == "") {
		bad("tls-cert", c.TLSCert, "-tls-listen and -wss-listen need both -tls-cert and -tls-key")
	}
	if c.TLSClientCA != "" && c.TLSListen == "" && c.WSSListen == "" {
		bad("tls-client-ca", c.TLSClientCA, "needs -tls-listen or -wss-listen")
	}
	if c.Persistence != "on" && c.Persistence != "off" {
		bad("persistence", c.Persistence, "must be on or off")
	}
	if c.Fsync != "always" && c.Fsync != "interval" {
		bad("fsync", c.Fsync, "must be always or interval")
	}
	if c.FsyncInterval < time.Millisecond || c.FsyncInterval > time.Minute {
		bad("fsync-interval", c.FsyncInterval, "must be 1ms to 1m, with a unit such as 1s")
	}
	if c.StoreMaxPending < 64 || c.StoreMaxPending > 1<<24 {
		bad("store-max-pending", c.StoreMaxPending, "must be 64 to 16777216 ops")
	}
	if c.LogInterval < 0 {
		bad("log-interval", c.LogInterval, "must not be negative")
	}
	c.validateCapabilities(bad)
	return errors.Join(errs...)
}

// netListeners reports whether any listener runs on Go's net package.
func (c *Config) netListeners() bool {
	return c.TLSListen != "" || c.WSListen != "" || c.WSSListen != ""
}

func (c *Config) loops() int {
	if c.Loops > 0 {
		return c.Loops
	}
	return runtime.GOMAXPROCS(0)
}

func quoteValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case time.Duration:
		return strconv.Quote(v.String())
	default:
		return fmt.Sprint(v)
	}
}

// checkHostPort returns "" if s is a usable listen address, else what is wrong.
func checkHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "want host:port, such as :1883 or 127.0.0.1:1883"
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return "host must be an IP address, localhost, or empty for all interfaces"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "port must be a number from 0 to 65535"
	}
	return ""
}
