package bench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Scenarios lists the scenarios Run knows, in the order Compare runs them.
var Scenarios = []string{"fanin", "fanout", "pairs", "pairs-v5", "latency", "connections", "admin", "retained", "fleet"}

// Config is one scenario run against one broker.
type Config struct {
	Addr string // broker MQTT address, host:port; on loopback unless AllowRemote
	// SubAddr, when set, is where fanin, fanout, pairs and latency
	// subscribers connect instead of Addr: another node of a cluster, so
	// every message crosses from the publishers' node to it.
	SubAddr  string
	Target   string // label for reports: "glassmq", "mosquitto", "relay"
	Relay    bool   // Addr is cmd/glassmq-relay: a raw forwarder, QoS 0 only
	Scenario string // one of Scenarios, or fanin, fanout or latency with "-v5" (protocol.go)
	// Protocol is the MQTT protocol level the clients speak: 4 (3.1.1, and
	// 0 means 4) or 5 (5.0, for fanin, fanout, pairs and latency; see
	// protocol.go).
	Protocol byte

	// AllowRemote lets Addr and AdminAddr name another host. Without it
	// Validate refuses any address off loopback.
	AllowRemote bool
	Username    string // user name of every CONNECT; empty sends none
	Password    string // password of every CONNECT; needs Username; never printed
	// TLS connects fanin, fanout, pairs and latency clients with TLS. The
	// certificate is verified against CAFile or the system's roots, except
	// with TLSInsecure or on loopback without CAFile.
	TLS         bool
	TLSInsecure bool   // TLS: do not verify the broker's certificate
	CAFile      string // TLS: PEM file of the CAs that may sign the broker's certificate

	QoS         byte          // 0, 1 or 2, for publishing and subscribing
	Payload     int           // bytes per message, at least MinPayload
	Publishers  int           // fanin: publishers on the one topic
	Subscribers int           // fanout: subscribers of the one topic
	Pairs       int           // pairs and admin: publisher/subscriber pairs, one topic each
	Count       uint64        // messages per publisher at most
	Duration    time.Duration // publishing time at most
	Drain       time.Duration // after publishing, how long deliveries and acknowledgements may take at most
	Window      int           // QoS 1/2: unacknowledged messages per publisher
	// Backlog bounds deliveries due but not yet made, over all subscribers:
	// publishers wait above it, so a broker is measured at the rate it
	// sustains rather than by the queue it can build. At most 32 MiB of
	// payloads; 0 means no bound.
	Backlog int
	Rate    float64 // latency: messages per second from the one publisher

	// Persistent connects crossnode subscribers with clean session 0 (a
	// session the broker keeps, and in a glassmq cluster replicates), not 1.
	Persistent bool

	Connections int           // connections: idle clients to open
	Dialers     int           // connections: concurrent connection attempts
	BrokerPID   int           // broker process whose CPU time (flows: per message; connections: per connection) and VmRSS are read; 0 skips it
	Settle      time.Duration // connections: wait before reading VmRSS after the last CONNACK

	Devices       int           // fleet: devices to connect
	DeviceRate    float64       // fleet: telemetry messages per second per device
	CommandRate   float64       // fleet: commands per second per device, from one backend; 0 sends none
	Backends      int           // fleet: backends subscribed to ROOT/+/telemetry, each receiving all of it
	FleetDuration time.Duration // fleet: publishing time
	TopicRoot     string        // fleet and curves: first level of the topics, ROOT/i/telemetry, ROOT/ret/i ...
	CurveSize     int           // curve-retained, curve-subscriptions: retained messages or subscriptions held

	AdminAddr  string  // admin: the broker's admin HTTP address, host:port
	AdminRate  float64 // admin: requests per second offered to each admin API
	InstanceID string  // admin: InstanceId the requests name
	// AdminLoad is what the admin scenario does with its pairs while it
	// measures: "pairs" publishes through them (the load and the probes share
	// this process), "none" keeps them connected and idle, so that the load
	// can come from another process (glassmq-bench -scenario pairs) and the
	// probes measure the broker alone.
	AdminLoad string
	// AdminClient is how the admin scenario sends its requests: "locked"
	// (each of an API's workers on its own OS thread with a blocking
	// socket, so the probe adds little wait of its own; Linux, net/http
	// elsewhere) or "http" (Go's net/http client, as the SDKs use).
	AdminClient string

	Retained int // retained: retained messages published before the measurements

	Progress io.Writer // live progress line (carriage returns), nil for none
}

// DefaultConfig returns the settings of `glassmq-bench` without flags.
func DefaultConfig() Config {
	return Config{
		Addr:          "127.0.0.1:1883",
		Target:        "broker",
		Scenario:      "pairs",
		Protocol:      Protocol311,
		Payload:       MinPayload,
		Publishers:    10,
		Subscribers:   10,
		Pairs:         10,
		Count:         10_000_000,
		Duration:      2 * time.Second,
		Drain:         10 * time.Second,
		Window:        64,
		Backlog:       50_000,
		Rate:          5000,
		Connections:   10_000,
		Dialers:       64,
		Settle:        500 * time.Millisecond,
		Devices:       2000,
		DeviceRate:    1,
		CommandRate:   0.1,
		Backends:      2,
		FleetDuration: 10 * time.Second,
		TopicRoot:     "dev",
		CurveSize:     10_000,
		AdminAddr:     "127.0.0.1:8080",
		AdminRate:     100,
		InstanceID:    "mqtt-local",
		AdminLoad:     "pairs",
		AdminClient:   "locked",
		Retained:      1_000_000,
	}
}

