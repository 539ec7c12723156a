package bench

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// publisher sends numbered messages to one topic over one connection. Its
// writer runs in send; its reader, in readAcks, handles PUBACK, PUBREC and
// PUBCOMP and frees window slots. QoS 1 and 2 keep at most window messages
// unacknowledged; a QoS 2 message holds its slot until PUBCOMP.
type publisher struct {
	index   uint32
	conn    net.Conn
	topic   []byte
	qos     byte
	payload int
	window  int
	v5      bool    // MQTT 5.0: PUBLISH with an empty property block, acks decoded with 5.0 rules
	count   uint64  // most messages to send
	rate    float64 // messages per second; 0 means as fast as possible
	clock   *clock
	// gate, when not nil, says whether the receiving side keeps up: send
	// waits while it returns false (the run's backlog bound).
	gate func() bool

	sent     atomic.Uint64 // messages written
	acked    atomic.Uint64 // PUBACKs (QoS 1) or PUBCOMPs (QoS 2)
	inflight atomic.Int64
	wake     chan struct{} // a slot was freed
	stop     atomic.Bool   // set by the run when its time is up
	errs     atomic.Uint64 // acknowledgements that match nothing in flight

	wmu sync.Mutex // serialises writes: the writer's batches and the reader's PUBRELs
	// state is each packet ID's step in its flow, 0 when free; written by
	// send (0 -> 1) and by readAcks (1 -> 2 -> 0).
	state []atomic.Uint32
}

func newPublisher(index uint32, conn net.Conn, topic string, qos byte, payload, window int, count uint64, rate float64, clk *clock) *publisher {
	p := &publisher{index: index, conn: conn, topic: []byte(topic), qos: qos, payload: payload,
		window: window, count: count, rate: rate, clock: clk, wake: make(chan struct{}, 1)}
	if qos > 0 {
		p.state = make([]atomic.Uint32, 1<<16)
	}
	return p
}

// send writes messages until count are sent or p.stop is set, then, for QoS
// 1 and 2, waits until every message is acknowledged or drainUntil passes.
func (p *publisher) send(drainUntil time.Time) error {
	payload := make([]byte, p.payload)
	for i := MinPayload; i < len(payload); i++ {
		payload[i] = 'x'
	}
	msg := &codec.Publish{QoS: p.qos, TopicName: p.topic, PacketID: 1, Payload: payload}
	tmpl := codec.AppendPublish(nil, msg)
	size := len(tmpl)
	payloadAt := size - p.payload
	idAt := payloadAt - 2 // the packet ID is just before the payload
	if p.v5 {
		tmpl = codec.AppendPublishV5(nil, msg)
		size = len(tmpl)
		payloadAt = size - p.payload
		idAt = payloadAt - 3 // then the property length, 0
	}
	perBatch := max(1, writeBatch/size)
	batch := make([]byte, 0, perBatch*size)
	var seq uint64
	id := uint16(0)
	start := p.clock.now()
	for seq < p.count && !p.stop.Load() {
		if p.gate != nil && !p.gate() {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		n := min(uint64(perBatch), p.count-seq)
		if p.rate > 0 {
			due := uint64(float64(p.clock.now()-start)*p.rate/1e9) + 1
			if due <= seq {
				next := start + int64(float64(seq)*1e9/p.rate)
				time.Sleep(time.Duration(next - p.clock.now()))
				continue
			}
			n = min(n, due-seq)
		}
		if p.qos > 0 {
			free := int64(p.window) - p.inflight.Load()
			if free <= 0 {
				select {
				case <-p.wake:
				case <-time.After(50 * time.Millisecond): // recheck stop
				}
				continue
			}
			n = min(n, uint64(free))
		}
		batch = batch[:0]
		now := p.clock.now()
		for range n {
			at := len(batch)
			batch = append(batch, tmpl...)
			if p.qos > 0 {
				id = p.nextID(id)
				batch[at+idAt] = byte(id >> 8)
				batch[at+idAt+1] = byte(id)
			}
			putHeader(batch[at+payloadAt:], p.index, uint32(seq), now)
			seq++
		}
		if p.qos > 0 {
			p.inflight.Add(int64(n))
		}
		p.wmu.Lock()
		_, err := p.conn.Write(batch)
		p.wmu.Unlock()
		if err != nil {
			return fmt.Errorf("publisher %d: %w", p.index, err)
		}
		p.sent.Add(n)
	}
	if p.qos == 0 {
		return nil
	}
	for p.inflight.Load() > 0 {
		if time.Now().After(drainUntil) {
			return fmt.Errorf("publisher %d: %d messages unacknowledged at the drain deadline", p.index, p.inflight.Load())
		}
		select {
		case <-p.wake:
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// nextID returns the packet ID after prev that is free, marking it in use.
// It waits while the window holds every candidate, which a broker acking
// out of order could cause.
func (p *publisher) nextID(prev uint16) uint16 {
	for {
		prev++
		if prev == 0 {
			prev = 1
		}
		if p.state[prev].CompareAndSwap(0, 1) {
			return prev
		}
	}
}

// readAcks handles the broker's acknowledgements until the connection closes.
func (p *publisher) readAcks() error {
	var out []byte
	var ack codec.Ack
	err := readLoop(p.conn, p.clock, func(pkt []byte, _ int64) error {
		switch codec.PacketType(pkt) {
		case codec.TypePuback, codec.TypePubrec, codec.TypePubcomp:
		case codec.TypePingresp:
			return nil
		default:
			return fmt.Errorf("publisher %d: unexpected %v", p.index, codec.PacketType(pkt))
		}
		if p.v5 {
			if _, err := ack.DecodeV(pkt, codec.ProtocolLevel5); err != nil {
				return err
			}
			if ack.ReasonCode >= 0x80 { // refused: the message ends here, counted as an error
				p.errs.Add(1)
			}
		} else if _, err := ack.Decode(pkt); err != nil {
			return err
		}
		if p.state == nil {
			p.errs.Add(1)
			return nil
		}
		st := &p.state[ack.PacketID]
		switch {
		case ack.Type == codec.TypePuback && p.qos == 1 && st.CompareAndSwap(1, 0),
			ack.Type == codec.TypePubcomp && p.qos == 2 && st.CompareAndSwap(2, 0):
			p.acked.Add(1)
			p.inflight.Add(-1)
			select {
			case p.wake <- struct{}{}:
			default:
			}
		case ack.Type == codec.TypePubrec && p.qos == 2 && st.CompareAndSwap(1, 2):
			out = codec.AppendPubrel(out, ack.PacketID)
		case ack.Type == codec.TypePubrec && p.qos == 2 && st.Load() == 2:
			out = codec.AppendPubrel(out, ack.PacketID) // a repeated PUBREC is answered again
		default:
			p.errs.Add(1)
		}
		return nil
	}, func() error {
		if len(out) == 0 {
			return nil
		}
		p.wmu.Lock()
		_, err := p.conn.Write(out)
		p.wmu.Unlock()
		out = out[:0]
		return err
	})
	if p.stop.Load() && errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
