package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/session/store"
)

// BenchmarkAdminUnderLoad measures DescribeMQTTClient latency through the
// real admin port while the broker carries a full-speed QoS 0 publish load
// (pairs of raw TCP clients) and holds 100k registered sessions (restored
// from a store, as after a restart). It reports p50/p99/max in µs and the
// publish rate the broker sustained meanwhile; it asserts nothing about
// speed.
func BenchmarkAdminUnderLoad(b *testing.B) {
	const sessions = 100000
	dir := b.TempDir()
	db, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for i := 0; i < sessions; i++ {
		id := fmt.Sprintf("GID_fleet@@@device-%06d", i)
		db.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: &session.Record{ClientID: id,
			CreateTime: now, ConnectTime: now, DisconnectTime: now, Expiry: 7200,
			Subscriptions: []session.Subscription{{TopicFilter: "fleet/" + id + "/cmd", QoS: 1}}}})
	}
	db.Close()
	if db, err = store.Open(store.Options{Dir: dir}); err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	cfg := broker.DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.SysInterval = "127.0.0.1:0", dir, 0
	eng := broker.NewEngine(cfg)
	if err := eng.UseStore(db); err != nil {
		b.Fatal(err)
	}
	srv := broker.NewServer(eng)
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(5 * time.Second)
	acfg := admin.DefaultConfig()
	acfg.DescribeRate = 1e6 // measure latency, not the limiter
	adm, err := admin.New(acfg, eng, eng.Stats())
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go adm.Serve(ln)
	defer adm.Shutdown()

	// Full-speed load: 4 publisher/subscriber pairs, QoS 0, 64 B.
	stop := make(chan struct{})
	var delivered atomic.Int64
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		topic := fmt.Sprintf("load/%d", p)
		sub := mqttConn(b, srv.Addr().String(), "load-sub-"+topic)
		sub.Write(codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte(topic)}}))
		readN(b, sub, 5) // SUBACK
		pub := mqttConn(b, srv.Addr().String(), "load-pub-"+topic)
		frame := codec.AppendPublish(nil, &codec.Publish{TopicName: []byte(topic), Payload: make([]byte, 64)})
		burst := bytes.Repeat(frame, 256)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := pub.Write(burst); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for {
				sub.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err := sub.Read(buf)
				delivered.Add(int64(n / len(frame)))
				if err != nil {
					return
				}
			}
		}()
		defer sub.Close()
		defer pub.Close()
	}
	time.Sleep(300 * time.Millisecond) // reach full speed

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	url := "http://" + ln.Addr().String() + "/"
	lat := make([]time.Duration, 0, b.N)
	startDelivered, start := delivered.Load(), time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("GID_fleet@@@device-%06d", rand.IntN(sessions))
		body := fmt.Sprintf(`{"InstanceId":"mqtt-local","ClientId":%q}`, id)
		req, _ := http.NewRequest("POST", url, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-TC-Action", "DescribeMQTTClient")
		req.Header.Set("X-TC-Version", "2023-03-08")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if !bytes.Contains(out, []byte(`"ConnectionStatus":"DISCONNECTED"`)) {
			b.Fatalf("got %s", out)
		}
	}
	b.StopTimer()
	rate := float64(delivered.Load()-startDelivered) / time.Since(start).Seconds()
	close(stop)
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.5), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	b.ReportMetric(rate, "load-msg/s")
}

func mqttConn(b *testing.B, addr, id string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	c.Write(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4, CleanSession: true, ClientID: []byte(id)}))
	readN(b, c, 4) // CONNACK
	return c
}

func readN(b *testing.B, c net.Conn, n int) {
	buf := make([]byte, n)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		b.Fatal(err)
	}
}
