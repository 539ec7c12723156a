package bench

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
)

// buildOnce builds a binary of this module into a temporary directory once
// per test binary. GLASSMQ_BENCH_BROKER names a prebuilt glassmq instead.
var builds sync.Map // package path -> func() (string, error)

func build(t *testing.T, pkg string) string {
	t.Helper()
	if pkg == "github.com/glassmq/glassmq/cmd/glassmq" {
		if bin := os.Getenv("GLASSMQ_BENCH_BROKER"); bin != "" {
			return bin
		}
	}
	f, _ := builds.LoadOrStore(pkg, sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "bench-e2e-")
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, filepath.Base(pkg))
		out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			return "", &buildError{pkg, err, string(out)}
		}
		return bin, nil
	}))
	bin, err := f.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

type buildError struct {
	pkg string
	err error
	out string
}

func (e *buildError) Error() string { return "go build " + e.pkg + ": " + e.err.Error() + "\n" + e.out }

// startTarget starts t for one test and stops it at the test's end.
func startTarget(tb testing.TB, t Target) *process {
	tb.Helper()
	p, err := t.start(tb.TempDir(), "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.stop)
	return p
}

// tiny is a configuration small and short enough for a unit test.
func tiny(p *process, scenario string, qos byte) Config {
	c := DefaultConfig()
	c.Addr, c.AdminAddr, c.Target = p.addr, p.adminAddr, "glassmq"
	c.Scenario, c.QoS = scenario, qos
	c.Publishers, c.Subscribers, c.Pairs = 3, 3, 3
	c.Count = 2000
	c.Duration = 300 * time.Millisecond
	c.Drain = 5 * time.Second
	c.Window = 16
	c.Rate = 2000
	c.Connections, c.Dialers = 200, 8
	c.BrokerPID = p.cmd.Process.Pid
	c.Settle = 50 * time.Millisecond
	c.AdminRate = 50
	return c
}

func TestScenariosAgainstGlassmq(t *testing.T) {
	longtest.Skip(t, "runs every scenario against a real broker")
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq")
	p := startTarget(t, GlassmqTarget(bin, false, Limits{Inflight: 32, Queued: 100_000}))
	for _, scen := range []string{"fanin", "fanout", "pairs", "latency"} {
		for qos := range byte(3) {
			t.Run(scen+"/qos"+string('0'+qos), func(t *testing.T) {
				c := tiny(p, scen, qos)
				rs, err := Run(c)
				if err != nil {
					t.Fatal(err)
				}
				r := rs[0]
				if r.Sent == 0 || r.Delivered == 0 {
					t.Fatalf("sent %d, delivered %d; want both > 0 (%v)", r.Sent, r.Delivered, r.Errors)
				}
				if len(r.Errors) > 0 {
					t.Errorf("errors: %v", r.Errors)
				}
				if qos > 0 && (r.Lost != 0 || r.Duplicates != 0 || r.Delivered != r.Expected) {
					t.Errorf("QoS %d: lost %d, duplicates %d, delivered %d of %d; want none lost or repeated",
						qos, r.Lost, r.Duplicates, r.Delivered, r.Expected)
				}
				if r.Reordered != 0 {
					t.Errorf("reordered %d, want 0: one publisher's messages keep their order [MQTT-4.6.0-6]", r.Reordered)
				}
				if r.Rate <= 0 || r.P50 <= 0 || r.Max < r.P50 {
					t.Errorf("rate %v msg/s, p50 %v µs, max %v µs; want positive and max >= p50", r.Rate, r.P50, r.Max)
				}
				if scen == "fanout" && r.Expected != 3*r.Sent {
					t.Errorf("fanout: expected %d deliveries of %d sent, want 3 subscribers' worth", r.Expected, r.Sent)
				}
			})
		}
	}
	for qos := range byte(2) {
		t.Run("retained/qos"+string('0'+qos), func(t *testing.T) {
			c := tiny(p, "retained", qos)
			c.Retained = 5000
			rs, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].Variant != "exact" || rs[1].Variant != "wildcard" {
				t.Fatalf("got %d results %v, want exact and wildcard", len(rs), rs)
			}
			ex, wild := rs[0], rs[1]
			if len(ex.Errors)+len(wild.Errors) > 0 {
				t.Fatalf("errors: %v %v", ex.Errors, wild.Errors)
			}
			if ex.Delivered != retainedProbes || ex.P50 <= 0 {
				t.Errorf("exact: %d of %d probes answered, p50 %v µs; want all, > 0", ex.Delivered, retainedProbes, ex.P50)
			}
			if wild.Delivered != 5000 || wild.Lost != 0 || wild.Duplicates != 0 || wild.Rate <= 0 {
				t.Errorf("wildcard: delivered %d, lost %d, dup %d, rate %v; want 5000, 0, 0, > 0", wild.Delivered, wild.Lost, wild.Duplicates, wild.Rate)
			}
		})
	}
	t.Run("connections", func(t *testing.T) {
		rs, err := Run(tiny(p, "connections", 0))
		if err != nil {
			t.Fatal(err)
		}
		r := rs[0]
		if r.Connections != 200 || r.ConnectFailed != 0 || r.ConnectRate <= 0 {
			t.Errorf("connections %d, failed %d, rate %v; want 200, 0, > 0 (%v)", r.Connections, r.ConnectFailed, r.ConnectRate, r.Errors)
		}
		if r.RSSBeforeKiB <= 0 || r.RSSAfterKiB <= 0 {
			t.Errorf("RSS before, after = %d, %d KiB; want both read", r.RSSBeforeKiB, r.RSSAfterKiB)
		}
		if r.CPUPerConnUs <= 0 || r.ClientCPUPerConnUs <= 0 {
			t.Errorf("CPU per connection: broker %v µs, load generator %v µs; want both measured", r.CPUPerConnUs, r.ClientCPUPerConnUs)
		}
	})
	t.Run("connections refused", func(t *testing.T) {
		c := tiny(p, "connections", 0)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.Addr = ln.Addr().String()
		ln.Close() // nothing listens there now
		c.BrokerPID = 0
		start := time.Now()
		rs, err := Run(c)
		if err != nil {
			t.Fatal(err)
		}
		r := rs[0]
		if r.Connections != 0 || r.ConnectFailed != 200 || len(r.Errors) == 0 || !strings.Contains(r.Errors[0], "refused") {
			t.Errorf("connections %d, failed %d, errors %v; want 0, 200 and connection refused", r.Connections, r.ConnectFailed, r.Errors)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("took %v to count 200 refusals, want at once", took)
		}
	})
	t.Run("admin", func(t *testing.T) {
		rs, err := Run(tiny(p, "admin", 1))
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != len(adminAPIs) {
			t.Fatalf("got %d results, want one per API (%d)", len(rs), len(adminAPIs))
		}
		for _, r := range rs {
			if r.Accepted == 0 || r.Failed != 0 || len(r.Errors) > 0 {
				t.Errorf("%s: %d accepted, %d throttled, %d failed (%v); want some accepted, none failed",
					r.Variant, r.Accepted, r.Throttled, r.Failed, r.Errors)
			}
			if r.LoadLost != 0 || r.LoadRate <= 0 {
				t.Errorf("%s: the QoS 1 load lost %d at %v msg/s; want none lost", r.Variant, r.LoadLost, r.LoadRate)
			}
		}
	})
	// Both probe clients: each worker's own thread and blocking socket
	// (locked), and net/http.
	for _, client := range []string{"locked", "http"} {
		t.Run("admin without load/"+client, func(t *testing.T) {
			c := tiny(p, "admin", 1)
			c.AdminLoad, c.AdminClient = "none", client
			rs, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Accepted == 0 || r.Failed != 0 || len(r.Errors) > 0 {
					t.Errorf("%s: %d accepted, %d failed (%v); want the idle pairs' clients found online",
						r.Variant, r.Accepted, r.Failed, r.Errors)
				}
				if r.Sent != 0 || r.LoadRate != 0 {
					t.Errorf("%s: sent %d at %v msg/s; want the pairs idle", r.Variant, r.Sent, r.LoadRate)
				}
				if r.ClientCPU <= 0 || r.P50 <= 0 {
					t.Errorf("%s: probe CPU %v cores, p50 %v µs; want both measured", r.Variant, r.ClientCPU, r.P50)
				}
			}
		})
	}
}

