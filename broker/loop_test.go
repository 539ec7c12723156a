package broker

import "testing"

// TestTrimPool checks that a loop keeps its pooled output buffers while
// rounds use them and drops them after a whole trim interval without use.
func TestTrimPool(t *testing.T) {
	ls, _ := routeFixture(t, 4)
	topic, payload := []byte("bench/topic"), make([]byte, 1024)
	round := func() {
		for range 60 {
			ls.route(topic, payload, 0, nil)
		}
		ls.flush()
	}
	round()
	ls.trimPool()
	round()
	ls.trimPool()
	if len(ls.bufs) == 0 {
		t.Fatal("pool emptied while every interval had a busy round")
	}
	ls.trimPool() // an interval without rounds
	if len(ls.bufs) != 0 || ls.pooled != 0 {
		t.Fatalf("%d buffers (%d bytes) still pooled after an idle interval, want none", len(ls.bufs), ls.pooled)
	}
	round()
	if len(ls.bufs) == 0 {
		t.Fatal("no buffers pooled after a busy round following the trim")
	}
}
