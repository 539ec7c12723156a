package admin

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
	"github.com/glassmq/glassmq/trace"
)

// The native JSON API:
//
//	GET    /api/v1/clients/{id}                     one session (Client); id is URL-path-escaped
//	GET    /api/v1/clients?status=&username=&prefix=&sort=&limit=&cursor=   a page of clients (ClientList)
//	DELETE /api/v1/clients/{id}?will=false          kick (KickResult); the will is published unless will=false
//	GET    /healthz                                 {"status":"ok"}
//
// Errors are {"error":{"code":..,"message":..}} (APIError) with a 4xx
// status. With credentials configured, /api/v1/ wants "Authorization:
// Bearer <secret>", where <secret> is any configured SecretKey or
// AccessKeySecret, or the dashboard's login cookie (see uiauth.go); without
// them the port is loopback-only and open.
// /healthz and /metrics are never authenticated: they show no client data.

const clientsPath = "/api/v1/clients"

// Page sizes of the client list.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// Client is one session as GET /api/v1/clients/{id} shows it: every field
// of session.Info. Times come twice: RFC 3339 in UTC with milliseconds (""
// if the event has not happened) and epoch milliseconds (0 then).
type Client struct {
	ClientID         string         `json:"client_id"`
	Status           string         `json:"status"`         // "online" or "offline"
	Node             string         `json:"node,omitempty"` // in a cluster, the node holding the session (its owner); absent on a single node
	ClientAddress    string         `json:"client_address"`
	Username         string         `json:"username"`
	Authenticated    bool           `json:"authenticated"`    // the user name was verified (password or client certificate)
	Listener         string         `json:"listener"`         // transport of the current or last connection: tcp, tls, ws, wss
	ProtocolVersion  int            `json:"protocol_version"` // 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0)
	KeepAlive        int            `json:"keep_alive_seconds"`
	CleanSession     bool           `json:"clean_session"`
	SessionExpiry    int64          `json:"session_expiry_seconds"` // how long an offline persistent session is kept; 0 for clean sessions; for 5.0 the interval granted
	CreateTime       string         `json:"create_time"`
	CreateTimeMs     int64          `json:"create_time_ms"`
	ConnectTime      string         `json:"connect_time"`
	ConnectTimeMs    int64          `json:"connect_time_ms"`
	DisconnectTime   string         `json:"disconnect_time"`
	DisconnectTimeMs int64          `json:"disconnect_time_ms"`
	LastActivity     string         `json:"last_activity"`
	LastActivityMs   int64          `json:"last_activity_ms"`
	Connections      uint64         `json:"connections"`                      // accepted CONNECTs over the session's life
	DisconnectReason string         `json:"disconnect_reason"`                // of the last disconnect: client_disconnect, keepalive_timeout, taken_over, protocol_error, network_error, kicked, slow_consumer, server_shutdown, store_error; "" if none
	DisconnectDetail string         `json:"disconnect_detail"`                // for protocol_error: what was wrong
	DisconnectCode   *ReasonCode    `json:"disconnect_reason_code,omitempty"` // the 5.0 DISCONNECT of the last disconnect, when one was exchanged
	WillTopic        string         `json:"will_topic"`                       // "" when the connection has no will
	Subscriptions    []Subscription `json:"subscriptions"`                    // in the order first subscribed
	Queue            Queue          `json:"queue"`
	Inflight         Inflight       `json:"inflight"`
	AwaitingPubrel   int            `json:"awaiting_pubrel"`  // inbound QoS 2 messages waiting for PUBREL
	RetainedBacklog  int            `json:"retained_backlog"` // retained messages matched by SUBSCRIBE still to send (an estimate)
	Received         Traffic        `json:"received"`         // client to server (Tencent "OutBound")
	Sent             Traffic        `json:"sent"`             // server to client (Tencent "Inbound")
	History          []HistoryEvent `json:"history"`          // connects and disconnects, oldest first, bounded
	MQTT5            *MQTT5         `json:"mqtt5,omitempty"`  // what a 5.0 client's CONNECT said; absent for 3.1.1 and 3.1
	Trace            []TraceEvent   `json:"trace,omitempty"`  // the newest message trace events of the client (at most 50, oldest first), when traces are kept
}

