package cluster_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// The failure tests publish through a small client of their own rather
// than paho: paho's resend of stored messages after a reconnect races
// with its writer (eclipse-paho/paho.mqtt.golang#703), which the race
// detector reports in our tests. This one keeps one QoS 1/2 message in
// flight, resumes its session on whichever node accepts it (every node's
// address, the first one's first) and sends the message again with DUP,
// or its PUBREL, as a resuming client must [MQTT-4.4.0-1].

// publisher publishes a numbered stream of alternating QoS 1 and QoS 2
// messages to topic as a persistent 3.1.1 session that knows every node.
type publisher struct {
	name, topic string
	servers     []string
	lost        atomic.Int64 // connections lost so far
	stop        context.CancelFunc
	done        chan struct{}
}

// pubConn is the publisher's current connection.
type pubConn struct {
	c   net.Conn
	buf []byte
}

// next reads the next packet, waiting at most d.
func (pc *pubConn) next(d time.Duration) ([]byte, error) {
	pc.c.SetReadDeadline(time.Now().Add(d))
	tmp := make([]byte, 4096)
	for {
		n, err := codec.Frame(pc.buf, 1<<20)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			f := append([]byte(nil), pc.buf[:n]...)
			pc.buf = pc.buf[n:]
			return f, nil
		}
		k, err := pc.c.Read(tmp)
		pc.buf = append(pc.buf, tmp[:k]...)
		if err != nil {
			return nil, err
		}
	}
}

// dial connects to addr and resumes the publisher's session there.
func (p *publisher) dial(addr string) (*pubConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	pc := &pubConn{c: c}
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(connectPacket(p.name, codec.ProtocolLevel311, false)); err != nil {
		c.Close()
		return nil, err
	}
	f, err := pc.next(2 * time.Minute) // a claim may wait out a dead owner's lease
	if err == nil && (codec.PacketType(f) != codec.TypeConnack || len(f) < 4 || f[3] != 0) {
		err = fmt.Errorf("CONNACK % x", f)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return pc, nil
}

// startPublisher starts publishing every pace (each message waits for its
// acknowledgement first) until stopPublishers. Pinned, it knows only
// first's address; else every node's.
func (l *ledger) startPublisher(t *testing.T, c *fcluster, first *fnode, name, topic string, pace time.Duration, pinned bool) *publisher {
	t.Helper()
	p := &publisher{name: name, topic: topic, servers: c.urls(first), done: make(chan struct{})}
	for i, u := range p.servers {
		p.servers[i] = u[len("tcp://"):]
	}
	if pinned {
		p.servers = p.servers[:1]
	}
	pc, err := p.dial(p.servers[0])
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	go func() {
		defer close(p.done)
		defer func() {
			if pc != nil {
				pc.c.Close()
			}
		}()
		server := 0
		for seq := 0; ctx.Err() == nil; seq++ {
			m := &sentMsg{id: fmt.Sprintf("%s/%d", name, seq), pub: p, qos: byte(1 + seq%2), start: time.Now()}
			l.mu.Lock()
			l.msgs[m.id] = m
			l.mu.Unlock()
			id := uint16(seq%65535 + 1)
			released, dup := false, false
			for ctx.Err() == nil && time.Since(m.start) < time.Minute {
				if pc == nil {
					if pc, err = p.dial(p.servers[server]); err != nil {
						server = (server + 1) % len(p.servers)
						time.Sleep(250 * time.Millisecond)
						continue
					}
				}
				done, err := p.exchange(pc, m, id, dup, &released)
				if done {
					l.mu.Lock()
					m.acked = time.Now()
					l.mu.Unlock()
					break
				}
				pc.c.Close()
				pc, dup = nil, true
				p.lost.Add(1)
				l.mu.Lock()
				m.resent = true
				l.mu.Unlock()
				_ = err
			}
			select {
			case <-ctx.Done():
			case <-time.After(pace):
			}
		}
	}()
	return p
}

// exchange sends m (or, once released, its PUBREL) on pc and reads until
// its flow completes; false means the connection failed first.
func (p *publisher) exchange(pc *pubConn, m *sentMsg, id uint16, dup bool, released *bool) (bool, error) {
	var out []byte
	if *released {
		out = codec.AppendPubrel(nil, id)
	} else {
		out = codec.AppendPublishParts(nil, dup, m.qos, false, []byte(p.topic), id, []byte(m.id))
	}
	pc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := pc.c.Write(out); err != nil {
		return false, err
	}
	for {
		f, err := pc.next(30 * time.Second)
		if err != nil {
			return false, err
		}
		if len(f) < 4 || binary.BigEndian.Uint16(f[2:4]) != id {
			continue // PINGRESP, or an answer to an earlier packet ID
		}
		switch codec.PacketType(f) {
		case codec.TypePuback:
			return m.qos == 1, nil
		case codec.TypePubrec:
			*released = true
			pc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := pc.c.Write(codec.AppendPubrel(nil, id)); err != nil {
				return false, err
			}
		case codec.TypePubcomp:
			return true, nil
		default:
			return false, errors.New("unexpected packet")
		}
	}
}

// stopPublishers stops ps and waits until each has its last answer.
func stopPublishers(ps ...*publisher) {
	for _, p := range ps {
		p.stop()
	}
	for _, p := range ps {
		<-p.done
	}
}
