package session

import (
	"fmt"
	"sync"
	"testing"
)

func TestQueueBoundDropsOldest(t *testing.T) {
	s := New("q", 1, 3, 10, 0, 0)
	s.Lock()
	defer s.Unlock()
	for i := 0; i < 5; i++ {
		_, _, dropped := s.EnqueueLocked(Queued{Msg: &Message{Payload: []byte{byte(i)}}, QoS: 1})
		if dropped != (i >= 3) {
			t.Fatalf("push %d: dropped %v, want %v", i, dropped, i >= 3)
		}
	}
	for want := byte(2); want < 5; want++ {
		m, ok := s.DequeueLocked()
		if !ok || m.Msg.Payload[0] != want {
			t.Fatalf("got %v %v, want payload %d", m, ok, want)
		}
	}
	if _, ok := s.DequeueLocked(); ok {
		t.Fatal("queue not empty")
	}
	var info Info
	s.Info(&info)
	if info.QueueDropped != 2 || info.QueueLen != 0 || info.QueueMax != 3 {
		t.Fatalf("got dropped %d len %d max %d, want 2 0 3", info.QueueDropped, info.QueueLen, info.QueueMax)
	}
}

func TestSubscriptionsKeepFirstOrder(t *testing.T) {
	s := New("s", 1, 3, 10, 0, 0)
	s.Subscribe("a", 0)
	s.Subscribe("b", 1)
	if added := s.Subscribe("a", 2); added {
		t.Fatal("re-subscribe reported as new")
	}
	s.Subscribe("c", 1)
	s.Unsubscribe("b")
	got := fmt.Sprint(s.Subscriptions())
	if want := "[{a 2} {c 1}]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestHistoryBounded(t *testing.T) {
	s := New("h", 1, 3, 10, 0, 0)
	m := &ConnMeta{Address: "127.0.0.1:1"}
	for i := 0; i < 100; i++ {
		s.Connected(m, int64(i))
		s.Disconnected(ReasonNetworkError, "", int64(i))
	}
	var info Info
	s.Info(&info)
	if len(info.History) != historyMax || info.History[len(info.History)-1].Reason != ReasonNetworkError {
		t.Fatalf("got %d events, want %d ending with a disconnect", len(info.History), historyMax)
	}
	if info.Connections != 100 || info.Connected {
		t.Fatalf("got connections %d connected %v", info.Connections, info.Connected)
	}
}

func TestRegistryConcurrent(t *testing.T) {
	var r Registry
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				id := fmt.Sprintf("c-%d", i)
				s, _ := r.LoadOrStore(New(id, r.NextSeq(), 1, 1, 0, 0))
				if r.Lookup(id) != s && r.Lookup(id) != nil {
					t.Errorf("lookup %s returned another session", id)
				}
				if g == 0 && i%2 == 0 {
					r.Delete(s)
				}
			}
		}(g)
	}
	var info Info
	for i := 0; i < 1000; i++ {
		if s := r.Lookup(fmt.Sprintf("c-%d", i)); s != nil {
			s.Info(&info) // readers beside the writers
		}
	}
	wg.Wait()
	n := 0
	r.Range(func(*Session) bool { n++; return true })
	if n != r.Len() {
		t.Fatalf("Range saw %d, Len says %d", n, r.Len())
	}
}

func BenchmarkRegistryLookup(b *testing.B) {
	var r Registry
	for i := 0; i < 100000; i++ {
		r.LoadOrStore(New(fmt.Sprintf("client-%d", i), r.NextSeq(), 1, 1, 0, 0))
	}
	b.ReportAllocs()
	i := 0
	ids := []string{"client-1", "client-50000", "client-99999", "missing"}
	for b.Loop() {
		r.Lookup(ids[i&3])
		i++
	}
}

func BenchmarkSessionInfo(b *testing.B) {
	s := New("x", 1, 10, 10, 0, 0)
	s.Connected(&ConnMeta{Address: "127.0.0.1:1", ProtocolVersion: 4}, 1)
	for i := 0; i < 4; i++ {
		s.Subscribe(fmt.Sprint("t/", i), 1)
	}
	var info Info
	s.Info(&info)
	b.ReportAllocs()
	for b.Loop() {
		s.Info(&info)
	}
}