// Subscription is one topic filter of a Client with its granted QoS.
type Subscription struct {
	TopicFilter string `json:"topic_filter"`
	QoS         byte   `json:"qos"`
}

// Queue is a session's queue of QoS 1/2 messages waiting to be sent.
type Queue struct {
	Len     int    `json:"len"`
	Max     int    `json:"max"`
	Dropped uint64 `json:"dropped"` // dropped because the queue was full, oldest first
}

// Inflight is a session's QoS 1/2 messages sent and not yet acknowledged.
type Inflight struct {
	Len int `json:"len"`
	Max int `json:"max"` // the in-flight window
}

// Traffic is one direction of a Client's traffic: bytes of whole MQTT
// packets, and packets by type and fixed-header QoS (non-zero counts).
type Traffic struct {
	Bytes   uint64        `json:"bytes"`
	Packets []PacketCount `json:"packets"`
}

// PacketCount is one count of a Traffic. Type is the spec's upper-case
// packet name, such as "PUBLISH".
type PacketCount struct {
	Type  string `json:"type"`
	QoS   byte   `json:"qos"`
	Count uint64 `json:"count"`
}

// HistoryEvent is one connect or disconnect of a Client.
type HistoryEvent struct {
	Event   string `json:"event"` // "connect" or "disconnect"
	Time    string `json:"time"`
	TimeMs  int64  `json:"time_ms"`
	Address string `json:"address"`          // ip:port of that connection
	Reason  string `json:"reason,omitempty"` // for disconnects, as Client.DisconnectReason
	Detail  string `json:"detail,omitempty"`
}

// ClientList is a page of GET /api/v1/clients, in byte order of client ID.
// NextCursor, when not "", fetches the next page: the cursor names the last
// ID shown, so a page never repeats or skips a client that exists
// throughout, however others come and go.
type ClientList struct {
	Clients    []ClientSummary `json:"clients"`
	NextCursor string          `json:"next_cursor"`
}

// ClientSummary is one entry of a ClientList: what a list of clients
// shows, read when the page is built.
type ClientSummary struct {
	ClientID      string `json:"client_id"`
	Status        string `json:"status"`         // "online" or "offline"
	Node          string `json:"node,omitempty"` // in a cluster, the node holding the session; absent on a single node
	Username      string `json:"username"`
	ClientAddress string `json:"client_address"`
	ConnectTimeMs int64  `json:"connect_time_ms"` // last accepted CONNECT, epoch milliseconds
	ReceivedBytes uint64 `json:"received_bytes"`  // client to server
	SentBytes     uint64 `json:"sent_bytes"`      // server to client
}

// KickResult answers DELETE /api/v1/clients/{id}.
type KickResult struct {
	ClientID    string `json:"client_id"`
	Kicked      bool   `json:"kicked"`
	PublishWill bool   `json:"publish_will"` // whether a will, if the connection had one, was published
}

// APIError is the body of a native API error.
type APIError struct {
	Error struct {
		Code    string `json:"code"`    // not_found, not_connected, bad_request, unauthorized, method_not_allowed, ...
		Message string `json:"message"` // a sentence starting "admin: "
	} `json:"error"`
}

func statusName(connected bool) string {
	if connected {
		return "online"
	}
	return "offline"
}

