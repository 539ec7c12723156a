package broker

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// recordingCluster is the cluster side of the seam as a log of calls.
type recordingCluster struct {
	mu       sync.Mutex
	interest []string // "+filter" or "-filter"
	forwards []string // "topic payload qos retain from"
}

func (r *recordingCluster) Interest(filter string, add bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sign := "-"
	if add {
		sign = "+"
	}
	r.interest = append(r.interest, sign+filter)
}

func (r *recordingCluster) Forward(topic, payload []byte, qos byte, retain bool, props []byte, expires int64, from string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forwards = append(r.forwards, fmt.Sprintf("%s %s %d %v %s", topic, payload, qos, retain, from))
	return 0
}

func (r *recordingCluster) Flush(bool)                        {}
func (r *recordingCluster) Confirmed(uint64) bool             { return true }
func (r *recordingCluster) WhenConfirmed(_ uint64, fn func()) { fn() }

func (r *recordingCluster) calls() (interest, forwards []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.interest), slices.Clone(r.forwards)
}

func startClusterBroker(t *testing.T, rc *recordingCluster) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen, cfg.Loops, cfg.DataDir, cfg.SysInterval, cfg.Persistence = "127.0.0.1:0", 2, t.TempDir(), 0, "off"
	e := NewEngine(cfg)
	e.UseCluster(rc)
	s := NewServer(e)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(5 * time.Second) })
	return s
}

// TestClusterInterest: the cluster hears of a filter's first local
// subscriber and of its last, once each, whatever the number in between,
// and a clean session's close counts as leaving.
func TestClusterInterest(t *testing.T) {
	rc := &recordingCluster{}
	s := startClusterBroker(t, rc)
	a, b := dialRaw(t, s), dialRaw(t, s)
	a.connect("a", true, false)
	b.connect("b", true, false)
	a.subscribe(1, "x/+", 1)
	b.subscribe(1, "x/+", 0)
	a.subscribe(2, "x/+", 2) // again: replaces, no new interest
	b.subscribe(2, "y/#", 0)
	a.send(codec.AppendUnsubscribe(nil, 3, [][]byte{[]byte("x/+")}))
	a.expectPacket("b0 02 00 03")
	b.c.Close() // clean session ends: x/+ and y/# lose their last subscriber
	want := []string{"+x/+", "+y/#", "-x/+", "-y/#"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := rc.calls()
		slices.Sort(got[2:]) // the close removes both filters in session order
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Interest calls %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterForward: what a local client publishes goes to the cluster
// once, with its QoS, retain flag and client ID; $-topics and messages from
// other nodes (DeliverRemote) do not, and DeliverRemote reaches local
// subscribers and the retained store.
func TestClusterForward(t *testing.T) {
	rc := &recordingCluster{}
	s := startClusterBroker(t, rc)
	sub := dialRaw(t, s)
	sub.connect("sub", true, false)
	sub.subscribe(1, "t/#", 1)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("t/1", "one", 1, false, 7)
	pub.expectPacket("40 02 00 07")
	pub.publish("t/2", "two", 0, true, 0)
	pub.publish("$SYS/x", "no", 0, false, 0) // clients may not publish to $-topics
	var local []string                       // QoS 0 may overtake QoS 1 on another topic
	for range 2 {
		p := sub.readPublish()
		local = append(local, string(p.TopicName))
		if p.QoS == 1 {
			sub.send(codec.AppendPuback(nil, p.PacketID))
		}
	}
	if slices.Sort(local); !slices.Equal(local, []string{"t/1", "t/2"}) {
		t.Fatalf("local subscriber got %q, want t/1 and t/2", local)
	}
	s.Engine().DeliverRemote(func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64)) {
		deliver([]byte("t/remote"), []byte("r"), nil, 1, false, 0)
		deliver([]byte("t/kept"), []byte("k"), nil, 0, true, 0)
	})
	var got []string // QoS 0 may overtake QoS 1 on another topic
	for range 2 {
		p := sub.readPublish()
		if p.Retain {
			t.Fatalf("got %q retain true, want a live delivery", p.TopicName)
		}
		got = append(got, string(p.TopicName))
		if p.QoS == 1 {
			sub.send(codec.AppendPuback(nil, p.PacketID))
		}
	}
	if slices.Sort(got); !slices.Equal(got, []string{"t/kept", "t/remote"}) {
		t.Fatalf("local subscriber got %q from another node, want t/kept and t/remote", got)
	}
	late := dialRaw(t, s)
	late.connect("late", true, false)
	late.subscribe(1, "t/kept", 0)
	if p := late.readPublish(); string(p.TopicName) != "t/kept" || !p.Retain || string(p.Payload) != "k" {
		t.Fatalf("retained from another node: got %q %q retain %v", p.TopicName, p.Payload, p.Retain)
	}
	_, fw := rc.calls()
	want := []string{"t/1 one 1 false pub", "t/2 two 0 true pub"}
	if !slices.Equal(fw, want) {
		t.Fatalf("Forward calls %q, want %q", fw, want)
	}
}

// TestClusterRestoredInterest: filters the engine already routes when it
// joins the cluster (persistent sessions restored by UseStore) are
// reported as interest, once each.
func TestClusterRestoredInterest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Loops, cfg.DataDir = 2, t.TempDir()
	e := NewEngine(cfg)
	s1, _ := e.reg.Open("restored-1", 0)
	s2, _ := e.reg.Open("restored-2", 0)
	e.router.add("a/#", s1, 1, nil)
	e.router.add("a/#", s2, 0, nil)
	e.router.add("b/c", s2, 2, nil)
	rc := &recordingCluster{}
	e.UseCluster(rc)
	got, _ := rc.calls()
	slices.Sort(got)
	if want := []string{"+a/#", "+b/c"}; !slices.Equal(got, want) {
		t.Fatalf("Interest calls %q, want %q", got, want)
	}
	e.router.remove("a/#", s1)
	e.router.remove("a/#", s2)
	if got, _ = rc.calls(); got[len(got)-1] != "-a/#" || len(got) != 3 {
		t.Fatalf("after the last subscriber of a/# left: %q, want one -a/# more", got)
	}
}
