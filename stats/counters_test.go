package stats

import (
	"sync"
	"testing"
	"unsafe"

	"github.com/glassmq/glassmq/codec"
)

func TestCountersSnapshot(t *testing.T) {
	var c Counters
	c.Add(codec.TypeConnect, 0, 37)
	c.Add(codec.TypeSubscribe, 1, 69)
	for i := 0; i < 14; i++ {
		c.Add(codec.TypePingreq, 0, 2)
	}
	var s Snapshot
	c.Snapshot(&s)
	if s.Bytes != 134 {
		t.Fatalf("got %d bytes, want 134", s.Bytes)
	}
	if got, want := s.String(), "CONNECT/0:1 SUBSCRIBE/1:1 PINGREQ/0:14"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	c.Reset()
	c.Snapshot(&s)
	if s.Bytes != 0 || len(s.Items) != 0 {
		t.Fatalf("after Reset got %+v, want empty", s)
	}
}

// TestCountersConcurrent: one writer, concurrent readers.
func TestCountersConcurrent(t *testing.T) {
	var c Counters
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the single writer
		defer wg.Done()
		for i := 0; i < 4000; i++ {
			c.Add(codec.TypePublish, byte(i%3), 10)
		}
	}()
	var s Snapshot
	for i := 0; i < 100; i++ {
		c.Snapshot(&s) // readers run beside the writers
	}
	wg.Wait()
	if got := c.Count(codec.TypePublish, 0) + c.Count(codec.TypePublish, 1) + c.Count(codec.TypePublish, 2); got != 4000 {
		t.Fatalf("got %d publishes, want 4000", got)
	}
	if c.Bytes() != 40000 {
		t.Fatalf("got %d bytes, want 40000", c.Bytes())
	}
}

func TestBrokerSnapshotSumsLoops(t *testing.T) {
	b := NewBroker(2)
	b.Loop(0).Received.Add(codec.TypePublish, 1, 10)
	b.Loop(1).Received.Add(codec.TypePublish, 1, 20)
	b.Loop(2).MessagesSent.Add(3)
	b.Connections.Add(5)
	var s BrokerSnapshot
	b.Snapshot(&s)
	if s.Received.Bytes != 30 || s.Received.String() != "PUBLISH/1:2" || s.MessagesSent != 3 || s.Connections != 5 {
		t.Fatalf("got %+v", s)
	}
}

func TestLocalFlushTo(t *testing.T) {
	var l Local
	var c Counters
	l.Add(codec.TypePublish, 1, 10)
	l.Add(codec.TypePublish, 1, 10)
	l.Add(codec.TypeDisconnect, 0, 2)
	if c.Bytes() != 0 {
		t.Fatal("Local published before FlushTo")
	}
	l.FlushTo(&c)
	l.FlushTo(&c) // a second flush adds nothing
	var s Snapshot
	c.Snapshot(&s)
	if s.Bytes != 22 || s.String() != "PUBLISH/1:2 DISCONNECT/0:1" {
		t.Fatalf("got %d bytes %s", s.Bytes, s.String())
	}
}

// TestSlots: every combination that can occur has its own slot, in type
// order, and one that cannot counts bytes only.
func TestSlots(t *testing.T) {
	var c Counters
	all := []struct {
		t   codec.Type
		qos byte
	}{{codec.TypeConnect, 0}, {codec.TypeConnack, 0}, {codec.TypePublish, 0}, {codec.TypePublish, 1},
		{codec.TypePublish, 2}, {codec.TypePuback, 0}, {codec.TypePubrec, 0}, {codec.TypePubrel, 1},
		{codec.TypePubcomp, 0}, {codec.TypeSubscribe, 1}, {codec.TypeSuback, 0}, {codec.TypeUnsubscribe, 1},
		{codec.TypeUnsuback, 0}, {codec.TypePingreq, 0}, {codec.TypePingresp, 0}, {codec.TypeDisconnect, 0}}
	for _, k := range all {
		c.Add(k.t, k.qos, 1)
	}
	c.Add(codec.TypeConnect, 2, 5) // cannot occur: bytes only
	var s Snapshot
	c.Snapshot(&s)
	if len(s.Items) != len(all) || s.Bytes != 21 {
		t.Fatalf("got %d items %d bytes, want %d and 21", len(s.Items), s.Bytes, len(all))
	}
	for i, it := range s.Items {
		if it.Type != all[i].t || it.QoS != all[i].qos || it.Count != 1 {
			t.Fatalf("item %d: got %+v, want %v/%d:1", i, it, all[i].t, all[i].qos)
		}
	}
	if sz := unsafe.Sizeof(Client{}); sz > 64 {
		t.Fatalf("Client counters take %d bytes, want at most 64", sz)
	}
}

