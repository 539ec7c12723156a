package cluster

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
)

// orderedLocal is a Local that records every message it is given, in order.
type orderedLocal struct {
	mu  sync.Mutex
	got []string // "topic payload qos"
}

func (a *orderedLocal) DeliverRemote(each func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64))) {
	a.mu.Lock()
	defer a.mu.Unlock()
	each(func(topic, payload, _ []byte, qos byte, _ bool, _ int64) {
		a.got = append(a.got, fmt.Sprintf("%s %s %d", topic, payload, qos))
	})
}

func (a *orderedLocal) StoreRetained(func(store func(topic, payload, props []byte, qos byte, expires int64))) {
}

func (a *orderedLocal) snapshot() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.got...)
}

// TestForwardLoopOrder: two loops forward at once, each gathering its live
// QoS 0 messages apart (ForwardLoop) with a QoS 1 message now and then, a
// flush at the end of uneven rounds, and large messages that fill batches
// before the flush. The other node gets every message once, and each
// loop's messages of one topic in the order the loop forwarded them,
// whatever their QoS.
func TestForwardLoopOrder(t *testing.T) {
	longtest.Skip(t, "starts two nats-servers")
	nodes := startNodes(t, 2)
	ra, err := NewRouter(nodes[0], &orderedLocal{})
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	got := &orderedLocal{}
	rb, err := NewRouter(nodes[1], got)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	rb.Interest("o/#", true)
	ra.UseLoops(2)
	deadline := time.Now().Add(20 * time.Second)
	for len(got.snapshot()) == 0 { // interest has crossed
		if time.Now().After(deadline) {
			t.Fatal("no probe crossed")
		}
		ra.Forward([]byte("o/probe"), []byte("p"), 0, false, nil, 0, "")
		ra.Flush(false)
		time.Sleep(50 * time.Millisecond)
	}
	const perLoop = 4000
	big := strings.Repeat("x", 20<<10)
	var wg sync.WaitGroup
	for loop := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perLoop {
				topic := []byte("o/" + string(rune('a'+i%3)))
				payload := fmt.Sprintf("%d.%d", loop, i)
				if i%97 == 0 {
					payload += "." + big
				}
				qos := byte(0)
				if i%101 == 0 {
					qos = 1
				}
				ra.ForwardLoop(loop, topic, []byte(payload), qos, false, nil, 0, fmt.Sprintf("pub-%d-%d", loop, i%2))
				if i%37 == 0 {
					ra.FlushLoop(loop, qos > 0)
				}
			}
			ra.FlushLoop(loop, false)
		}()
	}
	wg.Wait()
	var msgs []string
	for {
		msgs = got.snapshot()
		if n := len(msgs); n >= 2*perLoop || time.Now().After(deadline.Add(20*time.Second)) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	next := map[string]int{} // loop and topic -> index of the last message seen
	n := 0
	for _, m := range msgs {
		f := strings.Fields(m)
		if f[0] == "o/probe" {
			continue
		}
		n++
		var loop, i int
		fmt.Sscanf(f[1], "%d.%d", &loop, &i)
		if want := fmt.Sprint(i%101 == 0); fmt.Sprint(f[2] == "1") != want {
			t.Fatalf("%.40s: wrong QoS", m)
		}
		k := fmt.Sprintf("%d %s", loop, f[0])
		if last, ok := next[k]; ok && i <= last {
			t.Fatalf("loop %d, topic %s: message %d after %d", loop, f[0], i, last)
		}
		next[k] = i
	}
	if n != 2*perLoop {
		t.Fatalf("%d messages arrived, want %d", n, 2*perLoop)
	}
}