// serveNative serves /api/v1/clients and below.
func (s *Server) serveNative(ctx *fasthttp.RequestCtx, path []byte) {
	if !s.apiAuthorized(ctx, ctx.IsDelete()) {
		s.unauthorized(ctx)
		return
	}
	rest := path[len(clientsPath):]
	if len(rest) == 0 || string(rest) == "/" {
		if !ctx.IsGet() && !ctx.IsHead() {
			s.methodNotAllowed(ctx, "GET", clientsPath)
			return
		}
		s.listClients(ctx)
		return
	}
	if rest[0] != '/' {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusNotFound, "not_found", "admin: no endpoint "+quote(path)+"; try /api/v1/clients or /api/v1/clients/{id}")
		return
	}
	id, err := url.PathUnescape(string(rest[1:]))
	if err != nil || !validClientID(id) {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusBadRequest, "bad_request",
			"admin: client ID "+quote(rest[1:])+" in the path is not a URL-path-escaped MQTT client ID")
		return
	}
	switch {
	case ctx.IsGet() || ctx.IsHead():
		s.getClient(ctx, id)
	case ctx.IsDelete():
		s.kickClient(ctx, id)
	default:
		s.methodNotAllowed(ctx, "GET, DELETE", clientsPath+"/{id}")
	}
}

func (s *Server) getClient(ctx *fasthttp.RequestCtx, id string) {
	var info session.Info
	node, ok := s.sessionInfo(id, &info)
	if !ok {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusNotFound, "not_found", "admin: no session with client ID "+strconv.Quote(cut(id)))
		return
	}
	s.metrics.request(actionNative, resultOK)
	c := nativeClient(&info)
	c.Node = node
	if s.tracer != nil {
		evs := s.tracer.Find(trace.Filter{ClientID: id, Kinds: trace.Messages}, s.now().UnixMicro())
		for _, e := range evs[max(0, len(evs)-clientTraceMax):] {
			c.Trace = append(c.Trace, s.traceEvent(&e))
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, c)
}

// clientTraceMax bounds the message trace events a client's answer carries;
// /api/v1/traces/clients/{id} pages through all of them.
const clientTraceMax = 50

// nativeClient converts info to its native JSON form.
func nativeClient(info *session.Info) *Client {
	c := &Client{
		ClientID:         info.ClientID,
		Status:           statusName(info.Connected),
		ClientAddress:    info.ClientAddress,
		Username:         info.Username,
		Authenticated:    info.Authenticated,
		Listener:         info.Listener,
		ProtocolVersion:  info.ProtocolVersion,
		KeepAlive:        info.KeepAlive,
		CleanSession:     info.CleanSession,
		SessionExpiry:    info.SessionExpiry,
		CreateTime:       rfc3339(info.CreateTime),
		CreateTimeMs:     info.CreateTime,
		ConnectTime:      rfc3339(info.ConnectTime),
		ConnectTimeMs:    info.ConnectTime,
		DisconnectTime:   rfc3339(info.DisconnectTime),
		DisconnectTimeMs: info.DisconnectTime,
		LastActivity:     rfc3339(info.LastActivity),
		LastActivityMs:   info.LastActivity,
		Connections:      info.Connections,
		DisconnectReason: info.DisconnectReason.String(),
		DisconnectDetail: info.DisconnectDetail,
		WillTopic:        info.WillTopic,
		Subscriptions:    make([]Subscription, 0, len(info.Subscriptions)),
		Queue:            Queue{Len: info.QueueLen, Max: info.QueueMax, Dropped: info.QueueDropped},
		Inflight:         Inflight{Len: info.InflightLen, Max: info.InflightMax},
		AwaitingPubrel:   info.AwaitingRel,
		RetainedBacklog:  info.RetainedBacklog,
		Received:         nativeTraffic(&info.Received),
		Sent:             nativeTraffic(&info.Sent),
		History:          make([]HistoryEvent, 0, len(info.History)),
	}
	for _, sub := range info.Subscriptions {
		c.Subscriptions = append(c.Subscriptions, Subscription{TopicFilter: sub.TopicFilter, QoS: sub.QoS})
	}
	for _, e := range info.History {
		h := HistoryEvent{Event: "disconnect", Time: rfc3339(e.Time), TimeMs: e.Time, Address: e.Address, Reason: e.Reason.String(), Detail: e.Detail}
		if e.Connected {
			h.Event = "connect"
		}
		c.History = append(c.History, h)
	}
	c.DisconnectCode = reasonCode(info.DisconnectCode)
	c.MQTT5 = nativeMQTT5(info)
	return c
}

