package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Case is one row of the comparison: a scenario at a QoS and payload size.
type Case struct {
	Scenario string
	QoS      byte
	Payload  int
	Dialers  int // connections: attempts at a time; 0 for Base's
	Size     int // curves: retained messages or subscriptions held
}

func (c Case) String() string {
	if c.Size > 0 {
		return fmt.Sprintf("%s %d", c.Scenario, c.Size)
	}
	if c.Dialers > 0 {
		return fmt.Sprintf("%s %d at a time", c.Scenario, c.Dialers)
	}
	return fmt.Sprintf("%s qos%d %dB", c.Scenario, c.QoS, c.Payload)
}

// StormDialers is how many clients connect at once in the reconnect-storm
// case of connections: a fleet coming back after a broker restart.
const StormDialers = 1000

// DefaultCases is the matrix Compare runs: fanin, fanout and pairs at QoS 0,
// 1 and 2 with 16 B and 1 KiB payloads, pairs with MQTT 5.0 clients
// (pairs-v5) at QoS 0 and 1 with 16 B, latency at QoS 0 and 1, connections
// (Base's dialers at a time, then a storm of StormDialers), and admin under a
// QoS 1 pairs load, and the fleet at QoS 0 and 1.
func DefaultCases() []Case {
	var cs []Case
	for _, s := range []string{"fanin", "fanout", "pairs"} {
		for q := range byte(3) {
			for _, p := range []int{16, 1024} {
				cs = append(cs, Case{Scenario: s, QoS: q, Payload: p})
			}
		}
	}
	cs = append(cs, Case{Scenario: "pairs-v5", QoS: 0, Payload: 16}, Case{Scenario: "pairs-v5", QoS: 1, Payload: 16})
	return append(cs, Case{Scenario: "latency", QoS: 0, Payload: 16}, Case{Scenario: "latency", QoS: 1, Payload: 16},
		Case{Scenario: "connections", QoS: 0, Payload: 16},
		Case{Scenario: "connections", QoS: 0, Payload: 16, Dialers: StormDialers},
		Case{Scenario: "admin", QoS: 1, Payload: 16},
		Case{Scenario: "retained", QoS: 0, Payload: 16}, Case{Scenario: "retained", QoS: 1, Payload: 16},
		Case{Scenario: "fleet", QoS: 0, Payload: 16}, Case{Scenario: "fleet", QoS: 1, Payload: 16})
}

// CompareConfig is a comparison of brokers over a set of cases.
type CompareConfig struct {
	Mode    string   // "pinned": brokers on BrokerCPUs, this process on the rest; "free": no pinning
	Targets []Target // in the order each case runs them: A, B, A, B ...
	Cases   []Case
	Reps    int    // runs of each case on each target
	Base    Config // scenario settings; Addr, Target, Scenario, QoS and Payload are set per run
	// BrokerCPUs is the taskset CPU list brokers run on in pinned mode.
	BrokerCPUs string
	Dir        string    // work directory: broker data, configurations, logs
	Out        io.Writer // JSON lines, one per result
	Log        io.Writer // one status line per run
}

// applies reports whether case c runs on target t: the relay forwards QoS 0
// flows only, and only glassmq has the admin API.
func applies(t Target, c Case) bool {
	switch {
	case c.Scenario == "admin":
		return t.Admin
	case c.Scenario == "retained":
		return !t.Relay
	case t.Relay:
		return c.QoS == 0 && (c.Scenario == "fanin" || c.Scenario == "fanout" || c.Scenario == "pairs" || c.Scenario == "latency")
	}
	return true
}

// Compare runs every case on every target Reps times, interleaved (for each
// case: A, B, relay, A, B, relay ...), each run on a freshly started broker,
// and returns the results, also written to c.Out as they come.
func Compare(c CompareConfig) ([]Result, error) {
	if c.Reps < 1 {
		return nil, fmt.Errorf("bench: -reps %d: want at least 1", c.Reps)
	}
	dir, err := filepath.Abs(c.Dir) // brokers run in their own directory
	if err != nil {
		return nil, err
	}
	c.Dir = dir
	// Brokers inherit this process's open-file limit when they start: raise
	// it now to the hard limit, for the connections, fleet and curve cases
	// (Run reports a limit that is still too low for its own connections).
	_ = RaiseFileLimit(1 << 30)
	cpus := ""
	if c.Mode == "pinned" {
		cpus = c.BrokerCPUs
	}
	total := 0
	for _, cs := range c.Cases {
		for _, t := range c.Targets {
			if applies(t, cs) {
				total += c.Reps
			}
		}
	}
	var out []Result
	n := 0
	start := time.Now()
	for _, cs := range c.Cases {
		for rep := 1; rep <= c.Reps; rep++ {
			for _, t := range c.Targets {
				if !applies(t, cs) {
					continue
				}
				n++
				rs := compareOne(&c, t, cs, rep, cpus)
				for i := range rs {
					if c.Out != nil {
						if err := rs[i].WriteJSON(c.Out); err != nil {
							return out, err
						}
					}
				}
				out = append(out, rs...)
				if c.Log != nil {
					fmt.Fprintf(c.Log, "[%d/%d %s] %s %s rep %d: %s\n", n, total,
						time.Since(start).Round(time.Second), t.Name, cs, rep, brief(rs))
				}
			}
		}
	}
	return out, nil
}

