package broker

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/stats"
)

// goLoop is a Loop on a goroutine of its own that counts how many of its
// functions are pending (given to Execute, not yet started), so a test can
// see how often a queue woke it.
type goLoop struct {
	fns        chan func()
	pending    atomic.Int64
	maxPending atomic.Int64
	wakes      atomic.Int64
}

func newGoLoop(t *testing.T) *goLoop {
	l := &goLoop{fns: make(chan func(), 1<<16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for fn := range l.fns {
			l.pending.Add(-1) // started: no longer pending
			fn()
		}
	}()
	t.Cleanup(func() { close(l.fns); <-done })
	return l
}

func (l *goLoop) Execute(fn func()) {
	l.wakes.Add(1)
	n := l.pending.Add(1)
	for m := l.maxPending.Load(); n > m && !l.maxPending.CompareAndSwap(m, n); m = l.maxPending.Load() {
	}
	l.fns <- fn
}

// testBatch returns a batch marked with producer p and sequence number seq
// (in fields the queue does not read) carrying qos0 bytes of QoS 0 deliveries
// in one item, or, with qos0 == 0, one pump request.
func testBatch(p, seq, qos0 int) *batch {
	b := batchPool.Get().(*batch)
	b.lastSq, b.lastAt = uint64(p), seq
	b.buf = append(b.buf[:0], make([]byte, qos0)...)
	b.items = append(b.items[:0], batchItem{n: qos0})
	return b
}

// TestHandoffOrder: many producers push at once; the consumer sees every
// batch exactly once, each producer's in the order it pushed them, and the
// loop never has more than one drain waiting to start however many batches
// wait.
func TestHandoffOrder(t *testing.T) {
	const producers, perProducer = 8, 3000
	l := newGoLoop(t)
	var h handoff
	var st stats.Handoff
	next := make([]int, producers) // consumer-only: next seq wanted per producer
	var got atomic.Int64
	var bad atomic.Value
	finished := make(chan struct{})
	h.init(l, 1<<30, &st, func() {
		bs := h.take()
		for i, b := range bs {
			p, seq := int(b.lastSq), b.lastAt
			if seq != next[p] && bad.Load() == nil {
				bad.Store([2]int{p, seq})
			}
			next[p] = seq + 1
			b.recycle()
			bs[i] = nil
			if got.Add(1) == producers*perProducer {
				close(finished)
			}
		}
		h.done(bs)
	})
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range perProducer {
				if n := h.push(testBatch(p, seq, seq%2*16)); n != 0 {
					t.Errorf("producer %d batch %d: %d deliveries dropped below the bound", p, seq, n)
				}
			}
		}()
	}
	wg.Wait()
	<-finished
	if v := bad.Load(); v != nil {
		pq := v.([2]int)
		t.Fatalf("producer %d: got batch %d out of order", pq[0], pq[1])
	}
	for p, n := range next {
		if n != perProducer {
			t.Errorf("producer %d: consumer saw %d batches, want %d", p, n, perProducer)
		}
	}
	if m := l.maxPending.Load(); m != 1 {
		t.Errorf("at most %d drains pending on the loop at once, want 1", m)
	}
	if w := l.wakes.Load(); w > producers*perProducer {
		t.Errorf("%d wake-ups for %d batches, want at most one each", w, producers*perProducer)
	}
	t.Logf("%d batches, %d wake-ups", producers*perProducer, l.wakes.Load())
}

// heldLoop records what Execute asks for and runs nothing: the loop is
// busy for as long as the test likes.
type heldLoop struct{ fns []func() }

func (l *heldLoop) Execute(fn func()) { l.fns = append(l.fns, fn) }

