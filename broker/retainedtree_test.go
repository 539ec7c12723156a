package broker

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// walk runs a cursor for filter to its end and returns the topics it
// yields, in order.
func walk(r *retainedStore, filter string) []string {
	cur := r.newCursor(filter, 1)
	var got []string
	for m := cur.peek(r); m != nil; m = cur.peek(r) {
		got = append(got, string(m.Topic))
		cur.advance()
	}
	return got
}

func retain(r *retainedStore, topic, payload string) int {
	return r.set(session.NewMessage([]byte(topic), []byte(payload), 0, true), nil)
}

// TestRetainedTreeMatchesFilters checks the tree's walks against
// codec.MatchTopic over many topics and filters mixing '+' and '#',
// including the '$' rule [MQTT-4.7.2-1], "a/#" matching "a"
// [MQTT-4.7.1-2], empty levels and deletes [MQTT-3.3.1-10].
func TestRetainedTreeMatchesFilters(t *testing.T) {
	var r retainedStore
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "c", "", "$SYS", "dev", "x"}
	topics := map[string]bool{}
	for range 3000 {
		n := 1 + rng.IntN(4)
		lv := make([]string, n)
		for i := range lv {
			lv[i] = words[rng.IntN(len(words))]
			if i > 0 && lv[i] == "$SYS" {
				lv[i] = "s"
			}
		}
		topic := joinLevels(lv)
		if !codec.ValidTopicName(topic) {
			continue
		}
		if rng.IntN(4) == 0 { // delete about a quarter again
			retain(&r, topic, "")
			delete(topics, topic)
			continue
		}
		retain(&r, topic, "v")
		topics[topic] = true
	}
	filters := []string{"#", "+", "+/+", "a/#", "a/+/#", "+/b/#", "+/+/c", "$SYS/#", "$SYS/+", "+/#",
		"/#", "/+", "a", "a/b", "a//c", "dev/+/x", "#/", "x/+/+/#", "+/+/+/+", "$SYS"}
	for _, f := range filters {
		if !codec.ValidTopicFilter(f) {
			continue
		}
		var want []string
		for topic := range topics {
			if codec.MatchTopic(f, topic) {
				want = append(want, topic)
			}
		}
		got := walk(&r, f)
		if len(got) != len(want) {
			t.Errorf("filter %q: got %d topics, want %d", f, len(got), len(want))
			continue
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("filter %q: got %q, want %q", f, got, want)
		}
	}
}

func joinLevels(lv []string) string {
	s := lv[0]
	for _, l := range lv[1:] {
		s += "/" + l
	}
	return s
}

// TestRetainedTreeDollarRule: a filter starting with a wildcard never
// matches a topic starting with '$' [MQTT-4.7.2-1]; "$SYS/#" does.
func TestRetainedTreeDollarRule(t *testing.T) {
	var r retainedStore
	retain(&r, "$SYS/broker/uptime", "1")
	retain(&r, "sys/broker/uptime", "1")
	for f, want := range map[string]int{"#": 1, "+/broker/uptime": 1, "+/+/+": 1, "$SYS/#": 1, "$SYS/+/uptime": 1} {
		if got := walk(&r, f); len(got) != want || (f[0] != '$' && got[0] != "sys/broker/uptime") {
			t.Errorf("filter %q: got %q, want %d topic(s)", f, got, want)
		}
	}
}

