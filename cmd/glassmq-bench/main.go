// Command glassmq-bench is glassmq's load generator: it runs one scenario
// against any MQTT broker (on loopback unless -allow-remote is given, with
// -username, -password, -tls and -ca for a staging broker), or, with the compare subcommand,
// every scenario against glassmq, Mosquitto and a raw TCP relay, and writes
// JSON lines, a Markdown table and a chart.
//
//	glassmq-bench -addr 127.0.0.1:1883 -scenario fanin -qos 1
//	glassmq-bench compare -mode pinned -reps 3 -out bench/results
//	glassmq-bench crossnode -nodes 127.0.0.1:1881,127.0.0.1:1882,127.0.0.1:1883 -qos 1
//	glassmq-bench compare-cluster -mode pinned -reps 3 -out bench/results/cluster
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/glassmq/glassmq/bench"
)

// passwordEnv names the environment variable that gives -password's
// default, so that a password need not appear on a command line.
const passwordEnv = "GLASSMQ_BENCH_PASSWORD"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "compare" {
		return compare(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "report" {
		return report(args[1:], stdout, stderr)
	}
	// Across nodes: crossnode against a running cluster, compare-cluster
	// against clusters it starts (cluster.go).
	if len(args) > 0 && args[0] == "crossnode" {
		return crossnode(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "compare-cluster" {
		return compareCluster(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("glassmq-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.DefaultConfig()
	cfg.Password = os.Getenv(passwordEnv)
	registerRunFlags(fs, &cfg)
	progress := fs.Bool("progress", false, "print a live progress line to stderr even when it is not a terminal")
	jsonOnly := fs.Bool("json", false, "print only JSON lines, no Markdown table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *progress || isTerminal(os.Stderr) {
		cfg.Progress = stderr
	}
	results, err := bench.Run(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for i := range results {
		_ = results[i].WriteJSON(stdout)
	}
	if !*jsonOnly {
		fmt.Fprintln(stdout)
		bench.WriteRunTable(stdout, results)
	}
	return 0
}

// registerRunFlags registers the flags of a single run: where, what, and
// the load settings Compare shares.
func registerRunFlags(fs *flag.FlagSet, c *bench.Config) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "broker MQTT `host:port` (loopback unless -allow-remote)")
	fs.StringVar(&c.SubAddr, "sub-addr", c.SubAddr, "fanin, fanout, pairs, latency: subscribers connect to this MQTT `host:port` (another node of a glassmq cluster) instead of -addr")
	fs.BoolVar(&c.AllowRemote, "allow-remote", c.AllowRemote, "allow -addr and -admin-addr off loopback: load a broker on another host (a staging one, never production)")
	fs.StringVar(&c.Username, "username", c.Username, "user `name` sent in every CONNECT")
	fs.StringVar(&c.Password, "password", c.Password, "`password` sent in every CONNECT (needs -username; or set "+passwordEnv+", which ps does not show)")
	fs.StringVar(&c.Target, "target", c.Target, "`name` of the broker for reports")
	fs.BoolVar(&c.Relay, "relay", c.Relay, "-addr is glassmq-relay, a raw TCP forwarder (QoS 0 only)")
	fs.BoolVar(&c.TLS, "tls", c.TLS, "fanin, fanout, pairs, latency: connect with TLS; the certificate is verified (against -ca or the system's CAs) except on loopback without -ca")
	fs.BoolVar(&c.TLSInsecure, "tls-insecure", c.TLSInsecure, "with -tls: do not verify the broker's certificate")
	fs.StringVar(&c.CAFile, "ca", c.CAFile, "with -tls: PEM `file` of the CAs that sign the broker's certificate")
	fs.StringVar(&c.Scenario, "scenario", c.Scenario, "fanin, fanout, pairs, latency, connections, admin, retained, fleet, pairs-v5 (pairs at -protocol 5), or a curve: curve-retained, curve-subscriptions, curve-connections, curve-fanout")
	fs.Func("qos", "QoS of publishing and subscribing: 0, 1 or 2 (default 0)", func(s string) error {
		var v uint
		if _, err := fmt.Sscan(s, &v); err != nil || v > 2 {
			return errors.New("want 0, 1 or 2")
		}
		c.QoS = byte(v)
		return nil
	})
	fs.IntVar(&c.Payload, "payload", c.Payload, "message payload in `bytes` (at least 16)")
	// MQTT 5.0 clients (bench/protocol.go).
	fs.Func("protocol", "MQTT protocol level of the clients: 4 (3.1.1) or 5 (5.0; fanin, fanout, pairs, latency) (default 4)", func(s string) error {
		switch s {
		case "4":
			c.Protocol = bench.Protocol311
		case "5":
			c.Protocol = bench.Protocol5
		default:
			return errors.New("want 4 (MQTT 3.1.1) or 5 (MQTT 5.0)")
		}
		return nil
	})
	fs.IntVar(&c.BrokerPID, "broker-pid", c.BrokerPID, "broker `pid` whose CPU time and memory to read (fanin, fanout, pairs, latency: CPU µs per message; connections: VmRSS and CPU per connection); 0 skips")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "admin: broker admin HTTP `host:port`")
	registerLoadFlags(fs, c)
}

// registerLoadFlags registers the load settings shared by a run and compare.
func registerLoadFlags(fs *flag.FlagSet, c *bench.Config) {
	fs.IntVar(&c.Publishers, "publishers", c.Publishers, "fanin: publishers on the one topic")
	fs.IntVar(&c.Subscribers, "subscribers", c.Subscribers, "fanout: subscribers of the one topic")
	fs.IntVar(&c.Pairs, "pairs", c.Pairs, "pairs and admin: publisher/subscriber pairs, one topic each")
	fs.Uint64Var(&c.Count, "count", c.Count, "messages per publisher at most")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "publishing time at most")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "after publishing, how long deliveries may take at most")
	fs.IntVar(&c.Window, "window", c.Window, "QoS 1/2: unacknowledged messages per publisher")
	fs.IntVar(&c.Backlog, "backlog", c.Backlog, "deliveries due but not yet made at most; publishers wait above it (0: no bound)")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "latency: messages per second")
	fs.IntVar(&c.Connections, "connections", c.Connections, "connections: idle clients to open")
	fs.IntVar(&c.Dialers, "dialers", c.Dialers, "connections: concurrent connection attempts")
	fs.IntVar(&c.Devices, "devices", c.Devices, "fleet: devices to connect (raise the open-file limit for more than about 1000)")
	fs.Float64Var(&c.DeviceRate, "device-rate", c.DeviceRate, "fleet: telemetry `msg/s` per device")
	fs.Float64Var(&c.CommandRate, "command-rate", c.CommandRate, "fleet: commands per second per device, from one backend (0: none)")
	fs.IntVar(&c.Backends, "backends", c.Backends, "fleet: backends subscribed to ROOT/+/telemetry, each receiving all of it")
	fs.DurationVar(&c.FleetDuration, "fleet-duration", c.FleetDuration, "fleet: publishing time")
	fs.IntVar(&c.CurveSize, "curve-size", c.CurveSize, "curves: retained messages, subscriptions, connections or fan-out subscribers to hold")
	fs.StringVar(&c.TopicRoot, "topic-root", c.TopicRoot, "fleet: `root` of the topics ROOT/i/telemetry and ROOT/i/cmd; on a shared broker pick one no real device uses")
	fs.Float64Var(&c.AdminRate, "admin-rate", c.AdminRate, "admin: requests/s offered to each API")
	fs.StringVar(&c.InstanceID, "instance-id", c.InstanceID, "admin: InstanceId of the requests")
	fs.StringVar(&c.AdminLoad, "admin-load", c.AdminLoad, "admin: pairs (the pairs publish while the requests run, in this process) or none (they stay idle: run the load from another glassmq-bench -scenario pairs)")
	fs.StringVar(&c.AdminClient, "admin-client", c.AdminClient, "admin: locked (each request from an OS thread of its own with a blocking socket, so the probe's own scheduling adds little; Linux) or http (Go's net/http client)")
	fs.IntVar(&c.Retained, "retained", c.Retained, "retained: retained messages published before timing exact and wildcard SUBSCRIBEs")
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
