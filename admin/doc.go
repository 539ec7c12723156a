// Package admin serves glassmq's HTTP admin API with fasthttp, on one
// listener: Tencent Cloud DescribeMQTTClient (trocket 2023-03-08) and its
// successors of service mqtt 2024-05-16, and Alibaba Cloud
// QuerySessionByClientId with the newer onsmqtt 2020-04-20 actions (batch
// query, close, send, device credentials), in their exact wire formats, so
// the official SDKs work against it unchanged; a native JSON API; the web
// dashboard at /ui (ui.go, uiauth.go, files in ui/ built in with embed);
// /healthz; and Prometheus /metrics. The wire details follow what the
// vendors document and what their SDKs send. actions.go lists the cloud actions;
// detect in dialect.go tells the dialects apart. Actions that change the
// broker go through the Operations interface, which the broker implements.
//
// # Goroutines
//
// Handlers run on fasthttp's worker goroutines. They read sessions only
// through the Broker interface, which never blocks on an event loop (the
// one exception is DescribeWillMessage: a will belongs to its connection's
// loop, so Operations.Will asks that loop and waits at most 200 ms), read
// broker-wide counters through stats.Broker snapshots, are done with the
// *fasthttp.RequestCtx when they return (nothing is handed to another
// goroutine: /metrics is written with expfmt, not through a net/http
// adaptor), and reuse pooled per-request state. Answers are encoded with
// encoding/json and encoding/xml from the vendor structs' tags: a
// DescribeMQTTClient costs about 2.6 µs (admin_bench_test.go), nothing
// beside rate limits of 20 and 500 requests/s.
//
// # Choices where the vendors leave room
//
// Order of checks, both clouds: detect the dialect and the action; rate
// limit (a throttled request costs no signature check and no lookup, and
// is answered at once: RequestLimitExceeded with HTTP 200, or
// SystemOverFlow with HTTP 500); then the signature; then action, version,
// parameters, lookup. Tencent's cloud authenticates first; throttling
// first is cheaper under a flood, at the price that unsigned requests can
// use up a bucket. Requests naming an action we do not serve have no bucket.
//
// Credentials: with none configured, unsigned requests are served,
// signatures are not checked, and Config.Validate refuses a non-loopback
// listen address. With any key configured, every Tencent and Alibaba
// request must be signed by a configured key of its own cloud, within
// ±5 minutes (Tencent) or ±15 minutes (Alibaba). Alibaba nonces are
// single-use until the request's timestamp leaves the window (memory is
// bounded by generations and a cap); TC3 and the Tencent legacy scheme keep
// no replay cache, because the SDK retries with byte-identical requests.
//
// The native API (/api/v1/...) then wants "Authorization: Bearer <secret>"
// with any configured SecretKey or AccessKeySecret, or the dashboard's
// login cookie, which for a DELETE must come with the login's CSRF token
// (X-CSRF-Token); /healthz and /metrics stay open, as they show no
// per-client data. The dashboard's files are served to anyone (they hold
// no data); its page shows only a login form until the browser logs in.
//
// The client list may also be filtered by ID prefix (reads only IDs) and
// by user name, and sorted by traffic or connect time; those read each
// candidate's session once and keep a bounded heap of the page. Sorted
// cursors are "key:id", so a client whose key moves between pages may be
// shown twice or not at all: the price of not freezing the sessions.
//
// The client list is in byte order of client ID; its cursor is the last ID
// of a page (base64url), so paging never repeats or skips a client that
// exists throughout, and each page is one pass over the sessions with a
// bounded heap: O(n log limit).
//
// admin may import session and stats value types, codec, fasthttp, the
// Prometheus client, x/time/rate and uuid; never broker.
package admin
