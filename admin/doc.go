// Package admin serves glassmq's HTTP admin API with fasthttp: Tencent Cloud
// DescribeMQTTClient, Alibaba Cloud QuerySessionByClientId, a native JSON API,
// /healthz and Prometheus /metrics.
//
// Handlers read sessions through the Broker interface, which never blocks on
// an event loop, and are done with the request context when they return.
//
// admin may import session and stats value types, codec, fasthttp, the
// Prometheus client, x/time/rate and uuid; never broker.
package admin
