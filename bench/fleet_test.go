package bench

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestValidateFleet(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no devices", func(c *Config) { c.Devices = 0 }, "-devices 0"},
		{"no rate", func(c *Config) { c.DeviceRate = 0 }, "-device-rate 0"},
		{"no commands", func(c *Config) { c.CommandRate = 0 }, ""},
		{"no backend", func(c *Config) { c.Backends = 0 }, "-backends 0"},
		{"qos 2", func(c *Config) { c.QoS = 2 }, "QoS 0 or 1"},
		{"wildcard root", func(c *Config) { c.TopicRoot = "dev/#" }, "-topic-root"},
		{"tls", func(c *Config) { c.TLS = true }, "no -tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Scenario, c.QoS = "fleet", 1
			tc.edit(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestFleetAgainstGlassmq runs a small fleet against a real glassmq: every
// telemetry message reaches both backends once, every command its device,
// and the broker's CPU and memory and the load generator's CPU are read.
func TestFleetAgainstGlassmq(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real broker")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the fleet scenario needs Linux")
	}
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq")
	p := startTarget(t, GlassmqTarget(bin, false, Limits{Inflight: 32, Queued: 100_000}))
	for _, qos := range []byte{0, 1} {
		t.Run("qos"+string('0'+qos), func(t *testing.T) {
			c := tiny(p, "fleet", qos)
			c.Devices, c.DeviceRate, c.CommandRate, c.Backends = 300, 20, 2, 2
			c.FleetDuration = time.Second
			rs, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if len(r.Errors) > 0 {
				t.Errorf("errors: %v", r.Errors)
			}
			if r.Connections != 300 || r.Subscribers != 2 {
				t.Errorf("%d devices, %d backends; want 300 and 2", r.Connections, r.Subscribers)
			}
			// 300 devices at 20 msg/s for 1 s, spread over the period: 6000
			// sends on schedule, give or take the last period's rounding.
			if r.Sent < 5900 || r.Sent > 6000 {
				t.Errorf("sent %d telemetry messages, want about 6000 (300 devices x 20 msg/s x 1 s)", r.Sent)
			}
			if r.Expected != 2*r.Sent || r.Delivered != r.Expected || r.Lost != 0 || r.Duplicates != 0 || r.Reordered != 0 {
				t.Errorf("telemetry: sent %d, expected %d, delivered %d, lost %d, dup %d, reordered %d; want each at both backends once, in order",
					r.Sent, r.Expected, r.Delivered, r.Lost, r.Duplicates, r.Reordered)
			}
			if r.CmdSent < 500 || r.CmdDelivered != r.CmdSent || r.CmdLost != 0 {
				t.Errorf("commands: sent %d, delivered %d, lost %d; want about 600, all delivered", r.CmdSent, r.CmdDelivered, r.CmdLost)
			}
			if r.P50 <= 0 || r.P99 < r.P50 || r.P999 < r.P99 || r.CmdP50 <= 0 {
				t.Errorf("latency p50 %v, p99 %v, p99.9 %v, command p50 %v µs; want positive and ordered", r.P50, r.P99, r.P999, r.CmdP50)
			}
			if r.CPUPerMsgUs <= 0 || r.MsgPerCPUSecond <= 0 || r.ClientCPU <= 0 || r.RSSAfterKiB <= 0 {
				t.Errorf("broker CPU %v µs/msg, %v msg/CPU-s, load generator %v cores, RSS %d KiB; want all measured",
					r.CPUPerMsgUs, r.MsgPerCPUSecond, r.ClientCPU, r.RSSAfterKiB)
			}
			if r.Skipped != 0 {
				t.Errorf("%d sends skipped with a full window at 20 msg/s per device", r.Skipped)
			}
		})
	}
}

func TestFleetSummary(t *testing.T) {
	var rs []Result
	for rep, v := range [][2]float64{{4, 12}, {5, 10}, {6, 11}} { // glassmq, mosquitto µs/msg
		for i, target := range []string{"glassmq", "mosquitto"} {
			rs = append(rs, Result{Mode: "pinned", Target: target, Scenario: "fleet", Variant: "2000 devices", QoS: 1, Payload: 16,
				Rep: rep + 1, Connections: 2000, Delivered: 40000, Rate: 4000, OfferedRate: 2000, CPUPerMsgUs: v[i],
				MsgPerCPUSecond: 1e6 / v[i], P50: 100, P99: 200 * float64(i+1), P999: 900, RSSPerConnB: 1000 * float64(i+1), ClientCPU: 0.1})
		}
	}
	rs[1].Lost = 7
	var b strings.Builder
	WriteSummary(&b, rs, "glassmq", "mosquitto", "relay")
	md := b.String()
	for _, want := range []string{
		"### Fleet, pinned",
		"| glassmq | 1 | 2000 | 2k | 4k (4k–4k) | 5.00 (4.00–6.00) | 200k (167k–250k) |",
		"| mosquitto | 1 | 2000 | 2k | 4k (4k–4k) | 11.00 (10.00–12.00) | 90.9k (83.3k–100k) |",
		"| 7 | 0 |", // mosquitto's lost messages, summed over reps
		"| glassmq/mosquitto | 1 | 2000 devices | | | 0.455× | | | 0.5× | | | 0.5× |", // CPU, p99 and RSS ratios of medians
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}
