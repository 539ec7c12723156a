package broker

import (
	"sync"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session/store"
)

// BenchmarkPersistentQoS1 measures QoS 1 throughput from one publisher to
// one online persistent subscriber, through real sockets, with the store
// off, synced every second, and synced before every ack. The publisher
// keeps 100 messages unacknowledged; the subscriber acknowledges each.
func BenchmarkPersistentQoS1(b *testing.B) {
	for _, mode := range []string{"off", "interval", "always"} {
		b.Run(mode, func(b *testing.B) {
			var s *Server
			if mode == "off" {
				s = startBroker(b, func(c *Config) { c.MaxQueued = 100000 })
			} else {
				var db *store.DB
				s, db = startPersistent(b, b.TempDir(), mode, func(c *Config) { c.FsyncInterval = time.Second })
				defer stopPersistent(b, s, db)
			}
			sub := dialRaw(b, s)
			sub.connect("bench-sub", false, false)
			sub.subscribe(1, "bench/q1", 1)
			pub := dialRaw(b, s)
			pub.connect("bench-pub", true, false)
			payload := make([]byte, 64)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { // subscriber: ack everything
				defer wg.Done()
				for i := 0; i < b.N; i++ {
					p, err := sub.next(30 * time.Second)
					if err != nil {
						b.Errorf("subscriber after %d: %v", i, err)
						return
					}
					var m codec.Publish
					m.Decode(p)
					sub.c.Write(codec.AppendPuback(nil, m.PacketID))
				}
			}()
			window := make(chan struct{}, 100)
			go func() { // publisher acks
				defer wg.Done()
				for i := 0; i < b.N; i++ {
					if _, err := pub.next(30 * time.Second); err != nil {
						b.Errorf("publisher after %d acks: %v", i, err)
						return
					}
					<-window
				}
			}()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				window <- struct{}{}
				pub.c.Write(codec.AppendPublish(nil, &codec.Publish{QoS: 1, TopicName: []byte("bench/q1"), PacketID: uint16(i%60000 + 1), Payload: payload}))
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
		})
	}
}
