package bench

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"remote broker", func(c *Config) { c.Addr = "10.0.0.1:1883" }, "not a loopback address"},
		{"no port", func(c *Config) { c.Addr = "127.0.0.1" }, "want host:port"},
		{"qos 3", func(c *Config) { c.QoS = 3 }, "-qos 3"},
		{"relay at qos 1", func(c *Config) { c.Relay, c.QoS = true, 1 }, "cannot acknowledge"},
		{"payload too small for the header", func(c *Config) { c.Payload = 8 }, "-payload 8"},
		{"window wraps packet IDs", func(c *Config) { c.Window = 40000 }, "-window 40000"},
		{"unknown scenario", func(c *Config) { c.Scenario = "storm" }, `-scenario "storm"`},
		{"connections on the relay", func(c *Config) { c.Relay, c.Scenario = true, "connections" }, "needs an MQTT broker"},
		{"tls on the relay", func(c *Config) { c.Relay, c.TLS = true, true }, "TLS is for"},
		{"remote subscribers", func(c *Config) { c.SubAddr = "10.0.0.1:1883" }, `-sub-addr "10.0.0.1:1883"`},
		{"subscribers' node without port", func(c *Config) { c.SubAddr = "127.0.0.1" }, "want host:port"},
		{"subscribers' node for connections", func(c *Config) { c.SubAddr, c.Scenario = "127.0.0.1:1884", "connections" }, "is for -scenario fanin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	c.Publishers, c.Pairs = 0, 0
	if err := c.Validate(); err == nil || len(strings.Split(err.Error(), "\n")) != 2 {
		t.Errorf("two bad fields: %v, want both reported", err)
	}
}
