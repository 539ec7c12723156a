package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

func TestBadFlagsExit2WithASentence(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // substrings of stderr
	}{
		{[]string{"-session-expiry", "100"}, []string{`-session-expiry "100"`, "duration with a unit"}},
		{[]string{"-loops", "abc"}, []string{`-loops "abc"`, "whole number"}},
		{[]string{"-nope"}, []string{"unknown flag -nope"}},
		{[]string{"-max-inflight", "0", "-listen", "8080"}, []string{`-max-inflight 0: must be 1 to 65535`, `-listen "8080": want host:port`}},
		{[]string{"-admin-listen", "0.0.0.0:8080"}, []string{`-admin-listen "0.0.0.0:8080"`}},
		{[]string{"stray"}, []string{`unexpected argument "stray"`}},
		{[]string{"-gc-heap-floor", "-1"}, []string{"-gc-heap-floor -1: want a size in MiB from 0 to 1048576"}},
	} {
		var stderr bytes.Buffer
		if code := run(tc.args, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, stderr.String())
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr %q lacks %q", tc.args, stderr.String(), w)
			}
		}
		if strings.Contains(stderr.String(), "Usage:") {
			t.Errorf("%v: stderr dumps the usage; want one sentence per problem", tc.args)
		}
	}
}

func TestHelpGroupsFlags(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-help"}, &out); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	for _, w := range []string{"Listeners:", "Limits:", "Admin credentials:", "-max-inflight", "-rate-describe-mqtt-client"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("-help lacks %q", w)
		}
	}
}

// TestHeapFloorDefersCollection fills 24 MiB of small, live objects after
// ballast(64) and counts collections: without the floor Go collects at 4, 8
// and 16 MiB on the way.
func TestHeapFloorDefersCollection(t *testing.T) {
	count := func(floor int) uint32 {
		b := ballast(floor)
		runtime.GC() // start from a collected heap: a few MiB and the ballast
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		live := make([][]byte, 0, 24<<10)
		for range 24 << 10 {
			live = append(live, make([]byte, 1024))
		}
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(live)
		runtime.KeepAlive(b)
		return after.NumGC - before.NumGC
	}
	if n := count(0); n < 2 {
		t.Fatalf("%d collections without a floor, want at least 2: the test no longer shows anything", n)
	}
	if n := count(64); n > 0 {
		t.Errorf("%d collections below a 64 MiB floor, want 0", n)
	}
}
