package admin

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/trace"
)

// BenchmarkNativeClientTrace measures GET /api/v1/clients/{id} without
// traces and with full trace rings (-trace-max-events 100000 over two
// loops) of other clients' messages, as a QoS 1 load leaves them: the
// answer's trace section reads only the trace chunks whose client filter
// may hold the client, so its cost follows the client's own events. The
// first request builds the filters; trace's BenchmarkFindClientCold
// measures a lookup that finds none built.
func BenchmarkNativeClientTrace(b *testing.B) {
	for _, events := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
			info := seedInfo()
			s := newTestServer(b, newFakeBroker(info), nil)
			if events > 0 {
				tr := trace.New(trace.Config{MaxEvents: events}, 2, time.Now())
				s.UseTracer(tr)
				now := time.Now().UnixMicro()
				for i := range events {
					r := tr.Ring(i % 2)
					r.Add(trace.Event{Time: now, MsgID: r.NextMsgID(), ClientID: fmt.Sprintf("load-%d", i%20),
						Kind: trace.KindPublish, Info: trace.InfoPubFromClient})
				}
				tr.Ring(0).Sync()
				tr.Ring(1).Sync()
			}
			r := &testReq{method: "GET", path: "/api/v1/clients/" + url.PathEscape(info.ClientID)}
			out := handlerLoop(b, s, r.raw(), benchLoop(b))
			if !strings.Contains(out, `"status":"online"`) {
				b.Fatalf("not a success: %.200s", out)
			}
		})
	}
}
