package broker

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/glassmq/glassmq/auth"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// sinkTransport counts written bytes and discards them: the benchmark
// measures the engine, not a socket.
type sinkTransport struct{ written int }

func (t *sinkTransport) Peek() []byte          { return nil }
func (t *sinkTransport) Discard(int)           {}
func (t *sinkTransport) Write(b []byte) error  { t.written += len(b); return nil }
func (t *sinkTransport) OutboundBuffered() int { return 0 }
func (t *sinkTransport) Close()                {}
func (t *sinkTransport) RemoteAddr() string    { return "127.0.0.1:1" }
func (sameLoop) Execute(fn func())             { fn() }

type sameLoop struct{}

// routeFixture builds an engine with one loop and n connected QoS 0
// subscribers to "bench/topic".
func routeFixture(tb testing.TB, n int) (*loopState, []*sinkTransport) {
	cfg := DefaultConfig()
	cfg.Loops = 1
	e := NewEngine(cfg)
	h := e.BindLoop(sameLoop{})
	var sinks []*sinkTransport
	for i := 0; i < n; i++ {
		tr := &sinkTransport{}
		e.router.add("bench/topic", attachedConn(tb, e, h, tr, "sub-"+strconv.Itoa(i)).sess, 0, nil)
		sinks = append(sinks, tr)
	}
	return h.ls, sinks
}

// attachedConn opens a connection over tr on h's loop with a clean session
// id attached, as a CONNECT would leave it, without the protocol.
func attachedConn(tb testing.TB, e *Engine, h *LoopHandle, tr Transport, id string) *Conn {
	e.Admit()
	c := e.Open(tr, h)
	c.state = stateConnected
	c.meta = &session.ConnMeta{CleanSession: true}
	s, _ := e.reg.Open(id, 0)
	c.sess = s
	s.Claim(c, "", 0)
	if _, ok := s.Attach(c, c.meta, 0); !ok {
		tb.Fatal("attach failed")
	}
	return c
}

// BenchmarkRouteQoS0 is one QoS 0 PUBLISH routed to local subscribers and
// flushed: match, encode once, copy per subscriber, count, write.
func BenchmarkRouteQoS0(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run("subs-"+strconv.Itoa(n)+"-64B", func(b *testing.B) {
			ls, _ := routeFixture(b, n)
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

// BenchmarkRouteQoS0Burst is a round of 60 QoS 0 PUBLISHes of 1 KiB (one
// 64 KiB read's worth) routed to 10 subscribers and flushed; per message.
func BenchmarkRouteQoS0Burst(b *testing.B) {
	ls, _ := routeFixture(b, 10)
	topic, payload := []byte("bench/topic"), make([]byte, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(60 * codec.PublishSize(0, len(topic), len(payload))))
	for b.Loop() {
		for range 60 {
			ls.route(topic, payload, 0, nil)
		}
		ls.flush()
	}
}

// filterFixture makes every subscription of a routeFixture a filtered one,
// under real ACL rules that deny bench/secret and allow the rest, so each
// delivery asks Perms.CanReceive.
func filterFixture(tb testing.TB, ls *loopState) {
	a, err := auth.Load(auth.Options{ACLFile: writeTemp(tb, "acl.conf", "deny subscribe all bench/secret\nallow pubsub all #\n")})
	if err != nil {
		tb.Fatal(err)
	}
	p := a.For("", "sub")
	if granted, filtered := p.CanSubscribe("bench/+"); !granted || !filtered {
		tb.Fatalf("CanSubscribe(bench/+) = %v, %v; want true, true", granted, filtered)
	}
	n := ls.e.router.root.children["bench"].children["topic"]
	for _, e := range slices.Clone(n.subs) {
		ls.e.router.add("bench/topic", e.s, 0, p)
	}
}

// BenchmarkRouteQoS0Filtered is BenchmarkRouteQoS0 to subscriptions that an
// ACL deny rule is narrower than: one CanReceive per delivery on top.
func BenchmarkRouteQoS0Filtered(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run("subs-"+strconv.Itoa(n)+"-64B", func(b *testing.B) {
			ls, _ := routeFixture(b, n)
			filterFixture(b, ls)
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

// writeTemp writes text to a file named name in a fresh temporary directory
// and returns its path.
func writeTemp(tb testing.TB, name, text string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkRouterMatchParallel matches one topic from every P at once, as
// the event loops do. "one-lock" has every goroutine use reader 0, which is
// what a single RWMutex did before each loop had its own; "per-loop" is the
// router as the engine uses it.
func BenchmarkRouterMatchParallel(b *testing.B) {
	var r router
	procs := runtime.GOMAXPROCS(0)
	r.init(procs + 1)
	var reg session.Registry[Conn]
	for i := range 1000 {
		s, _ := reg.Open("s"+strconv.Itoa(i), 0)
		r.add("dev/"+strconv.Itoa(i)+"/cmd", s, 1, nil)
		r.add("dev/+/telemetry", s, 0, nil)
	}
	topic := []byte("dev/7/cmd")
	for _, tc := range []struct {
		name   string
		shared bool
	}{{"one-lock", true}, {"per-loop", false}} {
		b.Run(tc.name, func(b *testing.B) {
			var next atomic.Int32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				reader := 0
				if !tc.shared {
					reader = int(next.Add(1)-1) % procs
				}
				var out []target
				for pb.Next() {
					out = r.match(reader, topic, out[:0])
				}
			})
		})
	}
}

// BenchmarkRouterScale builds 1,000,000 subscriptions over 100,000
// sessions (per session: eight exact topics of its own and two wildcards
// shared with others), then measures SUBSCRIBE plus UNSUBSCRIBE of one more
// filter and the match of one PUBLISH at that size. It reports the heap
// bytes per subscription.
func BenchmarkRouterScale(b *testing.B) {
	const sessions, exact = 100_000, 8
	var r router
	r.init(2)
	var reg session.Registry[Conn]
	ss := make([]*clientSession, sessions)
	var mid, after runtime.MemStats
	for i := range ss {
		ss[i], _ = reg.Open("device-"+strconv.Itoa(i), 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&mid)
	for i, s := range ss {
		id := strconv.Itoa(i)
		for k := range exact {
			r.add("dev/"+id+"/cmd/"+strconv.Itoa(k), s, 1, nil)
		}
		r.add("fleet/"+strconv.Itoa(i%1000)+"/+/alarm", s, 1, nil)
		r.add("region/"+strconv.Itoa(i%100)+"/#", s, 0, nil)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSub := float64(after.HeapAlloc-mid.HeapAlloc) / float64(sessions*(exact+2))
	b.Run("subscribe-unsubscribe", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s := ss[i%sessions]
			f := "dev/" + strconv.Itoa(i%sessions) + "/extra"
			r.add(f, s, 1, nil)
			r.remove(f, s)
			i++
		}
		b.ReportMetric(perSub, "heapB/sub")
	})
	b.Run("match-exact", func(b *testing.B) {
		topic := []byte("dev/51234/cmd/3")
		var out []target
		b.ReportAllocs()
		for b.Loop() {
			out = r.match(0, topic, out[:0])
		}
	})
	b.Run("match-wildcards-100", func(b *testing.B) {
		topic := []byte("fleet/7/zone/alarm") // 100 sessions share fleet/7/+/alarm
		var out []target
		b.ReportAllocs()
		for b.Loop() {
			out = r.match(0, topic, out[:0])
		}
	})
	runtime.KeepAlive(ss)
}
