package admin

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/stats"
)

// result is how an admin request ended, for glassmq_admin_requests_total.
type result uint8

const (
	resultOK result = iota
	resultError
	resultThrottled
	numResults
)

var resultNames = [numResults]string{"ok", "error", "throttled"}

// metrics counts admin requests and exposes them with the broker-wide
// counters on a private Prometheus registry. The collector reads atomics at
// scrape time; nothing is pushed on the request path but one atomic add.
type metrics struct {
	requests [numActions][numResults]atomic.Uint64
	broker   *stats.Broker                // nil: no broker metrics
	rates    func() [actionNative]float64 // read at each scrape: SetRateLimits changes them
	store    func() Store                 // returns nil without a store
	reg      *prometheus.Registry
}

func newMetrics(b *stats.Broker, rates func() [actionNative]float64, store func() Store) *metrics {
	m := &metrics{broker: b, rates: rates, store: store, reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// request counts one finished request. Safe for concurrent use.
func (m *metrics) request(a action, r result) { m.requests[a][r].Add(1) }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descRequests  = desc("glassmq_admin_requests_total", "Admin API requests by action and result (ok, error, throttled).", "action", "result")
	descThrottled = desc("glassmq_admin_throttled_total", "Admin API requests refused by the action's rate limit.", "action")
	descRateLimit = desc("glassmq_admin_rate_limit", "Configured rate limit of the action, requests per second.", "action")

	descConnections   = desc("glassmq_connections", "Network connections open now.")
	descSessions      = desc("glassmq_sessions", "Sessions in the registry now, online and offline.")
	descSubscriptions = desc("glassmq_subscriptions", "Subscriptions in the router now.")
	descRetained      = desc("glassmq_retained_messages", "Retained messages stored now.")
	descQueued        = desc("glassmq_queued_messages", "QoS 1/2 messages waiting in session queues now.")
	descConnects      = desc("glassmq_connects_total", "CONNECTs accepted.")
	descDisconnects   = desc("glassmq_disconnects_total", "Connections closed, for any reason.")
	descMsgsIn        = desc("glassmq_messages_received_total", "PUBLISH packets accepted from clients.")
	descMsgsOut       = desc("glassmq_messages_sent_total", "PUBLISH packets written to clients.")
	descBytesIn       = desc("glassmq_received_bytes_total", "Bytes of whole MQTT packets received from clients.")
	descBytesOut      = desc("glassmq_sent_bytes_total", "Bytes of whole MQTT packets sent to clients.")
	descPacketsIn     = desc("glassmq_received_packets_total", "MQTT packets received from clients, by type and fixed-header QoS.", "type", "qos")
	descPacketsOut    = desc("glassmq_sent_packets_total", "MQTT packets sent to clients, by type and fixed-header QoS.", "type", "qos")
	descDropped       = desc("glassmq_dropped_messages_total", "Messages dropped: qos0_buffer_full (outbound buffer full), queue_full (oldest QoS 1/2 of a full session queue) handoff_full (QoS 0 for a loop whose hand-off queue is full) or too_large (over an MQTT 5.0 client's Maximum Packet Size).", "reason")
	descMalformed     = desc("glassmq_malformed_total", "Connections closed for malformed packets.")
	descProtocolErrs  = desc("glassmq_protocol_errors_total", "Connections closed for protocol violations.")
	descHandoffItems  = desc("glassmq_handoff_queue_batches", "Batches of deliveries waiting in the event loop's hand-off queue now.", "loop")
	descHandoffBytes  = desc("glassmq_handoff_queue_bytes", "QoS 0 PUBLISH bytes waiting in the event loop's hand-off queue now.", "loop")
	descHandoffWait   = desc("glassmq_handoff_wait_seconds", "Time a batch of deliveries waited in the event loop's hand-off queue before the loop took it.", "loop")

	descStoreErrors  = desc("glassmq_store_errors_total", "Failed writes and syncs of the on-disk store, by op (write, sync).", "op")
	descStoreHealthy = desc("glassmq_store_healthy", "1 while the on-disk store writes and syncs, 0 from a failure until a later write and sync succeed.")
	descStorePending = desc("glassmq_store_pending_ops", "Store ops applied and not yet written, now; bounded by -store-max-pending.")
	descStoreWaits   = desc("glassmq_store_waits_total", "Store writes that waited because -store-max-pending ops were already pending.")
	descStoreWaitSec = desc("glassmq_store_wait_seconds_total", "Time those writes waited, in seconds.")
)

// handoffBuckets are stats.WaitBounds in seconds, the histogram's upper bounds.
var handoffBuckets = func() []float64 {
	b := make([]float64, len(stats.WaitBounds))
	for i, d := range stats.WaitBounds {
		b[i] = d.Seconds()
	}
	return b
}()

// collector is the prometheus.Collector over metrics.
type collector struct{ m *metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descThrottled, descRateLimit,
		descStoreErrors, descStoreHealthy, descStorePending, descStoreWaits, descStoreWaitSec} {
		ch <- d
	}
	if c.m.broker == nil {
		return
	}
	for _, d := range []*prometheus.Desc{descConnections, descSessions, descSubscriptions, descRetained, descQueued,
		descConnects, descDisconnects, descMsgsIn, descMsgsOut, descBytesIn, descBytesOut, descPacketsIn, descPacketsOut,
		descDropped, descMalformed, descProtocolErrs, descHandoffItems, descHandoffBytes, descHandoffWait} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for a := range numActions {
		for r := range numResults {
			counter(descRequests, c.m.requests[a][r].Load(), a.String(), resultNames[r])
		}
	}
	rates := c.m.rates()
	for a := range actionNative {
		counter(descThrottled, c.m.requests[a][resultThrottled].Load(), a.String())
		gauge(descRateLimit, rates[a], a.String())
	}
	if st := c.m.store(); st != nil {
		ss := st.Stats()
		counter(descStoreErrors, ss.WriteErrors.Load(), "write")
		counter(descStoreErrors, ss.SyncErrors.Load(), "sync")
		healthy := 1.0
		if st.Err() != nil {
			healthy = 0
		}
		gauge(descStoreHealthy, healthy)
		gauge(descStorePending, float64(ss.Pending.Load()))
		counter(descStoreWaits, ss.Waits.Load())
		ch <- prometheus.MustNewConstMetric(descStoreWaitSec, prometheus.CounterValue, float64(ss.WaitNanos.Load())/1e9)
	}
	b := c.m.broker
	if b == nil {
		return
	}
	var s stats.BrokerSnapshot
	b.Snapshot(&s)
	gauge(descConnections, float64(s.Connections))
	gauge(descSessions, float64(s.Sessions))
	gauge(descSubscriptions, float64(s.Subscriptions))
	gauge(descRetained, float64(s.Retained))
	gauge(descQueued, float64(s.QueuedNow))
	counter(descConnects, s.Connects)
	counter(descDisconnects, s.Disconnects)
	counter(descMsgsIn, s.MessagesReceived)
	counter(descMsgsOut, s.MessagesSent)
	counter(descBytesIn, s.Received.Bytes)
	counter(descBytesOut, s.Sent.Bytes)
	packets := func(d *prometheus.Desc, items []stats.Item) {
		for _, it := range items {
			counter(d, it.Count, it.Type.String(), strconv.Itoa(int(it.QoS)))
		}
	}
	packets(descPacketsIn, s.Received.Items)
	packets(descPacketsOut, s.Sent.Items)
	counter(descDropped, s.DroppedQoS0, "qos0_buffer_full")
	counter(descDropped, s.DroppedQueue, "queue_full")
	counter(descDropped, s.DroppedHandoff, "handoff_full")
	counter(descDropped, s.DroppedTooLarge, "too_large")
	counter(descMalformed, s.Malformed)
	counter(descProtocolErrs, s.ProtocolErrors)
	// The last shard is work outside any loop, which nothing hands work to.
	var h stats.HandoffSnapshot
	for i := range b.NumLoops() - 1 {
		b.Loop(i).Handoff.Snapshot(&h)
		loop := strconv.Itoa(i)
		gauge(descHandoffItems, float64(h.Items), loop)
		gauge(descHandoffBytes, float64(h.Bytes), loop)
		buckets := make(map[float64]uint64, len(handoffBuckets))
		for j, le := range handoffBuckets {
			buckets[le] = h.Waits[j]
		}
		ch <- prometheus.MustNewConstHistogram(descHandoffWait, h.Waits[len(handoffBuckets)], h.Sum.Seconds(), buckets, loop)
	}
}

// serveMetrics writes the registry in the Prometheus exposition format the
// scraper asks for (text by default). It writes into the response itself:
// no net/http adaptor, whose handler goroutine would hold the RequestCtx.
func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		s.methodNotAllowed(ctx, "GET", "/metrics")
		return
	}
	s.metrics.request(actionNative, resultOK)
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		nativeError(ctx, fasthttp.StatusInternalServerError, "internal", "admin: gathering metrics: "+err.Error())
		return
	}
	format := expfmt.Negotiate(http.Header{"Accept": {string(ctx.Request.Header.Peek("Accept"))}})
	ctx.SetContentType(string(format))
	enc := expfmt.NewEncoder(ctx, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			ctx.ResetBody()
			nativeError(ctx, fasthttp.StatusInternalServerError, "internal", "admin: encoding metrics: "+err.Error())
			return
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close()
	}
}