// TestHandoffBound: with the loop busy, QoS 0 bytes are admitted up to the
// bound (a batch always enters an empty queue), later QoS 0 deliveries are
// dropped and counted, pump requests always get through in order, and the
// loop is woken once.
func TestHandoffBound(t *testing.T) {
	var l heldLoop
	var h handoff
	var st stats.Handoff
	h.init(&l, 100, &st, func() {})

	if n := h.push(testBatch(0, 0, 150)); n != 0 { // over the bound, but the queue is empty
		t.Fatalf("first batch: %d dropped, want 0", n)
	}
	if n := h.push(testBatch(0, 1, 0)); n != 0 {
		t.Fatalf("pump request: %d dropped, want 0", n)
	}
	b := testBatch(0, 2, 10)
	b.items = append(b.items, batchItem{}) // a QoS 0 delivery and a pump request
	if n := h.push(b); n != 1 {
		t.Fatalf("mixed batch over the bound: %d dropped, want 1", n)
	}
	if n := h.push(testBatch(0, 3, 10)); n != 1 {
		t.Fatalf("QoS 0 batch over the bound: %d dropped, want 1", n)
	}
	if len(l.fns) != 1 {
		t.Fatalf("%d wake-ups for a busy loop, want 1", len(l.fns))
	}
	if items, bytes := st.Items.Load(), st.Bytes.Load(); items != 3 || bytes != 150 {
		t.Fatalf("depth %d batches, %d bytes; want 3, 150", items, bytes)
	}

	bs := h.take()
	var seqs []int
	for _, b := range bs {
		seqs = append(seqs, b.lastAt)
	}
	if len(bs) != 3 || seqs[0] != 0 || seqs[1] != 1 || seqs[2] != 2 {
		t.Fatalf("queued batches %v, want [0 1 2]", seqs)
	}
	if len(bs[2].items) != 1 || bs[2].items[0].n != 0 || len(bs[2].buf) != 0 {
		t.Fatalf("mixed batch kept %+v (buf %d bytes), want only its pump request", bs[2].items, len(bs[2].buf))
	}
	for _, b := range bs {
		b.recycle()
	}
	h.done(bs)
	if items, bytes := st.Items.Load(), st.Bytes.Load(); items != 0 || bytes != 0 {
		t.Fatalf("depth after take %d batches, %d bytes; want 0, 0", items, bytes)
	}

	// Taken: room again, and the next push wakes the loop again.
	if n := h.push(testBatch(0, 4, 60)); n != 0 {
		t.Fatalf("after take: %d dropped, want 0", n)
	}
	if n := h.push(testBatch(0, 5, 40)); n != 0 {
		t.Fatalf("up to the bound: %d dropped, want 0", n)
	}
	if len(l.fns) != 2 {
		t.Fatalf("%d wake-ups after a take and a push, want 2", len(l.fns))
	}
}

// TestHandoffBoundConcurrent: producers racing into a busy loop's queue
// never take it past its bound, and every QoS 0 delivery is either queued or
// counted as dropped.
func TestHandoffBoundConcurrent(t *testing.T) {
	const producers, perProducer, size, limit = 8, 500, 64, 10 << 10
	var l heldLoop
	var h handoff
	var st stats.Handoff
	h.init(&l, limit, &st, func() {})
	var dropped atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range perProducer {
				dropped.Add(int64(h.push(testBatch(p, seq, size))))
				if b := st.Bytes.Load(); b > limit {
					t.Errorf("queue holds %d bytes, bound %d", b, limit)
					return
				}
			}
		}()
	}
	wg.Wait()
	bs := h.take()
	queued := len(bs)
	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	for _, b := range bs {
		p := int(b.lastSq)
		if b.lastAt <= last[p] {
			t.Fatalf("producer %d: batch %d after %d", p, b.lastAt, last[p])
		}
		last[p] = b.lastAt
		b.recycle()
	}
	if queued != limit/size {
		t.Errorf("%d batches queued, want %d (the bound)", queued, limit/size)
	}
	if int64(queued)+dropped.Load() != producers*perProducer {
		t.Errorf("%d queued + %d dropped, want %d in all", queued, dropped.Load(), producers*perProducer)
	}
	if len(l.fns) != 1 {
		t.Errorf("%d wake-ups for a busy loop, want 1", len(l.fns))
	}
}

