package bench

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
)

// TestProtocolValidate: -protocol takes 4 or 5, and 5 only where the
// clients can speak it; "pairs-v5" is pairs at 5.
func TestProtocolValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"default is 3.1.1", func(c *Config) {}, ""},
		{"pairs at 5", func(c *Config) { c.Protocol = 5 }, ""},
		{"pairs-v5", func(c *Config) { c.Scenario = "pairs-v5" }, ""},
		{"fanout-v5", func(c *Config) { c.Scenario = "fanout-v5" }, ""},
		{"level 3", func(c *Config) { c.Protocol = 3 }, "-protocol 3: want 4 (MQTT 3.1.1) or 5 (MQTT 5.0)"},
		{"connections at 5", func(c *Config) { c.Scenario, c.Protocol = "connections", 5 }, "-protocol 5: the connections scenario speaks MQTT 3.1.1 only"},
		{"fleet-v5 is no scenario", func(c *Config) { c.Scenario = "fleet-v5" }, `-scenario "fleet-v5"`},
		{"relay at 5", func(c *Config) { c.Relay, c.Protocol = true, 5 }, "the relay forwards bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestProtocolPackets: at protocol 5 the CONNECT is a valid 5.0 CONNECT
// and the publisher's packet ID lands where 5.0 puts it, before the
// property length [MQTT5-3.3.2.2].
func TestProtocolPackets(t *testing.T) {
	c := DefaultConfig()
	c.Protocol = Protocol5
	var p codec.Connect
	if _, err := p.DecodeV(c.connectPacket(nil, []byte("b5")), codec.ProtocolLevel5); err != nil || p.ProtocolLevel != 5 || !p.CleanSession {
		t.Fatalf("CONNECT: level %d clean %v err %v; want 5, true, nil", p.ProtocolLevel, p.CleanSession, err)
	}
	c.Protocol = Protocol311
	if _, err := p.DecodeV(c.connectPacket(nil, []byte("b4")), codec.ProtocolLevel5); err != nil || p.ProtocolLevel != 4 {
		t.Fatalf("CONNECT at 4: level %d err %v", p.ProtocolLevel, err)
	}
}

// TestV5AgainstGlassmq runs the throughput scenarios with MQTT 5.0 clients
// against a real glassmq and, when it is installed, Debian's Mosquitto:
// nothing lost, repeated or reordered at QoS 1 and 2, the broker's CPU per
// message measured, and the results named "<scenario>-v5".
func TestV5AgainstGlassmq(t *testing.T) {
	longtest.Skip(t, "runs the 5.0 scenarios against real brokers")
	bin := build(t, "github.com/glassmq/glassmq/cmd/glassmq")
	targets := []Target{GlassmqTarget(bin, false, Limits{Inflight: 32, Queued: 100_000})}
	if mq, err := exec.LookPath("mosquitto"); err == nil {
		targets = append(targets, MosquittoTarget(mq, Limits{Inflight: 32, Queued: 100_000}))
	} else {
		t.Log("mosquitto not installed: glassmq only (apt-get install -y mosquitto)")
	}
	for _, tg := range targets {
		p := startTarget(t, tg)
		for _, scen := range []string{"pairs-v5", "fanout-v5", "fanin-v5", "latency-v5"} {
			for qos := range byte(3) {
				t.Run(tg.Name+"/"+scen+"/qos"+string('0'+qos), func(t *testing.T) {
					c := tiny(p, scen, qos)
					c.Target = tg.Name
					rs, err := Run(c)
					if err != nil {
						t.Fatal(err)
					}
					r := rs[0]
					if r.Scenario != scen {
						t.Errorf("result scenario %q, want %q", r.Scenario, scen)
					}
					if r.Sent == 0 || r.Delivered == 0 || len(r.Errors) > 0 {
						t.Fatalf("sent %d, delivered %d, errors %v; want both > 0 and no errors", r.Sent, r.Delivered, r.Errors)
					}
					if qos > 0 && (r.Lost != 0 || r.Duplicates != 0 || r.Delivered != r.Expected) {
						t.Errorf("QoS %d: lost %d, duplicates %d, delivered %d of %d; want none lost or repeated",
							qos, r.Lost, r.Duplicates, r.Delivered, r.Expected)
					}
					if r.Reordered != 0 {
						t.Errorf("reordered %d, want 0", r.Reordered)
					}
					if r.CPUPerMsgUs <= 0 {
						t.Errorf("broker CPU per message %v µs, want it measured (> 0)", r.CPUPerMsgUs)
					}
				})
			}
		}
	}
}
