package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/bench"
)

func TestMatrix(t *testing.T) {
	cases, err := matrix("fanin,latency,connections,curve-retained", "0,2", "16,100", 10_000)
	if err != nil {
		t.Fatal(err)
	}
	want := []bench.Case{
		{Scenario: "fanin", QoS: 0, Payload: 16}, {Scenario: "fanin", QoS: 2, Payload: 16},
		{Scenario: "fanin", QoS: 0, Payload: 100}, {Scenario: "fanin", QoS: 2, Payload: 100},
		{Scenario: "latency", QoS: 0, Payload: 16}, {Scenario: "latency", QoS: 1, Payload: 16},
		{Scenario: "connections", QoS: 0, Payload: 16},
		{Scenario: "connections", QoS: 0, Payload: 16, Dialers: bench.StormDialers},
		{Scenario: "curve-retained", Payload: 16, Size: 1000}, {Scenario: "curve-retained", Payload: 16, Size: 10_000},
	}
	if len(cases) != len(want) {
		t.Fatalf("matrix = %v, want %v", cases, want)
	}
	for i := range want {
		if cases[i] != want[i] {
			t.Errorf("case %d = %v, want %v", i, cases[i], want[i])
		}
	}
	for _, bad := range [][3]string{{"storm", "0", "16"}, {"fanin", "3", "16"}, {"fanin", "0", "8"}} {
		if _, err := matrix(bad[0], bad[1], bad[2], 1000); err == nil {
			t.Errorf("matrix(%q, %q, %q): no error, want one", bad[0], bad[1], bad[2])
		}
	}
}

func TestRunFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-addr", "192.0.2.1:1883"}, "not a loopback address"},
		{[]string{"-addr", "staging.example.com:1883"}, "pass -allow-remote"},
		{[]string{"-allow-remote", "-addr", "192.0.2.1:1883", "-password", "x"}, "needs -username"},
		{[]string{"-qos", "3"}, "want 0, 1 or 2"},
		{[]string{"-payload", "4", "-window", "0"}, "-window 0"},
		{[]string{"compare", "-mode", "fast"}, `-mode "fast"`},
		{[]string{"-protocol", "3"}, "want 4 (MQTT 3.1.1) or 5 (MQTT 5.0)"},
		{[]string{"-protocol", "5", "-scenario", "connections"}, "-protocol 5: the connections scenario speaks MQTT 3.1.1 only"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}
