package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// CrossNodeCases is crossnode at each QoS and payload size given.
func CrossNodeCases(qos []byte, payloads []int) []Case {
	var cs []Case
	for _, q := range qos {
		for _, p := range payloads {
			cs = append(cs, Case{Scenario: "crossnode", QoS: q, Payload: p})
		}
	}
	return cs
}

// crossScenarios are the scenarios CompareCluster runs.
var crossScenarios = []string{"crossnode", "crossnode-latency", "connections", "crossnode-persistent"}

// ClusterCompareConfig is a comparison of ClusterTargets: crossnode and
// crossnode-latency cases, and connections cases (idle clients on node 0,
// whose memory is read).
type ClusterCompareConfig struct {
	Mode    string // "pinned": every node of every target on BrokerCPUs; "free": no pinning
	Targets []ClusterTarget
	Cases   []Case // Scenario "crossnode", "crossnode-latency" or "connections"
	Reps    int    // runs of each case on each target
	Base    Config // load settings; addresses, Target, Scenario, QoS and Payload are set per run
	// BrokerCPUs is the taskset CPU list every node runs on in pinned mode.
	BrokerCPUs string
	Dir        string    // work directory: node data, configurations, logs
	Out        io.Writer // JSON lines, one per result
	Log        io.Writer // one status line per run
}

// CompareCluster runs every case on every target Reps times, interleaved
// (for each case: A, B, C, A, B, C ...), each run on freshly started nodes,
// and returns the results, also written to c.Out as they come. A target
// that fails to start gives a Result with Errors, and the comparison goes
// on.
func CompareCluster(c ClusterCompareConfig) ([]Result, error) {
	if c.Reps < 1 {
		return nil, fmt.Errorf("bench: -reps %d: want at least 1", c.Reps)
	}
	for _, cs := range c.Cases {
		if !slices.Contains(crossScenarios, cs.Scenario) {
			return nil, fmt.Errorf("bench: compare-cluster runs %s, not %q", strings.Join(crossScenarios, ", "), cs.Scenario)
		}
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, err
	}
	c.Dir = dir
	_ = RaiseFileLimit(1 << 30) // before the nodes start: they inherit it
	cpus := ""
	if c.Mode == "pinned" {
		cpus = c.BrokerCPUs
	}
	total := len(c.Cases) * c.Reps * len(c.Targets)
	var out []Result
	n := 0
	start := time.Now()
	for _, cs := range c.Cases {
		for rep := 1; rep <= c.Reps; rep++ {
			for _, t := range c.Targets {
				n++
				r := compareCluster(&c, t, cs, rep, cpus)
				if c.Out != nil {
					if err := r.WriteJSON(c.Out); err != nil {
						return out, err
					}
				}
				out = append(out, r)
				if c.Log != nil {
					fmt.Fprintf(c.Log, "[%d/%d %s] %s %s rep %d: %s\n", n, total,
						time.Since(start).Round(time.Second), t.Name, cs, rep, brief([]Result{r}))
				}
			}
		}
	}
	return out, nil
}

// compareCluster runs case cs once on fresh nodes of t.
func compareCluster(c *ClusterCompareConfig, t ClusterTarget, cs Case, rep int, cpus string) Result {
	r := Result{Mode: c.Mode, Target: t.Name, Scenario: cs.Scenario, QoS: cs.QoS, Payload: cs.Payload, Rep: rep, Nodes: t.Nodes}
	dir := filepath.Join(c.Dir, t.Name)
	_ = os.RemoveAll(dir) // the previous run's JetStream and logs
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.addError(err)
		return r
	}
	cfg := c.Base
	cfg.Target, cfg.Relay, cfg.QoS, cfg.Payload = t.Name, false, cs.QoS, cs.Payload
	cl, err := t.start(dir, cpus, &cfg)
	if err != nil {
		r.addError(err)
		return r
	}
	var res Result
	switch cs.Scenario {
	case "connections":
		cfg.Scenario, cfg.Addr, cfg.BrokerPID = "connections", cl.nodes[0].addr, cl.nodes[0].cmd.Process.Pid
		if cs.Dialers > 0 {
			cfg.Dialers = cs.Dialers
		}
		var rs []Result
		if rs, err = Run(cfg); err == nil {
			res = rs[0]
		}
	case "crossnode-latency":
		res, err = RunCrossNodeLatency(cfg, cl.addrs())
	case "crossnode-persistent":
		res, err = RunCrossNodePersistent(cfg, cl.addrs())
	default:
		res, err = RunCrossNode(cfg, cl.addrs())
	}
	aerr := cl.alive()
	cl.stop()
	if err != nil {
		r.addError(err)
		r.addError(aerr)
		return r
	}
	res.Mode, res.Rep, res.Nodes, res.LoadAvg = c.Mode, rep, t.Nodes, loadAvg1()
	if aerr != nil {
		res.addError(fmt.Errorf("%s %w", t.Name, aerr))
	}
	return res
}

