package bench

import (
	"fmt"
	"time"
)

// validateFleet adds the problems of the fleet settings.
func (c *Config) validateFleet(bad func(flag string, v any, why string)) {
	if c.Scenario != "fleet" {
		return
	}
	if c.Devices < 1 || c.Devices > 1_000_000 {
		bad("devices", c.Devices, "want 1 to 1000000")
	}
	if c.DeviceRate <= 0 || c.DeviceRate > 1000 {
		bad("device-rate", c.DeviceRate, "want more than 0 and at most 1000 messages per second per device")
	}
	if c.CommandRate < 0 || c.CommandRate > 1000 {
		bad("command-rate", c.CommandRate, "want 0 to 1000 commands per second per device")
	}
	if c.Backends < 1 || c.Backends > 1000 {
		bad("backends", c.Backends, "want 1 to 1000")
	}
	if c.FleetDuration <= 0 || c.FleetDuration > time.Hour {
		bad("fleet-duration", c.FleetDuration, "want more than 0 and at most 1h")
	}
	if c.QoS > 1 {
		bad("qos", c.QoS, "the fleet publishes telemetry and commands at QoS 0 or 1")
	}
	if c.TopicRoot == "" || !validRoot(c.TopicRoot) {
		bad("topic-root", fmt.Sprintf("%q", c.TopicRoot), "want a topic name without wildcards, such as dev")
	}
	if c.TLS || c.Relay {
		bad("scenario", c.Scenario, "the fleet's devices use plain TCP to an MQTT broker: no -tls, no -relay")
	}
}

func validRoot(s string) bool {
	for i := range len(s) {
		if s[i] == '+' || s[i] == '#' || s[i] == 0 {
			return false
		}
	}
	return true
}