func nativeTraffic(s *stats.Snapshot) Traffic {
	t := Traffic{Bytes: s.Bytes, Packets: make([]PacketCount, 0, len(s.Items))}
	for _, it := range s.Items {
		if it.Count != 0 {
			t.Packets = append(t.Packets, PacketCount{Type: it.Type.String(), QoS: it.QoS, Count: it.Count})
		}
	}
	return t
}

// rfc3339 formats epoch milliseconds as RFC 3339 UTC with milliseconds, ""
// for 0.
func rfc3339(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func (s *Server) kickClient(ctx *fasthttp.RequestCtx, id string) {
	publishWill := true
	if q := ctx.QueryArgs(); q.Has("will") {
		switch w := string(q.Peek("will")); w {
		case "true", "1":
		case "false", "0":
			publishWill = false
		default:
			s.metrics.request(actionNative, resultError)
			nativeError(ctx, fasthttp.StatusBadRequest, "bad_request", "admin: will="+strconv.Quote(cut(w))+": want true or false")
			return
		}
	}
	if !s.broker.Kick(id, publishWill) {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusNotFound, "not_connected", "admin: client "+strconv.Quote(cut(id))+" is not connected")
		return
	}
	s.metrics.request(actionNative, resultOK)
	writeJSON(ctx, fasthttp.StatusOK, &KickResult{ClientID: id, Kicked: true, PublishWill: publishWill})
}

// List orders of GET /api/v1/clients?sort=.
const (
	sortID          = "id"           // byte order of client ID (the default)
	sortTraffic     = "traffic"      // bytes received and sent, most first
	sortConnectTime = "connect_time" // last CONNECT, newest first
)

func (s *Server) listClients(ctx *fasthttp.RequestCtx) {
	q := ctx.QueryArgs()
	bad := func(msg string) {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusBadRequest, "bad_request", msg)
	}
	var want func(connected bool) bool
	switch st := string(q.Peek("status")); st {
	case "", "all":
		want = func(bool) bool { return true }
	case "online":
		want = func(c bool) bool { return c }
	case "offline":
		want = func(c bool) bool { return !c }
	default:
		bad("admin: status=" + strconv.Quote(cut(st)) + ": want online, offline or all")
		return
	}
	order := string(q.Peek("sort"))
	switch order {
	case "":
		order = sortID
	case sortID, sortTraffic, sortConnectTime:
	default:
		bad("admin: sort=" + strconv.Quote(cut(order)) + ": want id, traffic or connect_time")
		return
	}
	limit, after, hasAfter, ok := s.pageArgs(ctx)
	if !ok {
		return
	}
	prefix := string(q.Peek("prefix"))
	byUser, user := q.Has("username"), string(q.Peek("username"))
	// Filtering by user name and sorting by traffic or connect time read
	// each candidate's session: O(n) Info copies, tens of milliseconds at
	// 100k sessions. The ID prefix and status filters read nothing.
	var info session.Info
	match := func(id string, connected bool) bool {
		if !strings.HasPrefix(id, prefix) || !want(connected) {
			return false
		}
		if byUser {
			resetInfo(&info)
			return s.broker.SessionInfo(id, &info) && info.Username == user
		}
		return true
	}
	var page []ranked
	var more bool
	if order == sortID {
		var ids []ClientSummary
		ids, more = clientPageBy(s.broker, after, hasAfter, limit, match)
		for _, c := range ids {
			page = append(page, ranked{id: c.ClientID})
		}
	} else {
		page, more, ok = rankedPage(s.broker, order, after, hasAfter, limit, match, &info)
		if !ok {
			bad("admin: cursor=" + quote(q.Peek("cursor")) + ": not a cursor from next_cursor of sort=" + order)
			return
		}
	}
	list := ClientList{Clients: make([]ClientSummary, 0, len(page))}
	for _, r := range page {
		resetInfo(&info)
		if node, ok := s.sessionInfo(r.id, &info); ok { // else it ended since it was ranked
			c := summary(r.id, &info)
			c.Node = node
			list.Clients = append(list.Clients, c)
		}
	}
	if more && len(page) > 0 {
		last := page[len(page)-1]
		c := last.id
		if order != sortID {
			c = strconv.FormatInt(last.key, 10) + ":" + c
		}
		list.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(c))
	}
	s.metrics.request(actionNative, resultOK)
	writeJSON(ctx, fasthttp.StatusOK, &list)
}

