package bench

import (
	"fmt"
	"net"
	"sync/atomic"

	"github.com/glassmq/glassmq/codec"
)

// subscriber receives numbered messages on one connection, acknowledges
// QoS 1 and 2 as the standard asks, and accounts for each message in its
// Tracker and its latency Histogram. Everything but the atomics belongs to
// the goroutine running receive until it returns.
type subscriber struct {
	index   int
	conn    net.Conn
	clock   *clock
	tracker *Tracker
	latency Histogram
	v5      bool // MQTT 5.0: PUBLISH and PUBREL decoded with 5.0 rules

	unique   atomic.Uint64 // distinct messages so far, for progress and the end test
	first    atomic.Int64  // arrival of the first message, ns since the epoch; 0 before
	last     atomic.Int64  // arrival of the latest message
	errs     atomic.Uint64 // PUBRELs for no message, malformed payloads
	stopping atomic.Bool
}

func newSubscriber(index int, conn net.Conn, clk *clock, publishers, sizeHint int) *subscriber {
	return &subscriber{index: index, conn: conn, clock: clk, tracker: NewTracker(publishers, sizeHint)}
}

// receive reads until the connection is closed.
func (s *subscriber) receive() error {
	var out []byte
	var pub codec.Publish
	var ack codec.Ack
	level := byte(codec.ProtocolLevel311)
	if s.v5 {
		level = codec.ProtocolLevel5
	}
	err := readLoop(s.conn, s.clock, func(pkt []byte, now int64) error {
		switch codec.PacketType(pkt) {
		case codec.TypePublish:
			if s.v5 {
				if _, err := pub.DecodeFromServer(pkt, codec.ProtocolLevel5); err != nil {
					return err
				}
			} else if _, err := pub.Decode(pkt); err != nil {
				return err
			}
			switch pub.QoS {
			case 1:
				out = codec.AppendPuback(out, pub.PacketID)
			case 2:
				out = codec.AppendPubrec(out, pub.PacketID)
			}
			idx, seq, sent, ok := header(pub.Payload)
			if ok && idx == probePublisher {
				return nil // a late copy of crossnode's readiness probe
			}
			if !ok {
				s.errs.Add(1)
				return nil
			}
			if s.tracker.Record(idx, seq) {
				s.latency.Record(now - sent)
				if s.first.Load() == 0 {
					s.first.Store(max(now, 1))
				}
				s.last.Store(now)
				s.unique.Add(1)
			}
		case codec.TypePubrel:
			if _, err := ack.DecodeV(pkt, level); err != nil {
				return err
			}
			out = codec.AppendPubcomp(out, ack.PacketID)
		case codec.TypePingresp:
		default:
			return fmt.Errorf("subscriber %d: unexpected %v", s.index, codec.PacketType(pkt))
		}
		return nil
	}, func() error {
		if len(out) == 0 {
			return nil
		}
		_, err := s.conn.Write(out)
		out = out[:0]
		return err
	})
	if s.stopping.Load() {
		return nil
	}
	return err
}
