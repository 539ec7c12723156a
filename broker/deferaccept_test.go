//go:build linux

package broker

import (
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
)

// TestDeferAccept checks TCP_DEFER_ACCEPT on the gnet listener: a client
// that has not spoken is not yet the broker's, one that sends its CONNECT is
// answered at once, and one that never speaks is still handed over and then
// closed by -connect-timeout.
func TestDeferAccept(t *testing.T) {
	longtest.Skip(t, "waits for the kernel to hand over a silent connection")
	s := startBroker(t, func(c *Config) { c.ConnectTimeout = 500 * time.Millisecond })
	conns := &s.Engine().Stats().Connections

	quiet := dialRaw(t, s)
	time.Sleep(300 * time.Millisecond)
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections open after a TCP connect with no bytes, want 0 (listener lacks TCP_DEFER_ACCEPT)", n)
	}

	start := time.Now()
	quiet.connect("defer-1", true, false)
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("CONNACK after %v, want it at once: a client that speaks must not wait for the deferral", took)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections open after CONNACK, want 1", n)
	}

	silent := dialRaw(t, s)
	// Handed over after one SYN-ACK retransmission (about 1 s), then closed
	// 0.5 s later; 5 s leaves room for a loaded machine.
	silent.expectClosed(5 * time.Second)
}
