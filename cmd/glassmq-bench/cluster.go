package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/glassmq/glassmq/bench"
)

// clusterTargets are the targets compare-cluster knows, in the order it
// runs them.
var clusterTargets = []string{"glassmq", "mosquitto", "glassmq-cluster", "mosquitto-bridge", "nats-mqtt"}

// crossnode runs the crossnode scenario once against the nodes of a
// running cluster.
func crossnode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glassmq-bench crossnode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.DefaultConfig()
	cfg.Password = os.Getenv(passwordEnv)
	registerRunFlags(fs, &cfg)
	nodes := fs.String("nodes", "", "comma-separated MQTT `host:port` of the cluster's nodes: publishers on the first, subscribers on the others in turn (-addr and -scenario are not used)")
	jsonOnly := fs.Bool("json", false, "print only the JSON line, no Markdown table")
	latency := fs.Bool("latency", false, "one pair at -rate msg/s instead of -pairs as fast as they go: the latency of crossing nodes")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var addrs []string
	for _, a := range strings.Split(*nodes, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		fmt.Fprintf(stderr, "glassmq-bench crossnode: -nodes %q: want the MQTT host:port of each node, separated by commas (publishers on the first)\n", *nodes)
		return 2
	}
	if cfg.Progress == nil && isTerminal(os.Stderr) {
		cfg.Progress = stderr
	}
	runOnce := bench.RunCrossNode
	if *latency {
		runOnce = bench.RunCrossNodeLatency
	}
	r, err := runOnce(cfg, addrs)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	_ = r.WriteJSON(stdout)
	if !*jsonOnly {
		fmt.Fprintln(stdout)
		bench.WriteRunTable(stdout, []bench.Result{r})
	}
	return 0
}