func TestRelayBaseline(t *testing.T) {
	longtest.Skip(t, "runs load through the relay")
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq-relay")
	p := startTarget(t, RelayTarget(bin, false))
	for _, scen := range []string{"fanin", "fanout", "pairs"} {
		t.Run(scen, func(t *testing.T) {
			c := tiny(p, scen, 0)
			c.Relay, c.Target = true, "relay"
			rs, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.Delivered == 0 || r.Lost != 0 || r.Duplicates != 0 || len(r.Errors) > 0 {
				t.Errorf("delivered %d, lost %d, duplicates %d, errors %v; want all delivered once",
					r.Delivered, r.Lost, r.Duplicates, r.Errors)
			}
		})
	}
}

func TestCompareReport(t *testing.T) {
	longtest.Skip(t, "runs load against two brokers")
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq")
	base := DefaultConfig()
	base.Duration, base.Count, base.Pairs = 200*time.Millisecond, 1000, 2
	var jsonl, log bytes.Buffer
	dir := t.TempDir()
	rs, err := Compare(CompareConfig{Mode: "free", Reps: 2, Base: base, Dir: dir, Out: &jsonl, Log: &log,
		Targets: []Target{GlassmqTarget(bin, false, Limits{Inflight: 32, Queued: 1000}), GlassmqTarget(bin, true, Limits{Inflight: 32, Queued: 1000})},
		Cases:   []Case{{Scenario: "pairs", QoS: 1, Payload: 16}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 || strings.Count(log.String(), "\n") != 4 {
		t.Fatalf("got %d results and log\n%s\nwant 4 runs: 2 reps of 2 targets", len(rs), log.String())
	}
	back, err := ReadResults(&jsonl)
	if err != nil || len(back) != 4 || back[3].Rep != 2 || back[3].Mode != "free" {
		t.Fatalf("ReadResults: %d results, %v; want 4 with rep and mode", len(back), err)
	}
	back[1].Target, back[3].Target = "mosquitto", "mosquitto" // as if the second were Mosquitto
	var md bytes.Buffer
	WriteSummary(&md, back, "glassmq", "mosquitto", "relay")
	if !strings.Contains(md.String(), "| pairs | 1 | 16 B |") || !strings.Contains(md.String(), "×") {
		t.Errorf("summary has no pairs row with a ratio:\n%s", md.String())
	}
	png := filepath.Join(dir, "chart.png")
	if err := WriteChart(png, "test", back, []string{"glassmq", "mosquitto", "relay"}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("chart: %v, not a PNG", err)
	}
}
