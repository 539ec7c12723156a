package broker

import (
	"net"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
)

// TestSlowConsumer: one subscriber stops reading while many others keep up.
// The others get every message, their delivery rate stays within 10% of the
// rate without the slow one (fastest of five interleaved runs each), the slow one's
// QoS 0 messages are dropped and counted once its outbound buffer is full,
// and memory stays bounded.
func TestSlowConsumer(t *testing.T) {
	longtest.Skip(t, "slow-consumer load for about 30 s")
	const (
		fast     = 1000
		messages = 200
		payload  = 512
	)
	s := startBroker(t, func(c *Config) { c.MaxOutbound = 256 << 10 })
	topic := []byte("load/slow")
	subs := make([]net.Conn, fast)
	for i := range subs {
		r := dialRaw(t, s)
		r.connect("fast-"+strconv.Itoa(i), true, false)
		r.subscribe(1, string(topic), 0)
		subs[i] = r.c
	}
	slow := dialRaw(t, s)
	slow.connect("slow", true, false)
	slow.subscribe(1, string(topic), 0)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)

	frame := codec.AppendPublish(nil, &codec.Publish{TopicName: topic, Payload: make([]byte, payload)})
	perSub := messages * len(frame)
	run := func() time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for _, c := range subs {
			wg.Add(1)
			go func(c net.Conn) {
				defer wg.Done()
				buf := make([]byte, 64<<10)
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				for got := 0; got < perSub; {
					n, err := c.Read(buf)
					if err != nil {
						t.Errorf("fast subscriber: %v after %d of %d bytes", err, got, perSub)
						return
					}
					got += n
				}
			}(c)
		}
		var batch []byte
		for i := 0; i < messages; i++ {
			batch = append(batch, frame...)
		}
		pub.send(batch)
		wg.Wait()
		return time.Since(start)
	}
	// The slow subscriber is the difference between the two arms: in the
	// "without" arm it is unsubscribed from the topic.
	// The slow client cannot read an UNSUBACK, so the route is toggled in the
	// engine's router directly.
	slowSess := s.Engine().reg.Lookup("slow")
	setSlow := func(on bool) {
		if on {
			s.Engine().router.add(string(topic), slowSess, 0, nil)
		} else {
			s.Engine().router.remove(string(topic), slowSess)
		}
	}
	var with, without []time.Duration
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	// Nine interleaved pairs: with five, a neighbouring test package
	// stealing the CPU once during the fastest run of one arm could set the
	// ratio at 0.90 (seen in make test, never alone: 0.95-1.07).
	for i := 0; i < 9; i++ {
		setSlow(false)
		without = append(without, run())
		setSlow(true)
		with = append(with, run())
	}
	// Flood the slow subscriber alone until its socket and outbound buffer
	// are full: 32 MiB on a topic only it has.
	s.Engine().router.add("load/flood", slowSess, 0, nil)
	flood := codec.AppendPublish(nil, &codec.Publish{TopicName: []byte("load/flood"), Payload: make([]byte, 4096)})
	var fb []byte
	for i := 0; i < 256; i++ {
		fb = append(fb, flood...)
	}
	for i := 0; i < 32; i++ {
		pub.send(fb)
	}
	pub.sendHex("c0 00") // the publisher's PINGRESP proves the flood was processed
	pub.expectPacket("d0 00")
	dropped := s.Engine().Stats().Loop(0).DroppedQoS0.Load() + s.Engine().Stats().Loop(1).DroppedQoS0.Load()
	if dropped == 0 {
		t.Fatalf("no QoS 0 drops counted for a subscriber that never reads %d x %d bytes", 5*messages, len(frame))
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	if growth > 96<<20 {
		t.Fatalf("heap grew %d MiB with a stalled subscriber, want bounded by the outbound limit", growth>>20)
	}
	// Other load on the machine only ever adds time, so the fastest of the
	// interleaved runs is the estimate least disturbed by it.
	mw, mwo := fastest(with), fastest(without)
	ratio := float64(mwo) / float64(mw) // rate with / rate without
	t.Logf("fastest delivery of %d x %d messages: %v without the slow consumer, %v with it (rate ratio %.2f); %d dropped; heap growth %d KiB",
		fast, messages, mwo, mw, ratio, dropped, growth>>10)
	if ratio < 0.9 {
		t.Fatalf("with a slow consumer the others' rate is %.2f of the rate without it, want at least 0.90 (with %v, without %v)", ratio, with, without)
	}
}

func fastest(d []time.Duration) time.Duration { return slices.Min(d) }