// summary is the list entry of client id, whose session is info.
func summary(id string, info *session.Info) ClientSummary {
	return ClientSummary{ClientID: id, Status: statusName(info.Connected), Username: info.Username,
		ClientAddress: info.ClientAddress, ConnectTimeMs: info.ConnectTime,
		ReceivedBytes: info.Received.Bytes, SentBytes: info.Sent.Bytes}
}

// resetInfo empties i, keeping the capacity of its slices for the broker
// to fill.
func resetInfo(i *session.Info) {
	*i = session.Info{
		Subscriptions: i.Subscriptions[:0],
		Received:      stats.Snapshot{Items: i.Received.Items[:0]},
		Sent:          stats.Snapshot{Items: i.Sent.Items[:0]},
		History:       i.History[:0],
	}
}

// ranked is a client in a list sorted by key, largest first, then by ID.
type ranked struct {
	id  string
	key int64
}

// before reports whether a comes before b in the list.
func (a ranked) before(b ranked) bool {
	if a.key != b.key {
		return a.key > b.key
	}
	return a.id < b.id
}

// rankKey is info's key in a list sorted by order.
func rankKey(order string, info *session.Info) int64 {
	if order == sortTraffic {
		return int64(min(info.Received.Bytes+info.Sent.Bytes, 1<<62))
	}
	return info.ConnectTime
}

// rankedPage returns the first limit clients that match, sorted by order
// (sortTraffic or sortConnectTime) and coming after the cursor after
// ("key:id"), and whether more follow. It reads each candidate's session
// into info. ok is false for a cursor that does not parse. Keys change
// while a client is listed, so a page may repeat or skip a client whose
// traffic moved it across the cursor; that is the price of not holding
// every session still.
func rankedPage(b Broker, order, after string, hasAfter bool, limit int, match func(string, bool) bool, info *session.Info) (page []ranked, more, ok bool) {
	var cur ranked
	if hasAfter {
		k, id, found := strings.Cut(after, ":")
		n, err := strconv.ParseInt(k, 10, 64)
		if !found || err != nil {
			return nil, false, false
		}
		cur = ranked{id: id, key: n}
	}
	top := firstN[ranked]{n: limit + 1, before: ranked.before}
	b.RangeSessions(func(id string, connected bool) bool {
		if !match(id, connected) {
			return true
		}
		if info.ClientID != id { // match did not read it
			resetInfo(info)
			if !b.SessionInfo(id, info) {
				return true
			}
		}
		r := ranked{id: id, key: rankKey(order, info)}
		if !hasAfter || cur.before(r) {
			top.offer(r)
		}
		return true
	})
	page = top.sorted()
	if len(page) > limit {
		page, more = page[:limit], true
	}
	return page, more, true
}

// firstN keeps the n items that come first by before, in a max-heap (the
// last kept at h[0]): O(log n) per offer, O(n) memory.
type firstN[T any] struct {
	h      []T
	n      int
	before func(a, b T) bool
}

func (f *firstN[T]) offer(x T) {
	h := f.h
	switch {
	case len(h) < f.n:
		h = append(h, x)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !f.before(h[p], h[i]) {
				break
			}
			h[p], h[i] = h[i], h[p]
			i = p
		}
	case f.before(x, h[0]):
		h[0] = x
		for i := 0; ; {
			l, last := 2*i+1, i
			if l < len(h) && f.before(h[last], h[l]) {
				last = l
			}
			if r := l + 1; r < len(h) && f.before(h[last], h[r]) {
				last = r
			}
			if last == i {
				break
			}
			h[i], h[last] = h[last], h[i]
			i = last
		}
	}
	f.h = h
}