// compareOne runs case cs once on a fresh t; a failure is a Result with Errors.
func compareOne(c *CompareConfig, t Target, cs Case, rep int, cpus string) []Result {
	fail := func(err error) []Result {
		r := Result{Mode: c.Mode, Target: t.Name, Scenario: cs.Scenario, QoS: cs.QoS, Payload: cs.Payload, Rep: rep}
		r.addError(err)
		return []Result{r}
	}
	dir := filepath.Join(c.Dir, t.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	p, err := t.start(dir, cpus)
	if err != nil {
		return fail(err)
	}
	cfg := c.Base
	cfg.Addr, cfg.AdminAddr, cfg.Target, cfg.Relay = p.addr, p.adminAddr, t.Name, t.Relay
	cfg.Scenario, cfg.QoS, cfg.Payload = cs.Scenario, cs.QoS, cs.Payload
	if cs.Dialers > 0 {
		cfg.Dialers = cs.Dialers
	}
	if cs.Size > 0 {
		cfg.CurveSize = cs.Size
	}
	cfg.BrokerPID = p.cmd.Process.Pid
	rs, err := Run(cfg)
	if aerr := p.alive(); aerr != nil {
		if err == nil && len(rs) > 0 {
			rs[0].addError(fmt.Errorf("%s %w", t.Name, aerr))
		} else {
			err = fmt.Errorf("%s %w", t.Name, aerr)
		}
	}
	p.stop()
	if err != nil {
		return fail(err)
	}
	load := loadAvg1()
	for i := range rs {
		rs[i].Mode, rs[i].Rep, rs[i].LoadAvg = c.Mode, rep, load
	}
	return rs
}

// brief is a status line's summary of one run.
func brief(rs []Result) string {
	var s string
	for i, r := range rs {
		if i > 0 {
			s += "; "
		}
		switch r.Scenario {
		case "connections":
			s += fmt.Sprintf("%d conns, %s conn/s, %.0f B/conn", r.Connections, si(r.ConnectRate), r.RSSPerConnB)
		case "admin":
			s += fmt.Sprintf("%s %.0f accepted/s p99 %.0fµs", r.Variant, r.AcceptRate, r.P99)
		case "fleet":
			s += fmt.Sprintf("%d devices, %.2f µs broker CPU/msg, p99 %.0fµs, %.0f B/device, load generator %.2f cores",
				r.Connections, r.CPUPerMsgUs, r.P99, r.RSSPerConnB, r.ClientCPU)
		case "curve-retained", "curve-subscriptions", "curve-connections", "curve-fanout":
			s += fmt.Sprintf("%s held: SUBSCRIBE p50 %.0fµs, routing %.2f µs CPU/msg, %.0f B RSS each", r.Variant, r.P50, r.CPUPerMsgUs, r.RSSPerConnB)
		case "latency", "crossnode-latency":
			s += fmt.Sprintf("p50 %.1fµs p99 %.1fµs max %.0fµs", r.P50, r.P99, r.Max)
		case "retained":
			if r.Variant == "exact" {
				s += fmt.Sprintf("exact p50 %.1fµs p99 %.1fµs", r.P50, r.P99)
			} else {
				s += fmt.Sprintf("wildcard %d in %.2fs (%s msg/s)", r.Delivered, r.Elapsed, si(r.Rate))
			}
		default:
			s += fmt.Sprintf("%s msg/s", si(r.Rate))
		}
		if r.Lost > 0 || r.Duplicates > 0 {
			s += fmt.Sprintf(" LOST %d DUP %d", r.Lost, r.Duplicates)
		}
		if len(r.Errors) > 0 {
			s += fmt.Sprintf(" ERR %q", r.Errors[0])
		}
	}
	return s
}