// TestCountersInlineThenTable: the first two kinds counted stay in the
// inline words, a third brings the table, and every count stays exact
// across the change, after Reset and after it.
func TestCountersInlineThenTable(t *testing.T) {
	var c Counters
	c.Add(codec.TypeConnect, 0, 14)
	c.AddN(codec.TypePingreq, 0, 5, 10)
	if c.table.Load() != nil {
		t.Fatal("table allocated for two kinds, want inline words only")
	}
	c.Add(codec.TypePingreq, 0, 2)
	c.Add(codec.TypeSubscribe, 1, 20) // third kind: table
	if c.table.Load() == nil {
		t.Fatal("no table after a third kind")
	}
	c.Add(codec.TypePingreq, 0, 2) // now counted in the table, summed with the inline word
	c.Add(codec.TypeConnect, 0, 14)
	var s Snapshot
	c.Snapshot(&s)
	if got, want := s.String(), "CONNECT/0:2 SUBSCRIBE/1:1 PINGREQ/0:7"; got != want || s.Bytes != 62 {
		t.Fatalf("got %s, %d bytes; want %s, 62 bytes", got, s.Bytes, want)
	}
	c.Reset()
	c.Snapshot(&s)
	if s.Bytes != 0 || len(s.Items) != 0 {
		t.Fatalf("after Reset got %+v, want empty", s)
	}
	c.Add(codec.TypeDisconnect, 0, 2)
	c.Add(codec.TypeConnect, 0, 14)
	if got := c.Count(codec.TypeDisconnect, 0) + c.Count(codec.TypeConnect, 0); got != 2 {
		t.Fatalf("after Reset and two packets got %d counted, want 2", got)
	}
}

// TestCountersRacingKinds: writers of different kinds racing for the two
// inline words and the table lose no count (run with -race).
func TestCountersRacingKinds(t *testing.T) {
	kinds := []struct {
		t   codec.Type
		qos byte
	}{{codec.TypePingreq, 0}, {codec.TypePublish, 1}, {codec.TypePuback, 0}, {codec.TypeSubscribe, 1}}
	for range 20 {
		var c Counters
		var wg sync.WaitGroup
		for _, k := range kinds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 500 {
					c.Add(k.t, k.qos, 1)
				}
			}()
		}
		wg.Wait()
		for _, k := range kinds {
			if n := c.Count(k.t, k.qos); n != 500 {
				t.Fatalf("%v/%d: got %d, want 500", k.t, k.qos, n)
			}
		}
		if c.Bytes() != 2000 {
			t.Fatalf("got %d bytes, want 2000", c.Bytes())
		}
	}
}

// TestCountsAuth: MQTT 5.0's AUTH packets have a slot of their own, counted
// and reported like every other type (inline, then in the table).
func TestCountsAuth(t *testing.T) {
	var c Counters
	c.Add(codec.TypeAuth, 0, 10)
	c.Add(codec.TypeAuth, 0, 12)
	c.Add(codec.TypeConnect, 0, 30)
	c.Add(codec.TypePingreq, 0, 2) // a third kind: the table
	c.Add(codec.TypeAuth, 0, 11)
	var s Snapshot
	c.Snapshot(&s)
	if got, want := s.String(), "CONNECT/0:1 PINGREQ/0:1 AUTH/0:3"; got != want || s.Bytes != 65 {
		t.Fatalf("snapshot %q, %d bytes; want %q, 65 bytes", got, s.Bytes, want)
	}
	if n := c.Count(codec.TypeAuth, 0); n != 3 {
		t.Fatalf("Count(AUTH) %d, want 3", n)
	}
	var l Local
	l.Add(codec.TypeAuth, 0, 5)
	var c2 Counters
	l.FlushTo(&c2)
	if n := c2.Count(codec.TypeAuth, 0); n != 1 || c2.Bytes() != 5 {
		t.Fatalf("Local AUTH: %d packets, %d bytes; want 1, 5", n, c2.Bytes())
	}
}
