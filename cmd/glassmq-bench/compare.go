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
	"syscall"

	"github.com/glassmq/glassmq/bench"
)

// pinnedEnv marks a process already moved to the client CPUs.
const pinnedEnv = "GLASSMQ_BENCH_PINNED"

func compare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glassmq-bench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := bench.DefaultConfig()
	registerLoadFlags(fs, &cfg)
	mode := fs.String("mode", "pinned", "pinned: brokers on -broker-cpus with one loop, load on -client-cpus; free: no pinning")
	brokerCPUs := fs.String("broker-cpus", "0", "pinned: taskset CPU list of the brokers")
	clientCPUs := fs.String("client-cpus", "1", "pinned: taskset CPU list of the load generator")
	glassmq := fs.String("glassmq", "bin/glassmq", "glassmq `binary`")
	mosquitto := fs.String("mosquitto", "mosquitto", "mosquitto `binary` (looked up in PATH); empty skips it")
	relay := fs.String("relay", "bin/glassmq-relay", "glassmq-relay `binary`; empty skips the raw relay baseline")
	reps := fs.Int("reps", 3, "runs of each case on each broker")
	scenarios := fs.String("scenarios", strings.Join(bench.Scenarios, ","), "comma-separated `list` of scenarios")
	qos := fs.String("qos-list", "0,1,2", "comma-separated QoS levels of fanin, fanout and pairs")
	curveMax := fs.Int("curve-max", 1_000_000, "curves: largest size run (retained, subscriptions: 1000 to 1000000; connections: 1000 to 18000; fanout: 1 to 10000)")
	payloads := fs.String("payloads", "16,1024", "comma-separated payload sizes in bytes of fanin, fanout and pairs")
	inflight := fs.Int("inflight", 32, "outgoing QoS 1/2 window per client given to every broker")
	queued := fs.Int("queued", 1_000_000, "QoS 1/2 queue per client given to every broker")
	out := fs.String("out", "bench/results", "`directory` for results-MODE.jsonl, summary-MODE.md, chart-MODE.png and broker logs")
	commit := fs.String("commit", "", "commit the binaries were built from, for the report (default: git describe of the working tree now)")
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
		// Mosquitto 2.0 answers a QoS 2 PUBLISH beyond max_inflight_messages
		// with a PUBREC and drops it (a 3.1.1 PUBREC has no reason code to
		// say so): a window as large as the brokers' keeps the run lossless.
		cfg.Window = *inflight
	}
	if *mode != "pinned" && *mode != "free" {
		fmt.Fprintf(stderr, "glassmq-bench: -mode %q: want pinned or free\n", *mode)
		return 2
	}
	if *mode == "pinned" && os.Getenv(pinnedEnv) == "" {
		return repin(*clientCPUs, stderr)
	}
	cases, err := matrix(*scenarios, *qos, *payloads, *curveMax)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *progress || isTerminal(os.Stderr) {
		cfg.Progress = stderr
	}
	pinned := *mode == "pinned"
	limits := bench.Limits{Inflight: *inflight, Queued: *queued}
	targets := []bench.Target{bench.GlassmqTarget(abs(*glassmq), pinned, limits)}
	mosq := ""
	if *mosquitto != "" {
		p, err := exec.LookPath(*mosquitto)
		if err != nil {
			fmt.Fprintf(stderr, "glassmq-bench: -mosquitto %q: %v; install it (apt-get install mosquitto) or pass -mosquitto ''\n", *mosquitto, err)
			return 2
		}
		mosq = p
		targets = append(targets, bench.MosquittoTarget(p, limits))
	}
	if *relay != "" {
		targets = append(targets, bench.RelayTarget(abs(*relay), pinned))
	}
	for _, t := range targets {
		if _, err := os.Stat(t.Bin); err != nil {
			fmt.Fprintf(stderr, "glassmq-bench: %s binary: %v (make build)\n", t.Name, err)
			return 2
		}
	}
	work, jsonPath, jf, env, err := openRun(*out, *mode, mosq, *commit)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer jf.Close()
	fmt.Fprintf(stderr, "glassmq-bench compare: mode %s, %d cases, %d reps, %s per run; results in %s\n", *mode, len(cases), *reps, cfg.Duration, jsonPath)
	results, err := bench.Compare(bench.CompareConfig{Mode: *mode, Targets: targets, Cases: cases, Reps: *reps,
		Base: cfg, BrokerCPUs: *brokerCPUs, Dir: work, Out: jf, Log: stderr})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	env.Finish()
	if err := writeReport(*out, *mode, env, results, stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// writeReport writes summary-MODE.md and chart-MODE.png into dir and the
// summary to stdout.
func writeReport(dir, mode string, env bench.Env, results []bench.Result, stdout io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s mode\n\n", mode)
	env.Write(&b)
	bench.WriteSummary(&b, results, "glassmq", "mosquitto", "relay")
	if err := os.WriteFile(filepath.Join(dir, "summary-"+mode+".md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprint(stdout, b.String())
	if _, err := bench.WriteCurveCharts(dir, mode, results, []string{"glassmq", "mosquitto"}); err != nil {
		return err
	}
	if !slices.ContainsFunc(results, func(r bench.Result) bool {
		return r.Scenario == "fanin" || r.Scenario == "fanout" || r.Scenario == "pairs"
	}) {
		return nil // a run of only fleet, curves, latency, connections or admin has no throughput chart
	}
	title := fmt.Sprintf("delivered msg/s, %s mode (%s)", mode, env.Date.Format("2006-01-02"))
	return bench.WriteChart(filepath.Join(dir, "chart-"+mode+".png"), title, results, []string{"glassmq", "mosquitto", "relay"})
}

// report rebuilds the summary and chart from a results file.
func report(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glassmq-bench report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("out", "bench/results", "`directory` for summary-MODE.md and chart-MODE.png")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: glassmq-bench report [-out DIR] results-MODE.jsonl ...")
		return 2
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, path := range fs.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		rs, err := bench.ReadResults(f)
		f.Close()
		if err != nil || len(rs) == 0 {
			fmt.Fprintf(stderr, "glassmq-bench: %s: %d results, %v\n", path, len(rs), err)
			return 1
		}
		env := bench.ReadEnv("")
		if err := writeReport(*dir, rs[0].Mode, env, rs, stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	return 0
}

// repin runs this command again under taskset on cpus.
func repin(cpus string, stderr io.Writer) int {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		fmt.Fprintf(stderr, "glassmq-bench: pinned mode needs taskset (util-linux): %v\n", err)
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	argv := append([]string{"taskset", "-c", cpus, self}, os.Args[1:]...)
	err = syscall.Exec(taskset, argv, append(os.Environ(), pinnedEnv+"=1"))
	fmt.Fprintf(stderr, "glassmq-bench: exec taskset: %v\n", err)
	return 1
}

// matrix builds the cases from the comma-separated lists; a curve scenario
// gets one case per size of bench.CurveSizes up to curveMax.
func matrix(scenarios, qos, payloads string, curveMax int) ([]bench.Case, error) {
	var qs []byte
	for _, f := range strings.Split(qos, ",") {
		q, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || q < 0 || q > 2 {
			return nil, fmt.Errorf("glassmq-bench: -qos-list %q: want QoS levels 0, 1, 2 separated by commas", qos)
		}
		qs = append(qs, byte(q))
	}
	var ps []int
	for _, f := range strings.Split(payloads, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < bench.MinPayload {
			return nil, fmt.Errorf("glassmq-bench: -payloads %q: want sizes of at least %d bytes separated by commas", payloads, bench.MinPayload)
		}
		ps = append(ps, p)
	}
	var cases []bench.Case
	for _, s := range strings.Split(scenarios, ",") {
		s = strings.TrimSpace(s)
		if slices.Contains(bench.Curves, s) {
			for _, n := range bench.CurveSizes(s) {
				if n <= curveMax {
					cases = append(cases, bench.Case{Scenario: s, Payload: 16, Size: n})
				}
			}
			continue
		}
		if !slices.Contains(bench.Scenarios, s) {
			return nil, fmt.Errorf("glassmq-bench: -scenarios: unknown %q, want some of %s", s, strings.Join(append(slices.Clone(bench.Scenarios), bench.Curves...), ","))
		}
		for _, c := range bench.DefaultCases() {
			if c.Scenario != s {
				continue
			}
			if s == "fanin" || s == "fanout" || s == "pairs" {
				if !slices.Contains(qs, c.QoS) || !slices.Contains(ps, c.Payload) {
					continue
				}
			}
			cases = append(cases, c)
		}
		if s == "fanin" || s == "fanout" || s == "pairs" { // sizes beyond the defaults
			for _, q := range qs {
				for _, p := range ps {
					c := bench.Case{Scenario: s, QoS: q, Payload: p}
					if !slices.Contains(cases, c) {
						cases = append(cases, c)
					}
				}
			}
		}
	}
	return cases, nil
}

func abs(p string) string {
	if p == "" {
		return p
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// openRun makes the run directory out/mode and creates the run's JSON
// results file, and reads the environment to report (with commit, when
// given, as the commit).
func openRun(out, mode, mosquitto, commit string) (work, jsonPath string, jf *os.File, env bench.Env, err error) {
	work = filepath.Join(out, mode)
	if err = os.MkdirAll(work, 0o755); err != nil {
		return
	}
	jsonPath = filepath.Join(out, "results-"+mode+".jsonl")
	if jf, err = os.Create(jsonPath); err != nil {
		return
	}
	env = bench.ReadEnv(mosquitto)
	if commit != "" {
		env.Commit = commit
	}
	return
}
