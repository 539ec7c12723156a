package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/bench"
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