// WriteClusterSummary writes the Markdown tables of a cross-node
// comparison: for each crossnode case, one row per target with the median
// (minimum–maximum) delivered msg/s, its ratio to base's median, latency
// percentiles under that load and the lost and duplicate counts over all
// runs; then memory per idle connection where connections ran.
func WriteClusterSummary(w io.Writer, rs []Result, targets []string, base string) {
	gs := groups(rs)
	modes := []string{}
	for _, g := range gs {
		if !slices.Contains(modes, g.mode) {
			modes = append(modes, g.mode)
		}
	}
	nodes := func(g *group, t string) int {
		if len(g.byTarget[t]) == 0 {
			return 0
		}
		return g.byTarget[t][0].Nodes
	}
	rate := func(r *Result) float64 { return r.Rate }
	for _, mode := range modes {
		title := mode
		if title == "" {
			title = "results"
		}
		var cross, persist, lat, conns []*group
		for _, g := range gs {
			if g.mode != mode {
				continue
			}
			switch g.scenario {
			case "crossnode":
				cross = append(cross, g)
			case "crossnode-persistent":
				persist = append(persist, g)
			case "crossnode-latency":
				lat = append(lat, g)
			case "connections":
				conns = append(conns, g)
			}
		}
		crossTable := func(gs []*group, heading string) {
			if len(gs) == 0 {
				return
			}
			fmt.Fprintf(w, "\n### %s, %s: publishers on node A, subscribers on the others; median (min–max)\n\n", heading, title)
			fmt.Fprintf(w, "| QoS | payload | target | nodes | delivered msg/s | ×%s | p50 µs | p99 µs | lost | dup |\n", base)
			fmt.Fprintln(w, "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
			for _, g := range gs {
				sb := g.stat(base, rate)
				for _, t := range targets {
					if len(g.byTarget[t]) == 0 {
						continue
					}
					st := g.stat(t, rate)
					fmt.Fprintf(w, "| %d | %s | %s | %d | %s | %s | %s | %s | %s | %d |\n", g.qos, size(g.payload), t, nodes(g, t),
						fmtStat(st, si), ratio(st, sb),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P50 }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P99 }), us),
						lossCount(g, t), g.sum(t, func(r *Result) uint64 { return r.Duplicates }))
				}
			}
		}
		crossTable(cross, "Across nodes")
		crossTable(persist, "Across nodes with persistent sessions (clean session 0)")
		if len(lat) > 0 {
			fmt.Fprintf(w, "\n### Latency across nodes at a fixed rate, %s: one publisher on node A, its subscriber on B; µs, median over runs (min–max)\n\n", title)
			fmt.Fprintln(w, "| QoS | target | nodes | p50 | p99 | p99.9 | max | lost | dup |")
			fmt.Fprintln(w, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
			for _, g := range lat {
				for _, t := range targets {
					if len(g.byTarget[t]) == 0 {
						continue
					}
					fmt.Fprintf(w, "| %d | %s | %d | %s | %s | %s | %s | %s | %d |\n", g.qos, t, nodes(g, t),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P50 }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P99 }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P999 }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.Max }), us),
						lossCount(g, t), g.sum(t, func(r *Result) uint64 { return r.Duplicates }))
				}
			}
		}
		if len(conns) > 0 {
			fmt.Fprintf(w, "\n### Idle connections on node A, %s: median (min–max)\n\n", title)
			fmt.Fprintln(w, "| target | nodes | connections | conn/s | broker RSS before KiB | after KiB | RSS per connection |")
			fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
			count := func(v float64) string { return fmt.Sprintf("%.0f", v) }
			for _, g := range conns {
				for _, t := range targets {
					if len(g.byTarget[t]) == 0 {
						continue
					}
					fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", t, nodes(g, t),
						fmtStat(g.stat(t, func(r *Result) float64 { return float64(r.Connections) }), count),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.ConnectRate }), si),
						fmtStat(g.stat(t, func(r *Result) float64 { return float64(r.RSSBeforeKiB) }), count),
						fmtStat(g.stat(t, func(r *Result) float64 { return float64(r.RSSAfterKiB) }), count),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.RSSPerConnB }), bytesStr))
				}
			}
		}
	}
	var errs []string
	for _, r := range rs {
		for _, e := range r.Errors {
			if len(errs) < 40 {
				errs = append(errs, fmt.Sprintf("- %s %s, %s qos%d %s rep %d: %s", r.Mode, r.Target, r.Scenario, r.QoS, size(r.Payload), r.Rep, e))
			}
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\n### Errors seen\n\n%s\n", strings.Join(errs, "\n"))
	}
}

// lossCount is the lost messages of target's runs, with the share of
// those due.
func lossCount(g *group, target string) string {
	lost := g.sum(target, func(r *Result) uint64 { return r.Lost })
	exp := g.sum(target, func(r *Result) uint64 { return r.Expected })
	if lost > 0 && exp > 0 {
		return fmt.Sprintf("%d (%.2g%%)", lost, 100*float64(lost)/float64(exp))
	}
	return fmt.Sprintf("%d", lost)
}
