package bench

import (
	"bytes"
	"strings"
	"testing"
)

// TestProtocolSummary: a comparison with pairs at 3.1.1 and at 5.0 gets
// pairs-v5 rows in its throughput table and a table of 5.0 against 3.1.1
// per target, throughput and broker CPU per message (– where not
// measured), with the ratios of medians; without pairs-v5 there is none.
func TestProtocolSummary(t *testing.T) {
	var rs []Result
	for _, target := range []string{"glassmq", "mosquitto"} {
		for _, scen := range []string{"pairs", "pairs-v5"} {
			for rep, rate := range []float64{1e6, 2e6, 3e6} {
				if scen == "pairs-v5" {
					rate *= 0.9
				}
				r := Result{Mode: "pinned", Target: target, Scenario: scen, QoS: 1, Payload: 16, Rep: rep + 1,
					Rate: rate, Delivered: 100, Expected: 100}
				if target == "glassmq" { // mosquitto's CPU not measured
					r.CPUPerMsgUs = 0.3 + 0.1*float64(rep)
					if scen == "pairs-v5" {
						r.CPUPerMsgUs *= 1.1
					}
				}
				rs = append(rs, r)
			}
		}
	}
	var md bytes.Buffer
	WriteSummary(&md, rs, "glassmq", "mosquitto", "relay")
	out := md.String()
	for _, want := range []string{
		"| pairs-v5 | 1 | 16 B | 1.8M (900k–2.7M) |",
		"### MQTT 5.0 clients against 3.1.1, pinned",
		"| 1 | 16 B | glassmq | 2M (1M–3M) | 1.8M (900k–2.7M) | 0.9× | 0.400 (0.300–0.500) | 0.440 (0.330–0.550) | 1.1× |",
		"| 1 | 16 B | mosquitto | 2M (1M–3M) | 1.8M (900k–2.7M) | 0.9× | – | – | – |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	md.Reset()
	WriteSummary(&md, rs[:3], "glassmq", "mosquitto", "relay")
	if strings.Contains(md.String(), "MQTT 5.0") {
		t.Errorf("3.1.1 pairs alone: summary has a 5.0 table:\n%s", md.String())
	}
}