// sorted returns the kept items in order; f is spent.
func (f *firstN[T]) sorted() []T {
	slices.SortFunc(f.h, func(a, b T) int {
		if f.before(a, b) {
			return -1
		}
		if f.before(b, a) {
			return 1
		}
		return 0
	})
	return f.h
}

// clientPage returns the limit smallest client IDs above after (all IDs if
// !hasAfter) whose status want accepts (nil: all), in byte order, and
// whether more follow. It ranges over every session once, keeping a max-heap
// of limit+1 entries: O(n log limit) time, O(limit) memory.
func clientPage(b Broker, after string, hasAfter bool, want func(bool) bool, limit int) (page []ClientSummary, more bool) {
	return clientPageBy(b, after, hasAfter, limit, func(_ string, connected bool) bool {
		return want == nil || want(connected)
	})
}

// clientPageBy is clientPage with any filter on (client ID, connected).
func clientPageBy(b Broker, after string, hasAfter bool, limit int, want func(id string, connected bool) bool) (page []ClientSummary, more bool) {
	type entry struct {
		id        string
		connected bool
	}
	keep := limit + 1
	h := make([]entry, 0, keep) // max-heap by id: h[0] is the largest kept
	down := func(i int) {
		for {
			l, big := 2*i+1, i
			if l < len(h) && h[l].id > h[big].id {
				big = l
			}
			if r := l + 1; r < len(h) && h[r].id > h[big].id {
				big = r
			}
			if big == i {
				return
			}
			h[i], h[big] = h[big], h[i]
			i = big
		}
	}
	b.RangeSessions(func(id string, connected bool) bool {
		if (hasAfter && id <= after) || !want(id, connected) {
			return true
		}
		switch {
		case len(h) < keep:
			h = append(h, entry{id, connected})
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if h[p].id >= h[i].id {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
		case id < h[0].id:
			h[0] = entry{id, connected}
			down(0)
		}
		return true
	})
	slices.SortFunc(h, func(x, y entry) int { return strings.Compare(x.id, y.id) })
	if len(h) > limit {
		h, more = h[:limit], true
	}
	page = make([]ClientSummary, len(h))
	for i, e := range h {
		page[i] = ClientSummary{ClientID: e.id, Status: statusName(e.connected)}
	}
	return page, more
}

func (s *Server) serveHealthz(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		s.methodNotAllowed(ctx, "GET", "/healthz")
		return
	}
	s.metrics.request(actionNative, resultOK)
	if st := s.storeOf(); st != nil {
		if err := st.Err(); err != nil {
			writeJSON(ctx, fasthttp.StatusServiceUnavailable, Health{Status: "unavailable", Store: err.Error()})
			return
		}
	}
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"status":"ok"}`)
}

// Health is the body of /healthz when the broker is not healthy: 503 with
// {"status":"unavailable","store":"store: syncing /data/glassmq.db: input/output error"}.
// A healthy broker answers 200 {"status":"ok"}.
type Health struct {
	Status string `json:"status"`          // "unavailable"
	Store  string `json:"store,omitempty"` // the store's failure, until a later write and sync succeed
}

func (s *Server) methodNotAllowed(ctx *fasthttp.RequestCtx, allow, what string) {
	s.metrics.request(actionNative, resultError)
	ctx.Response.Header.Set("Allow", allow)
	nativeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "admin: "+what+" takes "+allow+", not "+quote(ctx.Method()))
}

// writeJSON answers v as JSON with status.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(marshalJSON(v))
}

// nativeError answers {"error":{"code":..,"message":..}} with status.
func nativeError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	var e APIError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(ctx, status, &e)
}
