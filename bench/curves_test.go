package bench

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCurvesAgainstGlassmq runs the smallest point of each curve against a
// real glassmq: the broker holds what was put in (every probe SUBSCRIBE of
// a retained topic gets its message, or the run fails), every routed
// PUBLISH arrives, and CPU and memory are read.
func TestCurvesAgainstGlassmq(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real broker")
	}
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq")
	for _, scen := range Curves {
		t.Run(scen, func(t *testing.T) {
			p := startTarget(t, GlassmqTarget(bin, false, Limits{Inflight: 32, Queued: 100_000}))
			c := tiny(p, scen, 0)
			c.CurveSize = 2500 // three holders of subscriptions, the last one partly full
			if scen == "curve-fanout" {
				c.CurveSize = 50 // 400 messages to each of 50 subscribers
			}
			rs, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.Delivered != curveRoutes || len(r.Errors) > 0 {
				t.Errorf("routed %d of %d (%v), want all", r.Delivered, curveRoutes, r.Errors)
			}
			if r.P50 <= 0 || r.P99 < r.P50 || r.CPUPerMsgUs <= 0 || r.RSSAfterKiB <= 0 || r.Variant != strconv.Itoa(c.CurveSize) {
				t.Errorf("SUBSCRIBE p50 %v p99 %v µs, %v µs CPU/msg, RSS %d KiB, variant %q; want measured",
					r.P50, r.P99, r.CPUPerMsgUs, r.RSSAfterKiB, r.Variant)
			}
		})
	}
}

func TestCurveReport(t *testing.T) {
	var rs []Result
	for _, n := range []int{1000, 10000, 100000} {
		for i, target := range []string{"glassmq", "mosquitto"} {
			rs = append(rs, Result{Mode: "pinned", Target: target, Scenario: "curve-subscriptions", Variant: strconv.Itoa(n),
				Connections: n, Delivered: curveRoutes, P50: 50 * float64(i+1), CPUPerMsgUs: 1 + float64(i*n)/1000, RSSPerConnB: 100})
		}
	}
	var md bytes.Buffer
	WriteSummary(&md, rs, "glassmq", "mosquitto", "relay")
	for _, want := range []string{"### Curve curve-subscriptions, pinned", "| 100k | 50.0 | 100.0 | 1.00 | 101.00 | 100 B | 100 B |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, md.String())
		}
	}
	paths, err := WriteCurveCharts(t.TempDir(), "pinned", rs, []string{"glassmq", "mosquitto"})
	if err != nil || len(paths) != 3 {
		t.Fatalf("WriteCurveCharts: %v, %v; want three charts", paths, err)
	}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: %v, not a PNG", p, err)
		}
	}
}
