package main

import (
	"bytes"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
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
		{[]string{"-store-max-pending", "10"}, []string{"-store-max-pending 10: must be 64 to 16777216 ops"}},
		{[]string{"-log-level", "verbose"}, []string{`-log-level "verbose": want debug, info, warn or error`}},
		{[]string{"-log-format", "xml"}, []string{`-log-format "xml": want text or json`}},
		{[]string{"-trace-persist", "-persistence", "off"}, []string{`-trace-persist needs -persistence on (it is "off")`}},
		{[]string{"-log-level", "INFO", "-log-format", "", "-loops", "-1"}, []string{`-log-level "INFO"`, `-log-format "": want text or json`, "-loops -1"}},
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

// TestGCFloorDefersCollection fills 16 MiB of small, live objects with and
// without a 64 MiB floor and counts collections: without it Go collects at
// 4, 8 and 16 MiB on the way.
func TestGCFloorDefersCollection(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set; the floor leaves the collector alone then")
	}
	count := func(floorMiB int) uint32 {
		runtime.GC() // start from a collected heap of a few MiB
		stop := startGCFloor(floorMiB)
		defer stop()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		live := make([][]byte, 0, 16<<10)
		for range 16 << 10 {
			live = append(live, make([]byte, 1024))
		}
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(live)
		return after.NumGC - before.NumGC
	}
	if n := count(0); n < 2 {
		t.Fatalf("%d collections without a floor, want at least 2: the test no longer shows anything", n)
	}
	if n := count(64); n > 0 {
		t.Errorf("%d collections below a 64 MiB floor, want 0", n)
	}
}

// TestGCFloorPercent checks the GOGC chosen from the live heap: the goal is
// the floor while twice the live heap is below it, then Go's usual 100.
func TestGCFloorPercent(t *testing.T) {
	g := &gcFloor{floor: 64 << 20}
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{4 << 20, 1500},  // goal 4 × 16 = 64 MiB
		{16 << 20, 300},  // goal 64 MiB
		{32 << 20, 100},  // 2 × live = 64 MiB
		{500 << 20, 100}, // far above the floor: GOGC=100
		{0, 1 << 30},     // nothing live yet: capped, not overflowed
	} {
		if got := g.percent(tc.live); got != tc.want {
			t.Errorf("percent(%d MiB live) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}

// TestGCFloorTunesAfterCollections checks that the floor follows the live
// heap: above the floor it hands GOGC back to 100 after a collection.
func TestGCFloorTunesAfterCollections(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set; the floor leaves the collector alone then")
	}
	gogc := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	stop := startGCFloor(16)
	defer stop()
	if got := gogc(); got != 300 {
		t.Fatalf("GOGC %d at start with a 16 MiB floor, want 300 (a first goal of 4 MiB x 4)", got)
	}
	live := make([][]byte, 0, 24<<10) // 24 MiB live: above half the floor
	for range 24 << 10 {
		live = append(live, make([]byte, 1024))
	}
	deadline := time.Now().Add(5 * time.Second)
	for gogc() != 100 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the cleanup runs on its own goroutine
	}
	runtime.KeepAlive(live)
	if got := gogc(); got != 100 {
		t.Errorf("GOGC %d with 24 MiB live and a 16 MiB floor, want 100", got)
	}
}
