package broker

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// TestRetained covers setting, replacing and clearing retained messages
// [MQTT-3.3.1-5], [MQTT-3.3.1-10]; delivery on subscribe with RETAIN 1 after
// the SUBACK [MQTT-3.3.1-6]; live forwarding with RETAIN 0 [MQTT-3.3.1-9];
// and filters mixing '+' and '#'.
func TestRetained(t *testing.T) {
	s := startBroker(t, nil)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("home/kitchen/temp", "20", 0, true, 0)
	pub.publish("home/kitchen/temp", "21", 1, true, 1) // replaces
	pub.expectPacket("40 02 0001")
	pub.publish("home/garage/door", "open", 0, true, 0)
	pub.publish("home/garage/door", "", 0, true, 0) // clears
	pub.publish("home/hall/light", "on", 0, true, 0)
	pub.sendHex("c0 00") // PINGREQ: its PINGRESP comes after the QoS 0 PUBLISHes before it were handled
	pub.expectPacket("d0 00")

	sub := dialRaw(t, s)
	sub.connect("sub", true, false)
	sub.subscribe(1, "home/+/#", 1) // SUBACK first, checked by subscribe
	got := map[string]string{}
	for i := 0; i < 2; i++ {
		m := sub.readPublish()
		if !m.Retain {
			t.Fatalf("retained %q came with RETAIN 0", m.TopicName)
		}
		got[string(m.TopicName)] = string(m.Payload)
		if m.QoS == 1 {
			sub.sendHex("40 02 " + hex16(m.PacketID))
		}
	}
	if got["home/kitchen/temp"] != "21" || got["home/hall/light"] != "on" || len(got) != 2 {
		t.Fatalf("got retained %v, want kitchen 21 and hall on (garage cleared)", got)
	}
	sub.expectSilence(100 * time.Millisecond)

	pub.publish("home/hall/light", "off", 0, true, 0)
	if m := sub.readPublish(); m.Retain || string(m.Payload) != "off" {
		t.Fatalf("live forward: got retain %v %q, want retain 0 \"off\"", m.Retain, m.Payload)
	}
	if got := s.Engine().Stats().Retained.Load(); got != 2 {
		t.Fatalf("got %d retained in stats, want 2", got)
	}
}

func hex16(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}

// TestRetainedDollarTopics: a SUBSCRIBE to "#" or "+/broker/x" gets no
// retained $-topic [MQTT-4.7.2-1]; "$SYS/#" gets it; a retained message
// deleted with an empty payload is not sent [MQTT-3.3.1-10].
func TestRetainedDollarTopics(t *testing.T) {
	s := startBroker(t, nil)
	e := s.Engine()
	e.Publish("$SYS/broker/x", []byte("sys"), 0, true)
	e.Publish("top/broker/x", []byte("top"), 0, true)
	e.Publish("gone/broker/x", []byte("gone"), 0, true)
	e.Publish("gone/broker/x", nil, 0, true)
	for _, tc := range []struct{ filter, want string }{{"#", "top"}, {"+/broker/x", "top"}, {"$SYS/#", "sys"}} {
		sub := dialRaw(t, s)
		sub.connect("sub", true, false)
		sub.subscribe(1, tc.filter, 0)
		if m := sub.readPublish(); string(m.Payload) != tc.want || !m.Retain {
			t.Fatalf("%s: got %q retain %v, want %q retain 1", tc.filter, m.Payload, m.Retain, tc.want)
		}
		sub.expectSilence(100 * time.Millisecond)
	}
}

// TestRetainedFleetShort is TestRetainedFleet with 100,000 retained states.
func TestRetainedFleetShort(t *testing.T) { retainedFleet(t, 100_000) }

// TestRetainedFleet: with 1,000,000 retained states dev/<i>/state, a QoS 0
// and a QoS 1 subscriber to dev/+/state on the same loop each receive all
// of them with RETAIN 1, nothing dropped (QoS 0 paced by the socket, QoS 1
// by the in-flight window, past -max-queued), while a steady publisher and
// subscriber on that loop keep their latency; the native introspection
// shows the QoS 1 subscriber's retained backlog while it drains.
func TestRetainedFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 retained messages: skipped in -short mode")
	}
	retainedFleet(t, 1_000_000)
}