// Validate returns every problem with c at once, one sentence each.
func (c *Config) Validate() error {
	var errs []error
	bad := func(flag string, v any, why string) {
		errs = append(errs, fmt.Errorf("bench: -%s %v: %s", flag, v, why))
	}
	if base, _ := c.baseScenario(); !slices.Contains(Scenarios, base) && !slices.Contains(Curves, base) {
		bad("scenario", fmt.Sprintf("%q", c.Scenario), "want one of "+strings.Join(append(slices.Clone(Scenarios), Curves...), ", "))
	}
	if slices.Contains(Curves, c.Scenario) && (c.CurveSize < 1 || c.CurveSize > 10_000_000) {
		bad("curve-size", c.CurveSize, "want 1 to 10000000")
	}
	if err := c.checkAddr(c.Addr); err != nil {
		bad("addr", fmt.Sprintf("%q", c.Addr), err.Error())
	}
	if c.SubAddr != "" {
		if err := c.checkAddr(c.SubAddr); err != nil {
			bad("sub-addr", fmt.Sprintf("%q", c.SubAddr), err.Error())
		} else if !slices.Contains([]string{"fanin", "fanout", "pairs", "latency"}, c.Scenario) {
			bad("sub-addr", fmt.Sprintf("%q", c.SubAddr), "is for -scenario fanin, fanout, pairs and latency")
		} else if c.Relay {
			bad("sub-addr", fmt.Sprintf("%q", c.SubAddr), "needs MQTT brokers, not -relay")
		}
	}
	c.validateRemote(bad)
	c.validateProtocol(bad)
	c.validateFleet(bad)
	if c.Scenario == "admin" {
		if err := c.checkAddr(c.AdminAddr); err != nil {
			bad("admin-addr", fmt.Sprintf("%q", c.AdminAddr), err.Error())
		}
		if c.AdminRate <= 0 {
			bad("admin-rate", c.AdminRate, "must be more than 0")
		}
		if c.AdminLoad != "pairs" && c.AdminLoad != "none" {
			bad("admin-load", fmt.Sprintf("%q", c.AdminLoad), "want pairs or none")
		}
		if c.AdminClient != "locked" && c.AdminClient != "http" {
			bad("admin-client", fmt.Sprintf("%q", c.AdminClient), "want locked or http")
		}
	}
	if c.Scenario == "retained" {
		if c.Retained < 1 || c.Retained > 10_000_000 {
			bad("retained", c.Retained, "want 1 to 10000000")
		}
		if c.QoS > 1 {
			bad("qos", c.QoS, "the retained scenario subscribes at QoS 0 or 1")
		}
		if c.Relay || c.TLS {
			bad("scenario", c.Scenario, "needs an MQTT broker's TCP listener")
		}
	}
	if c.QoS > 2 {
		bad("qos", c.QoS, "want 0, 1 or 2")
	}
	if c.Relay && c.QoS != 0 {
		bad("qos", c.QoS, "the relay forwards bytes and cannot acknowledge: want 0")
	}
	if c.Relay && (c.Scenario == "connections" || c.Scenario == "admin") {
		bad("scenario", c.Scenario, "needs an MQTT broker, not the relay")
	}
	if c.TLS && (c.Relay || c.Scenario == "connections" || c.Scenario == "admin") {
		bad("tls", c.TLS, "TLS is for fanin, fanout, pairs and latency against a broker's TLS listener")
	}
	if c.Payload < MinPayload || c.Payload > 1<<20 {
		bad("payload", c.Payload, fmt.Sprintf("want %d bytes (the sequence and timestamp header) to 1 MiB", MinPayload))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"publishers", c.Publishers}, {"subscribers", c.Subscribers}, {"pairs", c.Pairs},
		{"connections", c.Connections}, {"dialers", c.Dialers}} {
		if f.v < 1 || f.v > 100_000 {
			bad(f.name, f.v, "want 1 to 100000")
		}
	}
	if c.Window < 1 || c.Window > 32768 {
		bad("window", c.Window, "want 1 to 32768 (packet IDs must not wrap onto unacknowledged ones)")
	}
	if c.Backlog < 0 {
		bad("backlog", c.Backlog, "must not be negative (0 means no bound)")
	}
	if c.Count < 1 || c.Count > 1<<32-1 {
		bad("count", c.Count, "want 1 to 4294967295 (sequence numbers are 32 bits)")
	}
	if c.Duration <= 0 || c.Duration > time.Hour {
		bad("duration", c.Duration, "want more than 0 and at most 1h")
	}
	if c.Drain < 0 {
		bad("drain", c.Drain, "must not be negative")
	}
	if c.Rate <= 0 {
		bad("rate", c.Rate, "must be more than 0")
	}
	return errors.Join(errs...)
}
