package bench

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// readBuffer is the size of each connection's read buffer: big reads, so one
// system call brings in hundreds of small packets.
const readBuffer = 256 << 10

// writeBatch is how many bytes of packets a publisher gathers per write.
const writeBatch = 64 << 10

// dial opens a TCP connection to addr, with Nagle off (Go's default) and
// the kernel's socket buffer sizes (the reads use big user-space buffers,
// readBuffer).
func dial(addr string, timeout time.Duration) (*net.TCPConn, error) {
	// No TCP keep-alive (four setsockopt calls per dial that a bounded,
	// loopback run never needs); Go sets TCP_NODELAY on every TCP conn.
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// dialFlow opens a connection of a throughput scenario: TCP, or TLS over it
// when c.TLS is set, with the settings of tlsConfig.
func (c *Config) dialFlow(timeout time.Duration) (net.Conn, error) {
	return c.dialFlowTo(c.Addr, timeout)
}

// dialFlowTo is dialFlow to addr: c.Addr, or c.SubAddr for the subscribers
// of a cross-node run.
func (c *Config) dialFlowTo(addr string, timeout time.Duration) (net.Conn, error) {
	tlsc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	tc, err := dial(addr, timeout)
	if err != nil || !c.TLS {
		return tc, err
	}
	conn := tls.Client(tc, tlsc)
	conn.SetDeadline(time.Now().Add(timeout))
	if err := conn.Handshake(); err != nil {
		tc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// handshake makes c a session for clientID: CONNECT with a clean session,
// keep-alive off and cfg's credentials, then wait for the CONNACK. With
// cfg.Relay set, it sends the relay's hello instead (see cmd/glassmq-relay)
// and waits for "OK".
func handshake(c net.Conn, clientID string, cfg *Config, role, topic string, deadline time.Time) error {
	relay := cfg.Relay
	_ = c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	if relay {
		if _, err := fmt.Fprintf(c, "RELAY %s %s\n", role, topic); err != nil {
			return err
		}
		ok := make([]byte, 3) // exactly "OK\n": nothing after it may be consumed here
		if _, err := io.ReadFull(c, ok); err != nil {
			return fmt.Errorf("relay hello: %w", err)
		}
		if string(ok) != "OK\n" {
			return fmt.Errorf("relay hello: got %q, want \"OK\\n\"", ok)
		}
		return nil
	}
	pkt := cfg.connectPacket(nil, []byte(clientID))
	if _, err := c.Write(pkt); err != nil {
		return err
	}
	if cfg.Protocol == Protocol5 {
		return readConnack5(c)
	}
	var ack codec.Connack
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("CONNACK: %w", err)
	}
	if _, err := ack.Decode(buf); err != nil {
		return err
	}
	if ack.ReturnCode != codec.Accepted {
		return fmt.Errorf("CONNACK return code %#02x", ack.ReturnCode)
	}
	return nil
}

// subscribe sends one 3.1.1 SUBSCRIBE for topic at qos and waits for its
// SUBACK (subscribeV at level 4).
func subscribe(c net.Conn, topic string, qos byte, deadline time.Time) error {
	return subscribeV(c, topic, qos, Protocol311, deadline)
}

// errStop is returned by a packet handler to end readLoop without an error.
var errStop = errors.New("bench: stop")

// readLoop reads c in big chunks until an error, calls handle for each whole
// packet, in order, with a view valid until handle returns, and calls flush
// after each chunk so that replies gathered by handle go out in one write.
// now is the time of the chunk's arrival in nanoseconds since the run's epoch.
func readLoop(c net.Conn, clock *clock, handle func(pkt []byte, now int64) error, flush func() error) error {
	buf := make([]byte, readBuffer)
	r, w := 0, 0
	for {
		n, err := c.Read(buf[w:])
		if n > 0 {
			w += n
			now := clock.now()
			for r < w {
				size, ferr := codec.Frame(buf[r:w], 0)
				if ferr != nil {
					return ferr
				}
				if size == 0 {
					break
				}
				if herr := handle(buf[r:r+size], now); herr != nil {
					if herr == errStop {
						return nil
					}
					return herr
				}
				r += size
			}
			if flush != nil {
				if ferr := flush(); ferr != nil {
					return ferr
				}
			}
			if r == w {
				r, w = 0, 0
			} else if w == len(buf) {
				if r == 0 { // one packet larger than the buffer
					buf = append(buf, make([]byte, len(buf))...)
				} else {
					w = copy(buf, buf[r:w])
					r = 0
				}
			}
		}
		if err != nil {
			return err
		}
	}
}

// clock gives times in nanoseconds since an epoch, from the monotonic clock.
type clock struct{ epoch time.Time }

func newClock() *clock { return &clock{epoch: time.Now()} }

func (c *clock) now() int64 { return int64(time.Since(c.epoch)) }
