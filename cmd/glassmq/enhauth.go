package main

import (
	"github.com/glassmq/glassmq/auth"
	"github.com/glassmq/glassmq/broker"
)

// scramMethods offers MQTT 5.0 enhanced authentication with SCRAM-SHA-256
// against the password file in force (broker.EnhancedAuth); a SIGHUP
// reload applies to the conversations that start after it.
type scramMethods struct{ *auth.Checker }

// Start begins a SCRAM-SHA-256 conversation, or returns nil for any other
// method.
func (m scramMethods) Start(method string) broker.AuthExchange {
	if method != auth.SCRAMSHA256 {
		return nil
	}
	if s := m.StartSCRAM(); s != nil {
		return s
	}
	return nil
}
