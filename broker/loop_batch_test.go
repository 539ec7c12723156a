package broker

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// countingTransport records every Write separately, to count the writes
// (each a system call and a wake-up of the peer with gnet) a connection
// costs.
type countingTransport struct {
	fuzzTransport
	writes [][]byte
}

func (t *countingTransport) Write(b []byte) error {
	t.writes = append(t.writes, append([]byte(nil), b...))
	return t.fuzzTransport.Write(b)
}

// TestBatchOneWritePerSubscriber: devices publishing in one batch of the
// loop's events cost a subscriber of all of them one write, made once the
// loop has run its queued work (the end of the batch), with the messages
// in the order they arrived. Each device gets its PUBACK at once, in one
// write; nothing reaches the subscriber before the batch ends, and a round
// with nothing to write queues nothing.
func TestBatchOneWritePerSubscriber(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Loops = 1
	cfg.LogInterval = time.Hour
	e := NewEngine(cfg)
	loop := &fuzzLoop{}
	h := e.BindLoop(loop)
	open := func(input ...[]byte) (*countingTransport, *Conn) {
		tr := &countingTransport{}
		e.Admit()
		c := e.Open(tr, h)
		for _, b := range input {
			tr.pending = append(tr.pending, b...)
			if c.OnTraffic() {
				t.Fatalf("connection closed on % x", b)
			}
		}
		loop.drain()
		tr.out, tr.writes = nil, nil
		return tr, c
	}
	backend, _ := open(connectPacket("backend", true, 0),
		codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte("dev/+/telemetry"), QoS: 0}}))

	const devices = 5
	var trs [devices]*countingTransport
	var conns [devices]*Conn
	for i := range devices {
		trs[i], conns[i] = open(connectPacket(fmt.Sprintf("dev-%d", i), true, 0))
	}
	// One batch: every device's PUBLISH is handled before the loop runs
	// its queue.
	var want []byte
	for i := range devices {
		topic := fmt.Sprintf("dev/%d/telemetry", i)
		trs[i].pending = codec.AppendPublish(nil, &codec.Publish{QoS: 1, TopicName: []byte(topic), PacketID: uint16(i + 1), Payload: []byte("21.5")})
		if conns[i].OnTraffic() {
			t.Fatalf("device %d closed", i)
		}
		want = codec.AppendPublish(want, &codec.Publish{TopicName: []byte(topic), Payload: []byte("21.5")})
	}
	if len(backend.writes) != 0 {
		t.Fatalf("before the end of the batch: %d writes to the backend, want 0", len(backend.writes))
	}
	for i := range devices { // a device's PUBACK does not wait for the batch
		if ack := codec.AppendPuback(nil, uint16(i+1)); len(trs[i].writes) != 1 || !bytes.Equal(trs[i].writes[0], ack) {
			t.Fatalf("device %d: writes % x, want one PUBACK % x", i, trs[i].writes, ack)
		}
	}
	if len(loop.q) != 1 {
		t.Fatalf("%d functions queued on the loop for the batch, want 1 flush", len(loop.q))
	}
	loop.drain()
	if len(backend.writes) != 1 || !bytes.Equal(backend.writes[0], want) {
		t.Fatalf("backend: %d writes, first % x; want 1 write of the %d PUBLISHes in order, % x", len(backend.writes), backend.writes, devices, want)
	}
	for i := range devices {
		if len(trs[i].writes) != 1 {
			t.Fatalf("device %d: %d writes after the batch, want its one PUBACK", i, len(trs[i].writes))
		}
	}

	// A round that only buffers an incomplete frame has no output: it
	// queues nothing.
	trs[0].pending = []byte{0x30} // first byte of a PUBLISH
	if conns[0].OnTraffic() || len(loop.q) != 0 {
		t.Fatalf("a round without output queued %d functions, want 0", len(loop.q))
	}
}
