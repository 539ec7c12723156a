package broker

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// sharedFixture builds an engine with one loop and groups shared
// subscriptions at "bench/topic" of members connected QoS 0 sessions each,
// picking members by st, plus plain connected QoS 0 subscribers.
func sharedFixture(tb testing.TB, groups, members, plain int, st shareStrategy) (*loopState, []*sinkTransport) {
	cfg := DefaultConfig()
	cfg.Loops = 1
	e := NewEngine(cfg)
	e.router.share = st
	h := e.BindLoop(sameLoop{})
	var sinks []*sinkTransport
	for g := range groups {
		for m := range members {
			tr := &sinkTransport{}
			c := attachedConn(tb, e, h, tr, "g"+strconv.Itoa(g)+"-m"+strconv.Itoa(m))
			e.router.add("$share/g"+strconv.Itoa(g)+"/bench/topic", c.sess, 0, nil)
			sinks = append(sinks, tr)
		}
	}
	for i := range plain {
		tr := &sinkTransport{}
		e.router.add("bench/topic", attachedConn(tb, e, h, tr, "plain-"+strconv.Itoa(i)).sess, 0, nil)
		sinks = append(sinks, tr)
	}
	return h.ls, sinks
}

// BenchmarkRouteShared is one QoS 0 PUBLISH routed and flushed to shared
// subscription groups of 3 connected members each (one delivery per
// group), by strategy; "plain-10" is the same number of deliveries to 10
// plain subscribers, for comparison.
func BenchmarkRouteShared(b *testing.B) {
	for _, tc := range []struct {
		name                   string
		groups, members, plain int
		st                     shareStrategy
	}{
		{"plain-10", 0, 0, 10, shareRoundRobin},
		{"groups-1x3/round_robin", 1, 3, 0, shareRoundRobin},
		{"groups-10x3/round_robin", 10, 3, 0, shareRoundRobin},
		{"groups-10x3/random", 10, 3, 0, shareRandom},
		{"groups-10x3/hash_clientid", 10, 3, 0, shareHashClientID},
		{"groups-10x3+plain-10/round_robin", 10, 3, 10, shareRoundRobin},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ls, _ := sharedFixture(b, tc.groups, tc.members, tc.plain, tc.st)
			topic, payload := []byte("bench/topic"), make([]byte, 64)
			b.ReportAllocs()
			b.SetBytes(int64(codec.PublishSize(0, len(topic), len(payload))))
			for b.Loop() {
				ls.route(topic, payload, 0, nil)
				ls.flush()
			}
		})
	}
}

// BenchmarkRouterMatchSharedParallel matches one topic with 10 round-robin
// groups of 3 members from every P at once, each with its own reader as
// the event loops do: the groups' atomic cursors are the only shared
// writes.
func BenchmarkRouterMatchSharedParallel(b *testing.B) {
	var r router
	procs := runtime.GOMAXPROCS(0)
	r.init(procs + 1)
	var reg session.Registry[Conn]
	for g := range 10 {
		for m := range 3 {
			s, _ := reg.Open("g"+strconv.Itoa(g)+"-m"+strconv.Itoa(m), 0)
			r.add("$share/g"+strconv.Itoa(g)+"/dev/+/telemetry", s, 1, nil)
		}
	}
	topic := []byte("dev/7/telemetry")
	var next atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		reader := int(next.Add(1)-1) % procs
		var out []target
		for pb.Next() {
			out = r.matchFrom(reader, topic, "publisher", out[:0])
		}
	})
}