func retainedFleet(t *testing.T, n int) {
	s := startBroker(t, func(c *Config) { c.Loops = 1 }) // everyone on one loop
	e := s.Engine()
	for i := range n {
		e.retained.set(session.NewMessage([]byte("dev/"+strconv.Itoa(i)+"/state"), []byte("online:0123456789"), 1, true), nil)
	}

	// The steady pair: one message per millisecond, latency measured.
	ssub := dialRaw(t, s)
	ssub.connect("steady-sub", true, false)
	ssub.subscribe(1, "steady/t", 0)
	spub := dialRaw(t, s)
	spub.connect("steady-pub", true, false)
	var phase atomic.Int32 // 0 before the bulk subscribers, 1 while they drain, 2 after
	lat := [2][]time.Duration{}
	early := 0 // steady messages delivered while the QoS 1 subscriber still had over n/4 retained to go
	stopSteady := make(chan struct{})
	steadyDone := make(chan struct{})
	go func() {
		defer close(steadyDone)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var ts [8]byte
		for {
			select {
			case <-stopSteady:
				return
			case <-tick.C:
			}
			binary.BigEndian.PutUint64(ts[:], uint64(time.Now().UnixNano()))
			if _, err := spub.c.Write(codec.AppendPublish(nil, &codec.Publish{TopicName: []byte("steady/t"), Payload: ts[:]})); err != nil {
				return
			}
			p, err := ssub.next(30 * time.Second)
			if err != nil {
				t.Errorf("steady subscriber: %v", err)
				return
			}
			var m codec.Publish
			if _, err := m.Decode(p); err != nil || len(m.Payload) != 8 {
				t.Errorf("steady subscriber: got % x, want its PUBLISH", p)
				return
			}
			d := time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(m.Payload)))
			if ph := phase.Load(); ph < 2 {
				lat[ph] = append(lat[ph], d)
				if ph == 1 {
					var info session.Info
					if e.SessionInfo("bulk-1", &info) && info.RetainedBacklog > n/4 {
						early++
					}
				}
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // baseline samples

	type result struct {
		got   int
		maxBk int
		err   error
	}
	results := make(chan result, 2)
	start := time.Now()
	phase.Store(1)
	for _, qos := range []byte{0, 1} {
		id := "bulk-" + strconv.Itoa(int(qos))
		r := dialRaw(t, s)
		r.connect(id, true, false)
		go func() {
			got, maxBk, err := drainRetained(r, e, id, qos, n)
			results <- result{got, maxBk, err}
		}()
	}
	var maxBacklog int
	for range 2 {
		res := <-results
		if res.err != nil {
			t.Fatal(res.err)
		}
		maxBacklog = max(maxBacklog, res.maxBk)
	}
	took := time.Since(start)
	phase.Store(2)
	close(stopSteady)
	<-steadyDone

	var st stats.BrokerSnapshot
	e.Stats().Snapshot(&st)
	if st.DroppedQoS0 != 0 || st.DroppedQueue != 0 || st.DroppedHandoff != 0 {
		t.Fatalf("dropped: qos0 %d, queue %d, handoff %d; want none", st.DroppedQoS0, st.DroppedQueue, st.DroppedHandoff)
	}
	if maxBacklog == 0 {
		t.Fatal("introspection never showed a retained backlog while the subscribers drained")
	}
	var info session.Info
	deadline := time.Now().Add(5 * time.Second)
	for e.SessionInfo("bulk-1", &info); info.RetainedBacklog != 0 && time.Now().Before(deadline); e.SessionInfo("bulk-1", &info) {
		time.Sleep(10 * time.Millisecond)
	}
	if info.RetainedBacklog != 0 {
		t.Fatalf("retained backlog %d after every message arrived, want 0", info.RetainedBacklog)
	}
	p99 := func(d []time.Duration) time.Duration {
		if len(d) == 0 {
			return 0
		}
		slices.Sort(d)
		return d[len(d)*99/100]
	}
	before, during := p99(lat[0]), p99(lat[1])
	t.Logf("%d retained to a QoS 0 and a QoS 1 wildcard subscriber in %v (max backlog seen %d); steady pair p99 %v before (%d samples), %v during (%d samples)",
		n, took.Round(time.Millisecond), maxBacklog, before, len(lat[0]), during, len(lat[1]))
	// The loop must interleave: the steady pair is served between slices
	// of the retained delivery, not after it. Its latency is reported (and
	// measured for BENCHMARKS.md) rather than asserted: a loaded machine
	// stretches every time alike.
	if early < 5 {
		t.Fatalf("steady pair: %d of %d messages delivered while the QoS 1 subscriber had over a quarter of its %d retained to go, want at least 5 (starved by the retained delivery)", early, len(lat[1]), n)
	}
}

// drainRetained subscribes r to dev/+/state at qos and reads until it has
// every one of the n retained states, acknowledging QoS 1 in batches. It
// samples id's retained backlog through the engine's introspection while
// it reads and returns the largest value seen.
func drainRetained(r *rawClient, e *Engine, id string, qos byte, n int) (got, maxBacklog int, err error) {
	r.send(codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte("dev/+/state"), QoS: qos}}))
	seen := make([]bool, n)
	buf := make([]byte, 0, 1<<20)
	tmp := make([]byte, 256<<10)
	var acks []byte
	var info session.Info
	subacked := false
	deadline := time.Now().Add(120 * time.Second)
	for reads := 0; got < n; reads++ {
		if reads%64 == 0 && e.SessionInfo(id, &info) {
			maxBacklog = max(maxBacklog, info.RetainedBacklog)
		}
		r.c.SetReadDeadline(deadline)
		k, rerr := r.c.Read(tmp)
		buf = append(buf, tmp[:k]...)
		if rerr != nil {
			return got, maxBacklog, fmt.Errorf("%s: %v after %d of %d", id, rerr, got, n)
		}
		off := 0
		for {
			fl, ferr := codec.Frame(buf[off:], 0)
			if ferr != nil || fl == 0 {
				break
			}
			frame := buf[off : off+fl]
			off += fl
			if codec.PacketType(frame) == codec.TypeSuback {
				subacked = true
				continue
			}
			var m codec.Publish
			if _, derr := m.Decode(frame); derr != nil {
				return got, maxBacklog, fmt.Errorf("%s: got % x, want PUBLISH: %v", id, frame, derr)
			}
			if !subacked || !m.Retain || m.QoS != qos {
				return got, maxBacklog, fmt.Errorf("%s: %q with retain %v QoS %d (SUBACK seen %v), want retain 1 QoS %d after SUBACK", id, m.TopicName, m.Retain, m.QoS, subacked, qos)
			}
			i, cerr := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(string(m.TopicName), "dev/"), "/state"))
			if cerr != nil || i < 0 || i >= n || seen[i] {
				return got, maxBacklog, fmt.Errorf("%s: unexpected or repeated %q", id, m.TopicName)
			}
			seen[i] = true
			got++
			if qos == 1 {
				acks = codec.AppendPuback(acks, m.PacketID)
			}
		}
		buf = append(buf[:0], buf[off:]...)
		if len(acks) > 0 {
			r.send(acks)
			acks = acks[:0]
		}
	}
	return got, maxBacklog, nil
}