// compareCluster runs crossnode (and optionally connections) on single
// nodes and on clusters, interleaved, and writes the tables.
func compareCluster(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glassmq-bench compare-cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.DefaultConfig()
	registerLoadFlags(fs, &cfg)
	mode := fs.String("mode", "pinned", "pinned: every node of every target on -broker-cpus (glassmq with one loop, Go brokers with GOMAXPROCS=1), load on -client-cpus; free: no pinning")
	brokerCPUs := fs.String("broker-cpus", "0", "pinned: taskset CPU list of the nodes")
	clientCPUs := fs.String("client-cpus", "1", "pinned: taskset CPU list of the load generator")
	targetList := fs.String("targets", strings.Join(clusterTargets, ","), "comma-separated `list` of targets: "+strings.Join(clusterTargets, ", "))
	glassmq := fs.String("glassmq", "bin/glassmq", "glassmq `binary` (glassmq and glassmq-cluster)")
	glassmqCluster := fs.String("glassmq-cluster", "", "glassmq `binary` of the glassmq-cluster target (default: -glassmq)")
	mosquitto := fs.String("mosquitto", "mosquitto", "mosquitto `binary` (looked up in PATH; mosquitto and mosquitto-bridge)")
	natsServer := fs.String("nats-server", "bin/nats-server", "nats-server `binary` (go build -o bin/nats-server github.com/nats-io/nats-server/v2)")
	nodes := fs.Int("nodes", 3, "nodes of each cluster target (2 to 9)")
	replicas := fs.Int("replicas", 3, "nats-mqtt: JetStream replicas of its MQTT streams and consumers (1 to -nodes)")
	reps := fs.Int("reps", 3, "runs of each case on each target")
	scenarios := fs.String("scenarios", "crossnode", "comma-separated `list`: crossnode (pairs across nodes, saturated), crossnode-persistent (the same with clean session 0: kept, and in a glassmq cluster replicated, sessions), crossnode-latency (one pair across nodes at -rate msg/s), connections (idle clients on node A, its memory per connection)")
	qos := fs.String("qos-list", "0,1", "comma-separated QoS levels of crossnode")
	payloads := fs.String("payloads", "16", "comma-separated payload sizes in bytes of crossnode")
	inflight := fs.Int("inflight", 32, "outgoing QoS 1/2 window per client given to glassmq and mosquitto")
	queued := fs.Int("queued", 1_000_000, "QoS 1/2 queue per client given to glassmq and mosquitto")
	fsync := fs.String("fsync", "", "glassmq's and glassmq-cluster's -fsync: always (acks wait for the disk and, in a cluster, the replica) or interval; empty: the broker's default")
	out := fs.String("out", "bench/results/cluster", "`directory` for results-MODE.jsonl, summary-MODE.md and node logs")
	commit := fs.String("commit", "", "commit the binaries were built from, for the report")
	progress := fs.Bool("progress", false, "print a live progress line to stderr even when it is not a terminal")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	windowSet := false
	fs.Visit(func(f *flag.Flag) { windowSet = windowSet || f.Name == "window" })
	if !windowSet {
		cfg.Window = *inflight // as in compare: Mosquitto drops QoS 2 beyond its window
	}
	var bad []string
	if *mode != "pinned" && *mode != "free" {
		bad = append(bad, fmt.Sprintf("-mode %q: want pinned or free", *mode))
	}
	if *nodes < 2 || *nodes > 9 {
		bad = append(bad, fmt.Sprintf("-nodes %d: want 2 to 9 (publishers on one node, subscribers on the others)", *nodes))
	}
	if *fsync != "" && *fsync != "always" && *fsync != "interval" {
		bad = append(bad, fmt.Sprintf("-fsync %q: want always or interval (or empty for glassmq's default)", *fsync))
	}
	if *replicas < 1 || *replicas > *nodes {
		bad = append(bad, fmt.Sprintf("-replicas %d: want 1 to -nodes (%d)", *replicas, *nodes))
	}
	names := splitList(*targetList)
	for _, n := range names {
		if !slices.Contains(clusterTargets, n) {
			bad = append(bad, fmt.Sprintf("-targets: unknown %q, want some of %s", n, strings.Join(clusterTargets, ",")))
		}
	}
	cases, err := clusterMatrix(*scenarios, *qos, *payloads)
	if err != nil {
		bad = append(bad, err.Error())
	}
	if len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(stderr, "glassmq-bench compare-cluster: "+b)
		}
		return 2
	}
	if *mode == "pinned" && os.Getenv(pinnedEnv) == "" {
		return repin(*clientCPUs, stderr)
	}
	if *progress || isTerminal(os.Stderr) {
		cfg.Progress = stderr
	}
	pinned := *mode == "pinned"
	limits := bench.Limits{Inflight: *inflight, Queued: *queued, Fsync: *fsync}
	if *glassmqCluster == "" {
		*glassmqCluster = *glassmq
	}
	targets, mosq := pickClusterTargets(names, *glassmq, *glassmqCluster, *mosquitto, *natsServer, *nodes, *replicas, pinned, limits, stderr)
	if len(targets) == 0 {
		fmt.Fprintln(stderr, "glassmq-bench compare-cluster: no target to run (see the notes above)")
		return 1
	}
	work, jsonPath, jf, env, err := openRun(*out, *mode, mosq, *commit)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer jf.Close()
	fmt.Fprintf(stderr, "glassmq-bench compare-cluster: mode %s, %d targets, %d cases, %d reps, %s per run; results in %s\n",
		*mode, len(targets), len(cases), *reps, cfg.Duration, jsonPath)
	results, err := bench.CompareCluster(bench.ClusterCompareConfig{Mode: *mode, Targets: targets, Cases: cases, Reps: *reps,
		Base: cfg, BrokerCPUs: *brokerCPUs, Dir: work, Out: jf, Log: stderr})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	env.Finish()
	var b strings.Builder
	fmt.Fprintf(&b, "## Across nodes, %s mode\n\n", *mode)
	env.Write(&b)
	fmt.Fprintf(&b, "- %d pairs, %s of publishing per run, window %d; clusters of %d nodes, nats-mqtt with %d replicas\n",
		cfg.Pairs, cfg.Duration, cfg.Window, *nodes, *replicas)
	var order []string
	for _, t := range targets {
		order = append(order, t.Name)
	}
	bench.WriteClusterSummary(&b, results, order, "glassmq")
	if err := os.WriteFile(filepath.Join(*out, "summary-"+*mode+".md"), []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprint(stdout, b.String())
	return 0
}

