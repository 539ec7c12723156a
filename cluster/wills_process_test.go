package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
)

// TestClusterWillsOfDeadNode kills (SIGKILL) a node holding three clients
// with wills: a 3.1.1 client, whose will a survivor publishes once the
// dead node's lease has run out, exactly once; a 5.0 client with a Will
// Delay Interval longer than the lease, whose will comes that long after
// the death, not before [MQTT5-3.1.3-9]; and a 3.1.1 client that connects
// to another node right after the kill, before the lease ends, whose will
// is never published: the client is back.
func TestClusterWillsOfDeadNode(t *testing.T) {
	longtest.Skip(t, "runs three broker processes, kills one and waits out its lease")
	t.Parallel() // ports and data directories of its own (main_test.go)
	c := startFailCluster(t, 3, failLease)
	a, b, cc := c.nodes[0], c.nodes[1], c.nodes[2]
	obs := observe(t, c)

	var mu sync.Mutex
	got := map[string][]time.Time{} // will topic -> arrivals on b
	probes := 0
	// A persistent subscriber pinned to b, which subscribes again on every
	// connection: b may fence itself for a moment when a dies (a may lead
	// the lease bucket), closing its connections.
	handler := func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		defer mu.Unlock()
		if m.Topic() == "will/probe" {
			probes++
			return
		}
		got[m.Topic()] = append(got[m.Topic()], time.Now())
	}
	o := c.pahoOptions(b, "will-watch")
	o.Servers = o.Servers[:1]
	o.SetDefaultPublishHandler(handler).SetOnConnectHandler(func(cl mqtt.Client) { cl.Subscribe("will/#", 1, handler) })
	watch := mqtt.NewClient(o)
	if tok := watch.Connect(); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
		t.Fatalf("connect on %s: %v", b.name, tok.Error())
	}
	t.Cleanup(func() { watch.Disconnect(0) })
	prober := client(t, &node{name: a.name, mqtt: a.mqtt}, "will-probe", nil)
	waitLong(t, "a probe from "+a.name+" to reach "+b.name, time.Minute, func() bool {
		publish(t, prober, "will/probe", 0, false, "probe")
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return probes > 0
	})

	withWill := func(id, topic string) {
		cl := client(t, &node{name: a.name, mqtt: a.mqtt}, id, func(o *mqtt.ClientOptions) {
			o.SetWill(topic, id+" gone", 1, false).SetKeepAlive(0)
		})
		_ = cl
	}
	withWill("will-v3", "will/v3")
	withWill("will-back", "will/back")
	// A 5.0 client whose will waits 12 s (more than the 8 s lease) after
	// its connection ends, in a session that outlives it.
	const delay = 12
	p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, ClientID: []byte("will-v5"),
		WillFlag: true, WillQoS: 1, WillTopic: []byte("will/v5"), WillMessage: []byte("will-v5 gone")}
	p.Props.SessionExpiry = 300
	p.Props.Set(codec.PropSessionExpiry)
	p.WillProps.WillDelay = delay
	p.WillProps.Set(codec.PropWillDelay)
	v5, err := net.Dial("tcp", a.mqtt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v5.Close() })
	if _, err := v5.Write(codec.AppendConnect(nil, p)); err != nil {
		t.Fatal(err)
	}
	v5.SetReadDeadline(time.Now().Add(30 * time.Second))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(v5, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("5.0 CONNACK on %s: % x, %v; want accepted", a.name, ack, err)
	}

	// Every will is in the bucket before the kill.
	js, err := jetstream.New(obs.nc)
	if err != nil {
		t.Fatal(err)
	}
	var wills jetstream.KeyValue
	waitLong(t, "the three wills in the bucket", time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if wills == nil {
			if wills, err = js.KeyValue(ctx, "glassmq_wills"); err != nil {
				wills = nil
				return false
			}
		}
		keys, err := wills.Keys(ctx)
		n := 0
		for _, k := range keys {
			if strings.HasPrefix(k, "will-") {
				n++
			}
		}
		return err == nil && n == 3
	})

	a.kill(t)
	killed := time.Now()
	t.Logf("killed %s", a.name)
	// will-back connects to c at once; its CONNECT waits out a's lease.
	// While JetStream elects leaders after the kill, c may fence itself
	// for a moment (the 8 s lease is short) and refuse it with Server
	// Unavailable: it tries again, as a client would. Coming back late
	// is not excused: its will must still never be published.
	back := make(chan error, 1)
	go func() {
		cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + cc.mqtt).SetClientID("will-back").
			SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(2 * time.Minute))
		t.Cleanup(func() { cl.Disconnect(0) })
		for deadline := time.Now().Add(2 * time.Minute); ; {
			tok := cl.Connect()
			tok.WaitTimeout(2 * time.Minute)
			err := tok.Error()
			if err == nil || !strings.Contains(err.Error(), "Unavailable") || time.Now().After(deadline) {
				back <- err
				return
			}
			t.Logf("will-back's CONNECT on %s refused (%v); trying again", cc.name, err)
			time.Sleep(250 * time.Millisecond)
		}
	}()

	arrived := func(topic string) int {
		mu.Lock()
		defer mu.Unlock()
		return len(got[topic])
	}
	waitLong(t, "will-v3's will on "+b.name, 3*time.Minute, func() bool { return arrived("will/v3") > 0 })
	waitLong(t, "will-v5's will on "+b.name, 3*time.Minute, func() bool { return arrived("will/v5") > 0 })
	if err := <-back; err != nil {
		t.Fatalf("will-back's CONNECT on %s: %v", cc.name, err)
	}
	// Anything sent twice, or will-back's will, would come now.
	time.Sleep(3 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("wills on %s after the kill: v3 %v, v5 %v, back %d", b.name,
		since(got["will/v3"], killed), since(got["will/v5"], killed), len(got["will/back"]))
	if n := len(got["will/v3"]); n != 1 {
		t.Errorf("will-v3's will arrived %d times, want once", n)
	}
	if n := len(got["will/v5"]); n != 1 {
		t.Errorf("will-v5's will arrived %d times, want once", n)
	}
	// A renewal is seen at most a second before the death.
	if d := got["will/v5"][0].Sub(killed); d < (delay-1)*time.Second {
		t.Errorf("will-v5's will came %v after the kill, want its %d s delay first [MQTT5-3.1.3-9]", d, delay)
	}
	if n := len(got["will/back"]); n != 0 {
		t.Errorf("will-back's will arrived %d times; its client came back to %s before the lease ended, want none", n, cc.name)
	}
	// The survivors count what they published, on /api/v1/cluster and
	// /metrics.
	published := uint64(0)
	for _, nd := range []*fnode{b, cc} {
		v, err := nd.view()
		if err != nil {
			t.Fatalf("%s: %v", nd.name, err)
		}
		published += v.Counters.WillsPublished
		resp, err := http.Get("http://" + nd.admin + "/metrics")
		if err != nil {
			t.Fatalf("%s /metrics: %v", nd.name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("glassmq_cluster_wills_total{event=\"published\"} %d\n", v.Counters.WillsPublished)
		if err != nil || !strings.Contains(string(body), want) {
			t.Errorf("%s /metrics lacks %q (err %v)", nd.name, want, err)
		}
	}
	if published != 2 {
		t.Errorf("wills_published summed over %s and %s = %d, want 2 (will-v3's and will-v5's)", b.name, cc.name, published)
	}
}

// since returns how long after t0 each of ts was.
func since(ts []time.Time, t0 time.Time) []time.Duration {
	var out []time.Duration
	for _, t := range ts {
		out = append(out, t.Sub(t0).Round(10*time.Millisecond))
	}
	return out
}
