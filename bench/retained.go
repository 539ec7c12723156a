package bench

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// retainedProbes is how many exact-topic SUBSCRIBEs the retained scenario
// times.
const retainedProbes = 200

// runRetained is the fleet's retained state: it publishes c.Retained
// retained messages rb/<N>/<i>/state (QoS 0, c.Payload bytes each, then a
// QoS 1 PUBLISH whose PUBACK says the broker has taken them all), then
// measures
//   - exact: SUBSCRIBE to one rb/<N>/<i>/state to its retained PUBLISH,
//     retainedProbes times at random i on one connection;
//   - wildcard: SUBSCRIBE rb/<N>/+/state to the last of the N retained
//     messages, counting each one once (lost, duplicated).
//
// The topics name N, so runs of different sizes on one broker do not mix.
func runRetained(c *Config) ([]Result, error) {
	n := c.Retained
	prefix := "rb/" + strconv.Itoa(n) + "/"
	nonce := newNonce()
	exact, wild := newResult(c), newResult(c)
	exact.Variant, wild.Variant = "exact", "wildcard"

	seedRate, err := seedRetained(c, prefix, nonce)
	if err != nil {
		return nil, err
	}
	for _, r := range []*Result{&exact, &wild} {
		r.Sent, r.PubRate = uint64(n), seedRate
	}
	waitStoreIdle(c)
	if err := probeExact(c, prefix, nonce, &exact); err != nil {
		exact.addError(err)
	}
	if err := drainWildcard(c, prefix, nonce, &wild); err != nil {
		wild.addError(err)
	}
	return []Result{exact, wild}, nil
}

func retainedTopic(prefix string, i int) []byte {
	return strconv.AppendInt([]byte(prefix), int64(i), 10)
}

// seedRetained publishes the retained messages and returns the rate the
// broker took them at (messages per second, to the PUBACK).
func seedRetained(c *Config, prefix, nonce string) (float64, error) {
	conn, err := dial(c.Addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := handshake(conn, "retained-seed-"+nonce, c, "", "", time.Now().Add(5*time.Second)); err != nil {
		return 0, fmt.Errorf("bench: retained seed: %w", err)
	}
	payload := make([]byte, c.Payload)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	// QoS 1 messages (for a QoS 1 run, so deliveries are QoS 1) are
	// published in a window of seedWindow unacknowledged ones; PUBACKs are
	// read on another goroutine. The last PUBLISH is QoS 1 in any case: its
	// PUBACK comes once the broker has handled every PUBLISH before it.
	const seedWindow = 16384
	var acked atomic.Int64
	ackErr := make(chan error, 1)
	want := int64(1)
	if c.QoS > 0 {
		want += int64(c.Retained)
	}
	go func() {
		rd := newPacketReader(conn, time.Now().Add(c.Drain+time.Duration(c.Retained)*50*time.Microsecond))
		for acked.Load() < want {
			p, err := rd.next()
			if err != nil {
				ackErr <- fmt.Errorf("bench: retained seed: waiting for PUBACK %d of %d: %w", acked.Load()+1, want, err)
				return
			}
			if codec.PacketType(p) == codec.TypePuback {
				acked.Add(1)
			}
		}
		ackErr <- nil
	}()
	start := time.Now()
	buf := make([]byte, 0, writeBatch+1024)
	sent := int64(0)
	for i := range c.Retained {
		topic := append(retainedTopic(prefix, i), "/state"...)
		pub := codec.Publish{Retain: true, TopicName: topic, Payload: payload}
		if c.QoS > 0 {
			sent++
			pub.QoS, pub.PacketID = 1, uint16((sent-1)%seedWindow+1)
			if sent-acked.Load() > seedWindow { // this ID is still in flight
				if _, err := conn.Write(buf); err != nil {
					return 0, fmt.Errorf("bench: retained seed: %w after %d messages", err, i)
				}
				buf = buf[:0]
				for sent-acked.Load() > seedWindow {
					time.Sleep(50 * time.Microsecond)
				}
			}
		}
		buf = codec.AppendPublish(buf, &pub)
		if len(buf) >= writeBatch {
			if _, err := conn.Write(buf); err != nil {
				return 0, fmt.Errorf("bench: retained seed: %w after %d messages", err, i)
			}
			buf = buf[:0]
		}
	}
	buf = codec.AppendPublish(buf, &codec.Publish{QoS: 1, PacketID: seedWindow + 1, TopicName: []byte(prefix + "done"), Payload: payload})
	if _, err := conn.Write(buf); err != nil {
		return 0, fmt.Errorf("bench: retained seed: %w", err)
	}
	if err := <-ackErr; err != nil {
		return 0, err
	}
	return float64(c.Retained) / time.Since(start).Seconds(), nil
}

// probeExact times SUBSCRIBE to one exact topic up to its retained PUBLISH.
func probeExact(c *Config, prefix, nonce string, r *Result) error {
	conn, err := dial(c.Addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := handshake(conn, "retained-exact-"+nonce, c, "", "", time.Now().Add(5*time.Second)); err != nil {
		return fmt.Errorf("bench: retained exact: %w", err)
	}
	var h Histogram
	rd := newPacketReader(conn, time.Time{})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for k := range retainedProbes {
		topic := append(retainedTopic(prefix, rng.IntN(c.Retained)), "/state"...)
		sub := codec.AppendSubscribe(nil, uint16(k+1), []codec.Subscription{{TopicFilter: topic, QoS: c.QoS}})
		rd.deadline = time.Now().Add(c.Drain)
		start := time.Now()
		if _, err := conn.Write(sub); err != nil {
			return fmt.Errorf("bench: retained exact: %w", err)
		}
		for {
			p, err := rd.next()
			if err != nil {
				return fmt.Errorf("bench: retained exact: %q: %w", topic, err)
			}
			if codec.PacketType(p) != codec.TypePublish {
				continue // the SUBACK
			}
			h.Record(int64(time.Since(start)))
			r.Delivered++
			var m codec.Publish
			if _, err := m.Decode(p); err != nil || string(m.TopicName) != string(topic) || !m.Retain {
				return fmt.Errorf("bench: retained exact: got % x for %q, want its retained PUBLISH", p, topic)
			}
			if m.QoS > 0 {
				if _, err := conn.Write(codec.AppendPuback(nil, m.PacketID)); err != nil {
					return err
				}
			}
			break
		}
	}
	r.Expected = retainedProbes
	r.Requests = retainedProbes
	r.setLatency(&h)
	return nil
}

// drainWildcard times SUBSCRIBE rb/<N>/+/state to the last retained
// message, acknowledging QoS 1 as it reads.
func drainWildcard(c *Config, prefix, nonce string, r *Result) error {
	conn, err := dial(c.Addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := handshake(conn, "retained-wild-"+nonce, c, "", "", time.Now().Add(5*time.Second)); err != nil {
		return fmt.Errorf("bench: retained wildcard: %w", err)
	}
	n := c.Retained
	r.Expected = uint64(n)
	seen := make([]bool, n)
	var delivered atomic.Uint64
	prog := startProgress(c.Progress, label(c)+" wildcard", func() (uint64, uint64) { return uint64(n), delivered.Load() })
	defer prog.stop()
	start := time.Now()
	if _, err := conn.Write(codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte(prefix + "+/state"), QoS: c.QoS}})); err != nil {
		return err
	}
	rd := newPacketReader(conn, time.Time{})
	var acks []byte
	var last time.Time
	for r.Delivered < uint64(n) {
		rd.deadline = time.Now().Add(c.Drain) // c.Drain without a packet ends the run
		p, err := rd.next()
		if err != nil {
			r.Lost = uint64(n) - r.Delivered
			return fmt.Errorf("bench: retained wildcard: %w after %d of %d", err, r.Delivered, n)
		}
		if codec.PacketType(p) != codec.TypePublish {
			continue
		}
		var m codec.Publish
		if _, err := m.Decode(p); err != nil {
			return fmt.Errorf("bench: retained wildcard: %w", err)
		}
		if m.QoS > 0 {
			acks = codec.AppendPuback(acks, m.PacketID)
		}
		i, ok := retainedIndex(m.TopicName, len(prefix))
		if !ok || i >= n {
			continue // prefix+"done" is not retained; anything else is not ours
		}
		if seen[i] {
			r.Duplicates++
		} else {
			seen[i] = true
			r.Delivered++
			delivered.Store(r.Delivered)
			last = time.Now()
		}
		if rd.buffered() == 0 && len(acks) > 0 { // one write per read
			if _, err := conn.Write(acks); err != nil {
				return err
			}
			acks = acks[:0]
		}
	}
	r.Elapsed = last.Sub(start).Seconds()
	r.Rate = float64(r.Delivered) / r.Elapsed
	return nil
}

