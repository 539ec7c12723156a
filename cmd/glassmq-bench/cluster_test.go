package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/bench"
	"github.com/glassmq/glassmq/internal/longtest"
)

func TestCompareClusterFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"compare-cluster", "-mode", "fast"}, []string{`-mode "fast": want pinned or free`}},
		{[]string{"compare-cluster", "-nodes", "1"}, []string{"-nodes 1: want 2 to 9", "-replicas 3: want 1 to -nodes (1)"}},
		{[]string{"compare-cluster", "-replicas", "0"}, []string{"-replicas 0: want 1 to -nodes (3)"}},
		{[]string{"compare-cluster", "-targets", "glassmq,emqx"}, []string{`-targets: unknown "emqx"`}},
		{[]string{"compare-cluster", "-scenarios", "pairs"}, []string{`-scenarios: unknown "pairs"`}},
		{[]string{"compare-cluster", "-qos-list", "3"}, []string{`-qos-list "3": want QoS levels 0, 1, 2`}},
		{[]string{"compare-cluster", "-payloads", "8"}, []string{`-payloads "8": want sizes of 16 bytes to 1 MiB`}},
		{[]string{"crossnode", "-nodes", ""}, []string{`-nodes "": want the MQTT host:port of each node`}},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		for _, w := range tc.want {
			if code != 2 || !strings.Contains(errb.String(), w) {
				t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), w)
			}
		}
	}
}

func TestClusterMatrix(t *testing.T) {
	cases, err := clusterMatrix("crossnode, crossnode-latency,connections", "0,1", "16,1024")
	if err != nil {
		t.Fatal(err)
	}
	want := []bench.Case{
		{Scenario: "crossnode", QoS: 0, Payload: 16}, {Scenario: "crossnode", QoS: 0, Payload: 1024},
		{Scenario: "crossnode", QoS: 1, Payload: 16}, {Scenario: "crossnode", QoS: 1, Payload: 1024},
		{Scenario: "crossnode-latency", QoS: 0, Payload: 16}, {Scenario: "crossnode-latency", QoS: 1, Payload: 16},
		{Scenario: "connections", QoS: 0, Payload: 16},
	}
	if len(cases) != len(want) {
		t.Fatalf("clusterMatrix = %v, want %v", cases, want)
	}
	for i := range want {
		if cases[i] != want[i] {
			t.Errorf("case %d = %v, want %v", i, cases[i], want[i])
		}
	}
}

func TestPickClusterTargetsSkipsMissing(t *testing.T) {
	dir := t.TempDir()
	var errb bytes.Buffer
	got, mosq := pickClusterTargets([]string{"glassmq", "glassmq-cluster", "mosquitto", "mosquitto-bridge", "nats-mqtt"},
		filepath.Join(dir, "glassmq"), "", "", filepath.Join(dir, "nats-server"), 3, 3, false, bench.Limits{Inflight: 32, Queued: 1000}, &errb)
	if len(got) != 0 || mosq != "" {
		t.Errorf("pickClusterTargets with no binaries = %d targets, mosquitto %q; want none", len(got), mosq)
	}
	for _, name := range []string{"glassmq", "glassmq-cluster", "mosquitto", "mosquitto-bridge", "nats-mqtt"} {
		if !strings.Contains(errb.String(), "skipping "+name+":") {
			t.Errorf("notes %q: want one for %s", errb.String(), name)
		}
	}
}

// TestCompareClusterMosquitto runs the subcommands end to end on Mosquitto:
// compare-cluster starts a single node and a bridged trio, writes the JSON
// lines and the summary; crossnode loads a broker it did not start.
func TestCompareClusterMosquitto(t *testing.T) {
	longtest.Skip(t, "starts mosquitto processes")
	if _, err := exec.LookPath("mosquitto"); err != nil {
		t.Skip("mosquitto not installed (apt-get install mosquitto)")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"compare-cluster", "-mode", "free", "-targets", "mosquitto,mosquitto-bridge,nats-mqtt",
		"-nats-server", filepath.Join(out, "none"), "-reps", "1", "-duration", "200ms", "-count", "500", "-pairs", "2",
		"-qos-list", "1", "-scenarios", "crossnode,crossnode-latency", "-out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("compare-cluster = %d, stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "skipping nats-mqtt:") {
		t.Errorf("stderr:\n%s\nwant a note that nats-mqtt is skipped", stderr.String())
	}
	f, err := os.Open(filepath.Join(out, "results-free.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := bench.ReadResults(f)
	if err != nil || len(rs) != 4 {
		t.Fatalf("results: %d, %v; want 4 (2 targets × 2 cases)", len(rs), err)
	}
	for _, r := range rs {
		if len(r.Errors) > 0 || r.Delivered == 0 || r.Delivered != r.Expected || r.Duplicates != 0 {
			t.Errorf("%s %s: delivered %d of %d, %d duplicates, errors %q; want all once", r.Target, r.Scenario, r.Delivered, r.Expected, r.Duplicates, r.Errors)
		}
	}
	summary, err := os.ReadFile(filepath.Join(out, "summary-free.md"))
	if err != nil || !strings.Contains(string(summary), "| 1 | 16 B | mosquitto-bridge | 3 |") || !strings.Contains(string(summary), "| 1 | mosquitto-bridge | 3 |") {
		t.Errorf("summary-free.md (%v):\n%s\nwant crossnode and latency rows for mosquitto-bridge", err, summary)
	}

	// crossnode against a broker this test started: one node, so
	// publishers and subscribers meet there.
	conf := filepath.Join(out, "m.conf")
	port := freeLoopbackPort(t)
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("mosquitto", "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(t, addr)
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"crossnode", "-nodes", addr, "-latency", "-rate", "1000", "-count", "200", "-qos", "1", "-json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("crossnode = %d, stderr:\n%s", code, stderr.String())
	}
	rs, err = bench.ReadResults(strings.NewReader(stdout.String()))
	if err != nil || len(rs) != 1 || rs[0].Scenario != "crossnode-latency" || rs[0].Delivered != 200 || rs[0].Lost != 0 {
		t.Fatalf("crossnode output %q (%v); want one crossnode-latency result with 200 delivered", stdout.String(), err)
	}
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after 20 s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