// TestRetainedTreeCount: set reports the change in count, deletes prune
// empty levels, and compaction keeps every live topic reachable.
func TestRetainedTreeCount(t *testing.T) {
	var r retainedStore
	total := 0
	for i := range 1000 {
		total += retain(&r, "d/"+strconv.Itoa(i)+"/s", "x")
	}
	total += retain(&r, "d/1/s", "y") // replace: no change
	if total != 1000 {
		t.Fatalf("got count %d after 1000 topics and a replace, want 1000", total)
	}
	for i := 0; i < 1000; i += 3 { // gone children pass half: compaction
		total += retain(&r, "d/"+strconv.Itoa(i)+"/s", "")
	}
	total += retain(&r, "d/nothing/s", "") // delete of nothing: no change
	if want := 1000 - 334; total != want {
		t.Fatalf("got count %d after deletes, want %d", total, want)
	}
	if got := walk(&r, "d/+/s"); len(got) != total {
		t.Fatalf("walk d/+/s: got %d, want %d", len(got), total)
	}
	if m := r.lookup("d/1/s"); m == nil || string(m.Payload) != "y" {
		t.Fatalf("lookup d/1/s: got %v, want payload y", m)
	}
	for i := range 1000 {
		retain(&r, "d/"+strconv.Itoa(i)+"/s", "")
	}
	if r.root.index != nil && len(r.root.index) != 0 {
		t.Fatalf("root keeps %d children after every topic was deleted, want 0", len(r.root.index))
	}
}

// TestRetainedCursorConcurrentWriters: while a cursor walks "d/+/s" in
// bounded slices, writers on other goroutines add, replace and delete
// other topics (forcing compactions). The cursor yields every topic that
// existed throughout its walk exactly once, and nothing twice.
func TestRetainedCursorConcurrentWriters(t *testing.T) {
	var r retainedStore
	const stable, churn = 20000, 5000
	for i := range stable {
		retain(&r, "d/s"+strconv.Itoa(i)+"/s", "x")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := strconv.Itoa(rng.IntN(churn))
				switch rng.IntN(3) {
				case 0:
					retain(&r, "d/c"+k+"/s", "")
				case 1:
					retain(&r, "d/c"+k+"/s", "y")
				default:
					retain(&r, "d/s"+strconv.Itoa(rng.IntN(stable))+"/s", "z") // replace a stable one
				}
			}
		}()
	}
	seen := map[string]int{}
	cur := r.newCursor("d/+/s", 0)
	for m := cur.peek(&r); m != nil; m = cur.peek(&r) {
		seen[string(m.Topic)]++
		cur.advance()
	}
	close(stop)
	wg.Wait()
	for topic, n := range seen {
		if n != 1 {
			t.Fatalf("topic %q yielded %d times, want once", topic, n)
		}
	}
	for i := range stable {
		if seen["d/s"+strconv.Itoa(i)+"/s"] != 1 {
			t.Fatalf("stable topic d/s%d/s not yielded", i)
		}
	}
}

// TestRetainedCursorBounded: one fill visits at most cursorVisits nodes and
// collects at most cursorBatch matches, whatever the tree's size.
func TestRetainedCursorBounded(t *testing.T) {
	var r retainedStore
	for i := range 20000 {
		retain(&r, "d/"+strconv.Itoa(i), "x")
		retain(&r, "e/"+strconv.Itoa(i), "x")
	}
	cur := r.newCursor("+/+", 0)
	cur.fill(&r)
	if n := len(cur.pending); n != cursorBatch {
		t.Fatalf("first fill collected %d, want %d", n, cursorBatch)
	}
	// The estimate counts what is collected and the nodes left on the
	// walk's path: all of d's children, and e itself.
	if b := cur.backlog(); b != 20000+1 {
		t.Fatalf("backlog %d after one fill, want 20001", b)
	}
	sparse := r.newCursor("+/+/x", 0) // matches nothing: visits bound the fill
	sparse.fill(&r)
	if len(sparse.pending) != 0 || len(sparse.stack) == 0 {
		t.Fatalf("fill of a filter matching nothing: %d pending, %d frames; want 0 and a walk left", len(sparse.pending), len(sparse.stack))
	}
}

// BenchmarkRetainedExact: resolving an exact filter costs the same with 10k
// and with 1M retained messages (one map lookup per level).
func BenchmarkRetainedExact(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		var r retainedStore
		for i := range n {
			retain(&r, "dev/"+strconv.Itoa(i)+"/state", "on")
		}
		filter := "dev/" + strconv.Itoa(n/2) + "/state"
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cur := r.newCursor(filter, 0)
				if cur.peek(&r) == nil {
					b.Fatal("no message")
				}
			}
		})
	}
}
