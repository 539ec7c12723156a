package admin

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/stats"
)

// value returns the value of the metric of family name whose labels include
// want, and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestMetrics: /metrics parses as the Prometheus text format and carries the
// broker-wide counters and the admin counters.
func TestMetrics(t *testing.T) {
	sb := stats.NewBroker(2)
	l := sb.Loop(0)
	l.Received.Add(codec.TypeConnect, 0, 37)
	l.Received.Add(codec.TypePublish, 1, 100)
	l.Sent.Add(codec.TypeConnack, 0, 4)
	l.MessagesReceived.Add(1)
	l.DroppedQoS0.Add(3)
	l.DroppedHandoff.Add(4)
	l.DroppedTooLarge.Add(3)
	l.Handoff.Items.Store(6)
	l.Handoff.Bytes.Store(600)
	l.Handoff.ObserveWait(20 * time.Microsecond)
	l.Handoff.ObserveWait(2 * time.Second)
	l.Malformed.Add(2)
	l.Connects.Add(1)
	sb.Loop(1).Received.Add(codec.TypePublish, 1, 50)
	sb.Connections.Store(1)
	sb.Sessions.Store(5)
	sb.Retained.Store(7)

	c := DefaultConfig()
	s, err := New(c, newFakeBroker(seedInfo()), sb)
	if err != nil {
		t.Fatal(err)
	}
	unlimited(s)
	serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`))
	serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"nobody"}`))
	serve(t, s, unsignedRPC(url.Values{"Action": {"QuerySessionByClientId"}, "InstanceId": {"mqtt-local"}, "ClientId": {"x"}}))
	s.limits = tinyLimiter()
	serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`)) // takes the one token
	serve(t, s, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`)) // throttled

	resp := serve(t, s, &testReq{method: "GET", path: "/metrics"})
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	if ct := string(resp.Header.ContentType()); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(resp.Body()))
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v\n%s", err, resp.Body())
	}
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"glassmq_connections", nil, 1},
		{"glassmq_sessions", nil, 5},
		{"glassmq_retained_messages", nil, 7},
		{"glassmq_connects_total", nil, 1},
		{"glassmq_messages_received_total", nil, 1},
		{"glassmq_received_bytes_total", nil, 187},
		{"glassmq_sent_bytes_total", nil, 4},
		{"glassmq_received_packets_total", map[string]string{"type": "PUBLISH", "qos": "1"}, 2},
		{"glassmq_received_packets_total", map[string]string{"type": "CONNECT", "qos": "0"}, 1},
		{"glassmq_sent_packets_total", map[string]string{"type": "CONNACK", "qos": "0"}, 1},
		{"glassmq_dropped_messages_total", map[string]string{"reason": "qos0_buffer_full"}, 3},
		{"glassmq_dropped_messages_total", map[string]string{"reason": "handoff_full"}, 4},
		{"glassmq_dropped_messages_total", map[string]string{"reason": "too_large"}, 3},
		{"glassmq_handoff_queue_batches", map[string]string{"loop": "0"}, 6},
		{"glassmq_handoff_queue_bytes", map[string]string{"loop": "0"}, 600},
		{"glassmq_handoff_queue_batches", map[string]string{"loop": "1"}, 0},
		{"glassmq_malformed_total", nil, 2},
		{"glassmq_admin_requests_total", map[string]string{"action": "DescribeMQTTClient", "result": "ok"}, 2},
		{"glassmq_admin_requests_total", map[string]string{"action": "DescribeMQTTClient", "result": "error"}, 1},
		{"glassmq_admin_requests_total", map[string]string{"action": "DescribeMQTTClient", "result": "throttled"}, 1},
		{"glassmq_admin_requests_total", map[string]string{"action": "QuerySessionByClientId", "result": "ok"}, 1},
		{"glassmq_admin_throttled_total", map[string]string{"action": "DescribeMQTTClient"}, 1},
		{"glassmq_admin_rate_limit", map[string]string{"action": "QuerySessionByClientId"}, 500},
	}
	for _, w := range want {
		got, ok := value(fams, w.name, w.labels)
		if !ok || got != w.value {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
	if _, ok := value(fams, "glassmq_handoff_queue_batches", map[string]string{"loop": "2"}); ok {
		t.Error("glassmq_handoff_queue_batches for loop 2, the shard of work outside any loop")
	}
	hist := map[string]uint64{}
	for _, m := range fams["glassmq_handoff_wait_seconds"].GetMetric() {
		if m.GetLabel()[0].GetValue() != "0" {
			continue
		}
		h := m.GetHistogram()
		hist["count"] = h.GetSampleCount()
		for _, b := range h.GetBucket() {
			hist[strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)] = b.GetCumulativeCount()
		}
	}
	if hist["count"] != 2 || hist["1e-05"] != 0 || hist["5e-05"] != 1 || hist["1"] != 1 {
		t.Errorf("glassmq_handoff_wait_seconds{loop=0}: %v; want count 2, le 1e-05 0, le 5e-05 1, le 1 1", hist)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("go_goroutines missing: the Go collector is not registered")
	}
}

// TestMetricsWithoutBroker: a nil *stats.Broker leaves the broker metrics
// out but still serves the admin ones.
func TestMetricsWithoutBroker(t *testing.T) {
	s, err := New(DefaultConfig(), newFakeBroker(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := serve(t, s, &testReq{method: "GET", path: "/metrics"})
	body := string(resp.Body())
	if resp.StatusCode() != 200 || !strings.Contains(body, "glassmq_admin_requests_total") || strings.Contains(body, "glassmq_connections") {
		t.Errorf("got %d\n%s", resp.StatusCode(), body)
	}
}