// pickClusterTargets builds the targets named, skipping with a note each
// one whose binary is missing (or, for glassmq-cluster, a glassmq without
// the cluster flags). It also returns mosquitto's path, "" if not used.
func pickClusterTargets(names []string, glassmq, glassmqCluster, mosquitto, natsServer string, nodes, replicas int, pinned bool, l bench.Limits, stderr io.Writer) ([]bench.ClusterTarget, string) {
	skip := func(name, why string) {
		fmt.Fprintf(stderr, "glassmq-bench compare-cluster: skipping %s: %s\n", name, why)
	}
	glassmq, glassmqCluster, natsServer = abs(glassmq), abs(glassmqCluster), abs(natsServer)
	haveFile := func(p string) error { _, err := os.Stat(p); return err }
	mosq, mosqErr := "", errors.New("-mosquitto is empty")
	if mosquitto != "" {
		mosq, mosqErr = exec.LookPath(mosquitto)
	}
	var out []bench.ClusterTarget
	used := ""
	for _, n := range names {
		switch n {
		case "glassmq":
			if err := haveFile(glassmq); err != nil {
				skip(n, fmt.Sprintf("%v (make build)", err))
				continue
			}
			out = append(out, bench.SingleNode(bench.GlassmqTarget(glassmq, pinned, l)))
		case "glassmq-cluster":
			if err := haveFile(glassmqCluster); err != nil {
				skip(n, fmt.Sprintf("%v (make build)", err))
				continue
			}
			if !bench.HasClusterFlags(glassmqCluster) {
				skip(n, glassmqCluster+" has no -cluster-listen/-cluster-peers flags (a build without the cluster)")
				continue
			}
			out = append(out, bench.GlassmqClusterTarget(glassmqCluster, nodes, pinned, l))
		case "mosquitto", "mosquitto-bridge":
			if mosqErr != nil {
				skip(n, fmt.Sprintf("%v (apt-get install mosquitto)", mosqErr))
				continue
			}
			used = mosq
			if n == "mosquitto" {
				out = append(out, bench.SingleNode(bench.MosquittoTarget(mosq, l)))
			} else {
				out = append(out, bench.MosquittoBridgeTarget(mosq, nodes, l))
			}
		case "nats-mqtt":
			if err := haveFile(natsServer); err != nil {
				skip(n, fmt.Sprintf("%v (go build -o bin/nats-server github.com/nats-io/nats-server/v2)", err))
				continue
			}
			out = append(out, bench.NATSMQTTTarget(natsServer, nodes, replicas, pinned))
		}
	}
	return out, used
}

// clusterMatrix builds compare-cluster's cases from its lists.
func clusterMatrix(scenarios, qos, payloads string) ([]bench.Case, error) {
	var qs []byte
	for _, f := range splitList(qos) {
		q, err := strconv.Atoi(f)
		if err != nil || q < 0 || q > 2 {
			return nil, fmt.Errorf("-qos-list %q: want QoS levels 0, 1, 2 separated by commas", qos)
		}
		qs = append(qs, byte(q))
	}
	var ps []int
	for _, f := range splitList(payloads) {
		p, err := strconv.Atoi(f)
		if err != nil || p < bench.MinPayload || p > 1<<20 {
			return nil, fmt.Errorf("-payloads %q: want sizes of %d bytes to 1 MiB separated by commas", payloads, bench.MinPayload)
		}
		ps = append(ps, p)
	}
	if len(qs) == 0 || len(ps) == 0 {
		return nil, fmt.Errorf("-qos-list %q, -payloads %q: want at least one of each", qos, payloads)
	}
	var cases []bench.Case
	for _, s := range splitList(scenarios) {
		switch s {
		case "crossnode":
			cases = append(cases, bench.CrossNodeCases(qs, ps)...)
		case "crossnode-persistent":
			for _, c := range bench.CrossNodeCases(qs, ps) {
				c.Scenario = s
				cases = append(cases, c)
			}
		case "crossnode-latency":
			for _, q := range qs {
				cases = append(cases, bench.Case{Scenario: s, QoS: q, Payload: bench.MinPayload})
			}
		case "connections":
			cases = append(cases, bench.Case{Scenario: "connections", QoS: 0, Payload: 16})
		default:
			return nil, fmt.Errorf("-scenarios: unknown %q, want some of crossnode, crossnode-persistent, crossnode-latency, connections", s)
		}
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("-scenarios %q: want some of crossnode, crossnode-persistent, crossnode-latency, connections", scenarios)
	}
	return cases, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
