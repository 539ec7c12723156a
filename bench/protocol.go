package bench

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// The protocol a run's clients speak: Config.Protocol. At 5 the throughput
// scenarios (fanin, fanout, pairs, latency) connect as MQTT 5.0 clients:
// the CONNECT is level 5, PUBLISH and SUBSCRIBE carry an empty property
// block, and the CONNACK, SUBACK, PUBLISH and acknowledgements received are
// decoded with 5.0's rules (an acknowledgement may carry a reason code and
// properties). A scenario named with the suffix v5Suffix ("pairs-v5") is
// the scenario at protocol 5, and its results carry that name, so a
// comparison reports them in rows of their own beside 3.1.1's.
const (
	Protocol311 = 4 // MQTT 3.1.1, the default
	Protocol5   = 5 // MQTT 5.0
	v5Suffix    = "-v5"
)

// v5Scenarios are the scenarios that can run at protocol 5.
var v5Scenarios = []string{"fanin", "fanout", "pairs", "latency"}

// baseScenario returns the scenario c runs and the protocol its clients
// speak: "pairs-v5" is pairs at 5, any other name is itself at c.Protocol
// (0 meaning 3.1.1).
func (c *Config) baseScenario() (scenario string, protocol byte) {
	if base, ok := strings.CutSuffix(c.Scenario, v5Suffix); ok && slices.Contains(v5Scenarios, base) {
		return base, Protocol5
	}
	if c.Protocol == 0 {
		return c.Scenario, Protocol311
	}
	return c.Scenario, c.Protocol
}

// validateProtocol adds the problems of c's protocol settings.
func (c *Config) validateProtocol(bad func(flag string, v any, why string)) {
	scenario, protocol := c.baseScenario()
	switch {
	case protocol != Protocol311 && protocol != Protocol5:
		bad("protocol", protocol, "want 4 (MQTT 3.1.1) or 5 (MQTT 5.0)")
	case protocol == Protocol5 && !slices.Contains(v5Scenarios, scenario):
		bad("protocol", protocol, "the "+scenario+" scenario speaks MQTT 3.1.1 only; 5 is for "+strings.Join(v5Scenarios, ", "))
	case protocol == Protocol5 && c.Relay:
		bad("protocol", protocol, "the relay forwards bytes and speaks no MQTT: want 4")
	}
}

// readConnack5 reads one MQTT 5.0 CONNACK from c, byte by byte up to its
// end (nothing after it is consumed), and returns an error unless it
// accepts the connection.
func readConnack5(c net.Conn) error {
	hdr := make([]byte, 2, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return fmt.Errorf("CONNACK: %w", err)
	}
	for hdr[len(hdr)-1]&0x80 != 0 && len(hdr) < 5 { // remaining length continues
		b := []byte{0}
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("CONNACK: %w", err)
		}
		hdr = append(hdr, b[0])
	}
	rem, mul := 0, 1
	for _, b := range hdr[1:] {
		rem += int(b&0x7f) * mul
		mul <<= 7
	}
	if rem > 1<<16 {
		return fmt.Errorf("CONNACK of %d bytes, want a small one", rem)
	}
	pkt := append(hdr, make([]byte, rem)...)
	if _, err := io.ReadFull(c, pkt[len(hdr):]); err != nil {
		return fmt.Errorf("CONNACK: %w", err)
	}
	var ack codec.Connack
	if _, err := ack.DecodeV(pkt, codec.ProtocolLevel5); err != nil {
		return err
	}
	if ack.ReturnCode != 0 {
		return fmt.Errorf("CONNACK reason code %#02x", ack.ReturnCode)
	}
	return nil
}

// subscribeV sends one SUBSCRIBE for topic at qos at protocol level level
// (4 or 5) and waits for its SUBACK granting qos.
func subscribeV(c net.Conn, topic string, qos, level byte, deadline time.Time) error {
	_ = c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	subs := []codec.Subscription{{TopicFilter: []byte(topic), QoS: qos}}
	pkt := codec.AppendSubscribe(nil, 1, subs)
	if level == Protocol5 {
		pkt = codec.AppendSubscribeV5(nil, 1, &codec.Properties{}, subs)
	}
	if _, err := c.Write(pkt); err != nil {
		return err
	}
	buf := make([]byte, 0, 64)
	tmp := make([]byte, 64)
	for {
		n, err := c.Read(tmp)
		if err != nil {
			return fmt.Errorf("SUBACK: %w", err)
		}
		buf = append(buf, tmp[:n]...)
		size, err := codec.Frame(buf, 0)
		if err != nil {
			return err
		}
		if size == 0 {
			continue
		}
		if t := codec.PacketType(buf); t != codec.TypeSuback {
			return fmt.Errorf("got %v, want SUBACK", t)
		}
		var ack codec.Suback
		if _, err := ack.DecodeV(buf[:size], level); err != nil {
			return err
		}
		if len(ack.ReturnCodes) != 1 || ack.ReturnCodes[0] != qos {
			return fmt.Errorf("SUBACK codes %x, want [%02x]", ack.ReturnCodes, qos)
		}
		return nil
	}
}
