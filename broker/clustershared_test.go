package broker

import (
	"slices"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
)

// sharedRecordingCluster is recordingCluster that also serves shared
// subscriptions cluster-wide, logging SharedInterest as "+group filter" or
// "-group filter".
type sharedRecordingCluster struct {
	recordingCluster
	shared []string
}

func (r *sharedRecordingCluster) SharedInterest(group, filter string, add bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sign := "-"
	if add {
		sign = "+"
	}
	r.shared = append(r.shared, sign+group+" "+filter)
}

func (r *sharedRecordingCluster) sharedCalls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.shared)
}

// TestClusterSharedInterest: with a cluster that serves shared
// subscriptions, a group's first and last member on this node are
// reported to it, once per group and filter, and members are not interest
// in the filter; groups restored before the engine joined are reported too.
func TestClusterSharedInterest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Loops, cfg.DataDir = 2, t.TempDir()
	e := NewEngine(cfg)
	s1, _ := e.reg.Open("m1", 0)
	s2, _ := e.reg.Open("m2", 0)
	e.router.add("$share/restored/r/#", s1, 1, nil)
	rc := &sharedRecordingCluster{}
	e.UseCluster(rc)
	e.router.add("$share/g/x/+", s1, 1, nil)
	e.router.add("$share/g/x/+", s2, 0, nil)   // a second member: nothing new
	e.router.add("$share/h/x/+", s2, 0, nil)   // another group at the same filter
	e.router.add("$share/g/x/#", s2, 0, nil)   // the same group at another filter
	e.router.add("x/+", s2, 1, nil)            // a plain subscriber: interest in the filter
	e.router.remove("$share/g/x/+", s1)        // one member left
	e.router.remove("$share/g/x/+", s2)        // the last
	e.router.remove("x/+", s2)                 // the plain one
	e.router.remove("$share/h/x/+", s2)        // and the other group's
	e.router.remove("$share/nobody/x/+", s1)   // never joined: nothing
	e.router.remove("$share/restored/r/#", s2) // not a member: nothing
	want := []string{"+restored r/#", "+g x/+", "+h x/+", "+g x/#", "-g x/+", "-h x/+"}
	if got := rc.sharedCalls(); !slices.Equal(got, want) {
		t.Fatalf("SharedInterest calls %q, want %q", got, want)
	}
	if got, _ := rc.calls(); !slices.Equal(got, []string{"+x/+", "-x/+"}) {
		t.Fatalf("Interest calls %q, want only the plain subscriber's", got)
	}
}

// TestClusterDeliverShared: a local PUBLISH reaches local plain
// subscribers but not the local members of a group, which the cluster
// serves; DeliverShared gives each message to one member of the named
// group only (round robin here), never to plain subscribers, and a message
// for a group this node does not have goes nowhere.
func TestClusterDeliverShared(t *testing.T) {
	rc := &sharedRecordingCluster{}
	cfg := DefaultConfig()
	cfg.Listen, cfg.Loops, cfg.DataDir, cfg.SysInterval, cfg.Persistence = "127.0.0.1:0", 2, t.TempDir(), 0, "off"
	e := NewEngine(cfg)
	e.UseCluster(rc)
	s := NewServer(e)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(5 * time.Second) })
	m1, m2, plain := dialRaw(t, s), dialRaw(t, s), dialRaw(t, s)
	m1.connect("m1", true, false)
	m2.connect("m2", true, false)
	plain.connect("plain", true, false)
	m1.subscribe(1, "$share/g/t/#", 1)
	m2.subscribe(1, "$share/g/t/#", 1)
	plain.subscribe(1, "t/#", 1)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("t/local", "l", 0, false, 0)
	if p := plain.readPublish(); string(p.TopicName) != "t/local" {
		t.Fatalf("plain subscriber got %q, want t/local", p.TopicName)
	}
	// A topic only the group matches here: the cluster delivers it, so a
	// 5.0 publisher is not told 0x10 No matching subscribers.
	m3 := dialRaw(t, s)
	m3.connect("m3", true, false)
	m3.subscribe(1, "$share/g2/only/+", 1)
	v5 := dialRaw(t, s)
	v5.connect5("v5pub", true, nil)
	v5.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 1, PacketID: 9, TopicName: []byte("only/x"), Payload: []byte("x")}))
	v5.expectPacket("40 02 0009")
	v5.send(codec.AppendPublishV5(nil, &codec.Publish{QoS: 1, PacketID: 10, TopicName: []byte("nobody/x"), Payload: []byte("x")}))
	v5.expectPacket("40 03 000a 10")
	m3.expectSilence(200 * time.Millisecond) // the cluster's to deliver, and this one delivers nothing
	s.Engine().DeliverShared("g", "t/#", func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte)) {
		for _, p := range []string{"1", "2", "3", "4"} {
			deliver([]byte("t/shared"), []byte(p), nil, 0, false, 0, []byte("pub"))
		}
	})
	s.Engine().DeliverShared("other", "t/#", func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte)) {
		deliver([]byte("t/shared"), []byte("nobody"), nil, 0, false, 0, nil)
	})
	var got []string
	for _, m := range []*rawClient{m1, m2} {
		for range 2 {
			p := m.readPublish()
			if string(p.TopicName) != "t/shared" {
				t.Fatalf("member got %q, want t/shared only (t/local was the cluster's to give)", p.TopicName)
			}
			got = append(got, string(p.Payload))
		}
	}
	if slices.Sort(got); !slices.Equal(got, []string{"1", "2", "3", "4"}) {
		t.Fatalf("members got %q, want 1 to 4 once each", got)
	}
	for _, c := range []*rawClient{m1, m2, plain} {
		c.expectSilence(300 * time.Millisecond)
	}
	if calls := rc.sharedCalls(); !slices.Equal(calls, []string{"+g t/#", "+g2 only/+"}) {
		t.Fatalf("SharedInterest calls %q, want +g t/# and +g2 only/+", calls)
	}
}