// retainedIndex parses <i> of prefix<i>/state.
func retainedIndex(topic []byte, skip int) (int, bool) {
	if len(topic) <= skip {
		return 0, false
	}
	i := 0
	k := skip
	for ; k < len(topic) && topic[k] >= '0' && topic[k] <= '9'; k++ {
		i = i*10 + int(topic[k]-'0')
	}
	return i, k > skip && string(topic[k:]) == "/state"
}

// packetReader reads whole MQTT packets from a connection in big reads.
type packetReader struct {
	conn     net.Conn
	buf      []byte
	off      int
	deadline time.Time // zero: none
}

func newPacketReader(conn net.Conn, deadline time.Time) *packetReader {
	return &packetReader{conn: conn, buf: make([]byte, 0, readBuffer), deadline: deadline}
}

// buffered returns the bytes read and not yet returned as packets.
func (p *packetReader) buffered() int { return len(p.buf) - p.off }

// next returns the next packet, valid until the following call.
func (p *packetReader) next() ([]byte, error) {
	for {
		n, err := codec.Frame(p.buf[p.off:], 0)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			pkt := p.buf[p.off : p.off+n]
			p.off += n
			return pkt, nil
		}
		// Move the partial packet to the front and read more.
		k := copy(p.buf, p.buf[p.off:])
		p.buf, p.off = p.buf[:k], 0
		if len(p.buf) == cap(p.buf) {
			p.buf = append(p.buf, make([]byte, cap(p.buf))...)[:k]
		}
		_ = p.conn.SetReadDeadline(p.deadline)
		m, err := p.conn.Read(p.buf[k:cap(p.buf)])
		p.buf = p.buf[:k+m]
		if m == 0 && err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, fmt.Errorf("connection closed")
			}
			return nil, err
		}
	}
}

// waitStoreIdle waits, at most a minute, until a glassmq target has written
// the seeded messages to its store (glassmq_store_pending_ops 0 on its
// admin port), so the timed SUBSCRIBEs do not share a pinned core with that
// write-behind. Other brokers, and a glassmq without an admin port, are
// not waited for.
func waitStoreIdle(c *Config) {
	if c.Target != "glassmq" || c.AdminAddr == "" {
		return
	}
	httpc := &http.Client{Timeout: 2 * time.Second}
	defer httpc.CloseIdleConnections()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := httpc.Get("http://" + c.AdminAddr + "/metrics")
		if err != nil {
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return
		}
		pending, found := int64(0), false
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(line, "glassmq_store_pending_ops "); ok {
				pending, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				found = err == nil
				break
			}
		}
		if !found || pending == 0 {
			return
		}
	}
}