// TestHandoffOrderUnderStorm drives a real broker with four loops: the
// loops of the subscribers are held busy while publishers on the other loops
// publish numbered sequences over four topics, one PUBLISH per round, so
// thousands of hand-offs wait for each held loop (more than the 1024 tasks
// below which gnet's own task queue keeps order); publishing goes on after
// the loops are released. Every subscriber must get every message, in order
// per topic and per publisher [MQTT-4.6.0-6].
func TestHandoffOrderUnderStorm(t *testing.T) {
	const (
		perPub  = 1500
		topics  = 4
		release = 2000 // acknowledged publishes before the loops are let go
	)
	s := startBroker(t, func(c *Config) { c.Loops = 4 })
	e := s.Engine()
	var pubs, subs []*rawClient
	var pubIDs []string
	held := map[int]*loopState{}
	for i := range 8 {
		id := "c" + strconv.Itoa(i)
		r := dialRaw(t, s)
		r.connect(id, true, false)
		c := e.reg.Lookup(id).Owner()
		if c == nil {
			t.Fatalf("%s: no connection attached after CONNACK", id)
		}
		if c.ls.idx < 2 {
			pubs, pubIDs = append(pubs, r), append(pubIDs, id)
		} else {
			subs = append(subs, r)
			held[c.ls.idx] = c.ls
		}
	}
	if len(pubs) < 2 || len(held) != 2 {
		t.Fatalf("%d publishers on loops 0-1, subscribers on %d loops; want at least 2 and 2", len(pubs), len(held))
	}
	for _, r := range subs {
		r.subscribe(1, "order/#", 0)
	}

	// Hold the subscribers' loops.
	letGo := make(chan struct{})
	for _, ls := range held {
		entered := make(chan struct{})
		ls.loop.Execute(func() { close(entered); <-letGo })
		<-entered
	}
	var letGoOnce sync.Once
	free := func() { letGoOnce.Do(func() { close(letGo) }) }
	defer free()

	total := len(pubs) * perPub
	var acked atomic.Int64
	reached := make(chan struct{})
	var pubWG sync.WaitGroup
	for p, r := range pubs {
		pubWG.Add(1)
		go func() {
			defer pubWG.Done()
			for seq := range perPub {
				topic := "order/" + strconv.Itoa(seq%topics)
				frame := codec.AppendPublish(nil, &codec.Publish{QoS: 1, TopicName: []byte(topic), PacketID: uint16(seq + 1),
					Payload: []byte(strconv.Itoa(p) + ":" + strconv.Itoa(seq))})
				if _, err := r.c.Write(frame); err != nil {
					t.Errorf("publisher %d: %v", p, err)
					free()
					return
				}
				if _, err := r.next(30 * time.Second); err != nil {
					t.Errorf("publisher %d: no PUBACK for %d: %v", p, seq, err)
					free()
					return
				}
				if acked.Add(1) == release {
					close(reached)
				}
			}
		}()
	}

	var subWG sync.WaitGroup
	for i, r := range subs {
		subWG.Add(1)
		go func() {
			defer subWG.Done()
			next := make([][topics]int, len(pubs)) // next seq wanted per publisher and topic
			for p := range next {
				for tp := range topics {
					next[p][tp] = tp
				}
			}
			for n := 0; n < total; n++ {
				pkt, err := r.next(60 * time.Second)
				if err != nil {
					t.Errorf("subscriber %d: %v after %d of %d messages", i, err, n, total)
					return
				}
				var pub codec.Publish
				if _, err := pub.Decode(pkt); err != nil {
					t.Errorf("subscriber %d: got % x, want PUBLISH: %v", i, pkt, err)
					return
				}
				ps, ss, _ := strings.Cut(string(pub.Payload), ":")
				p, _ := strconv.Atoi(ps)
				seq, _ := strconv.Atoi(ss)
				tp := seq % topics
				if want := "order/" + strconv.Itoa(tp); string(pub.TopicName) != want || p >= len(pubs) {
					t.Errorf("subscriber %d: message %q on %q", i, pub.Payload, pub.TopicName)
					return
				}
				if seq != next[p][tp] {
					t.Errorf("subscriber %d: topic %s from %s: got message %d, want %d (message %d of %d received)",
						i, pub.TopicName, pubIDs[p], seq, next[p][tp], n, total)
					return
				}
				next[p][tp] = seq + topics
			}
		}()
	}

	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d publishes acknowledged in 60 s", acked.Load())
	}
	depth := map[int]int64{}
	for idx, ls := range held {
		depth[idx] = ls.st.Handoff.Items.Load()
	}
	free()
	pubWG.Wait()
	subWG.Wait()
	for idx, d := range depth {
		if d <= 1024 {
			t.Errorf("loop %d had %d batches waiting at release, want more than 1024 for this test to mean anything", idx, d)
		}
	}
	var hs stats.HandoffSnapshot
	for idx, ls := range held {
		ls.st.Handoff.Snapshot(&hs)
		t.Logf("loop %d: %d batches waited at release; %d batches drained, %v waited in all", idx, depth[idx], hs.Waits[len(stats.WaitBounds)], hs.Sum)
	}
	var bs stats.BrokerSnapshot
	e.stats.Snapshot(&bs)
	if bs.DroppedHandoff != 0 || bs.DroppedQoS0 != 0 {
		t.Errorf("dropped %d (hand-off full) and %d (outbound full), want none", bs.DroppedHandoff, bs.DroppedQoS0)
	}
}
