package admin

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// The dashboard's reads beyond the client endpoints:
//
//	GET /api/v1/overview                              broker-wide counters now (Overview)
//	GET /api/v1/retained?prefix=&limit=&cursor=       retained messages by topic prefix (RetainedList)
//
// Both are counters and snapshots: a caller wanting rates reads twice and
// divides by the difference of TimeMs, as the dashboard does.

const (
	overviewPath = "/api/v1/overview"
	retainedPath = "/api/v1/retained"

	// maxPreview is how much of a retained payload a listing shows.
	maxPreview = 1024
)

// Retained is what admin reads of the broker's retained messages, for
// /api/v1/retained. A Broker passed to New that also implements Retained
// serves it. Safe for concurrent use; never blocks on an event loop.
type Retained interface {
	// RetainedWithPrefix appends to dst the retained messages whose topic
	// starts with prefix, in no order, and returns dst. The messages are
	// immutable.
	RetainedWithPrefix(prefix string, dst []*session.Message) []*session.Message
}

// Overview is the answer of GET /api/v1/overview: the gauges and counters
// of /metrics as one JSON document, with the time they were read.
type Overview struct {
	TimeMs           int64      `json:"time_ms"` // when the counters were read, epoch milliseconds
	Connections      int64      `json:"connections"`
	Sessions         int64      `json:"sessions"`
	Subscriptions    int64      `json:"subscriptions"`
	Retained         int64      `json:"retained"`
	Queued           int64      `json:"queued"` // QoS 1/2 messages waiting in session queues
	Connects         uint64     `json:"connects"`
	Disconnects      uint64     `json:"disconnects"`
	MessagesReceived uint64     `json:"messages_received"` // PUBLISH packets accepted from clients
	MessagesSent     uint64     `json:"messages_sent"`     // PUBLISH packets written to clients
	BytesReceived    uint64     `json:"bytes_received"`
	BytesSent        uint64     `json:"bytes_sent"`
	Dropped          Drops      `json:"dropped"`
	Malformed        uint64     `json:"malformed"`
	ProtocolErrors   uint64     `json:"protocol_errors"`
	StoreError       string     `json:"store_error"` // "" while the store is healthy or absent
	Loops            []LoopLoad `json:"loops"`
}

// Drops counts dropped messages by reason, as the labels of
// glassmq_dropped_messages_total.
type Drops struct {
	QoS0BufferFull uint64 `json:"qos0_buffer_full"`
	QueueFull      uint64 `json:"queue_full"`
	HandoffFull    uint64 `json:"handoff_full"`
}

// LoopLoad is one event loop's share of the traffic and its hand-off queue.
type LoopLoad struct {
	Loop             int    `json:"loop"`
	MessagesReceived uint64 `json:"messages_received"`
	MessagesSent     uint64 `json:"messages_sent"`
	BytesReceived    uint64 `json:"bytes_received"`
	BytesSent        uint64 `json:"bytes_sent"`
	HandoffBatches   int64  `json:"handoff_batches"` // waiting now
	HandoffBytes     int64  `json:"handoff_bytes"`
}

// RetainedList is a page of GET /api/v1/retained, in byte order of topic.
// NextCursor, when not "", fetches the next page.
type RetainedList struct {
	Messages   []RetainedMessage `json:"messages"`
	NextCursor string            `json:"next_cursor"`
}

// RetainedMessage is one retained message. The payload is shown as text
// when it is UTF-8, else as base64, cut to its first 1024 bytes.
type RetainedMessage struct {
	Topic         string `json:"topic"`
	QoS           byte   `json:"qos"`
	PayloadBytes  int    `json:"payload_bytes"`
	PayloadText   string `json:"payload_text,omitempty"`
	PayloadBase64 string `json:"payload_base64,omitempty"`
	Truncated     bool   `json:"truncated"` // only the first 1024 bytes are shown
}

func (s *Server) serveOverview(ctx *fasthttp.RequestCtx) {
	if !s.apiGuard(ctx, overviewPath) {
		return
	}
	b := s.metrics.broker
	if b == nil {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusServiceUnavailable, "unavailable", "admin: this server was started without the broker's counters")
		return
	}
	var snap stats.BrokerSnapshot
	b.Snapshot(&snap)
	o := Overview{
		TimeMs:           s.now().UnixMilli(),
		Connections:      snap.Connections,
		Sessions:         snap.Sessions,
		Subscriptions:    snap.Subscriptions,
		Retained:         snap.Retained,
		Queued:           snap.QueuedNow,
		Connects:         snap.Connects,
		Disconnects:      snap.Disconnects,
		MessagesReceived: snap.MessagesReceived,
		MessagesSent:     snap.MessagesSent,
		BytesReceived:    snap.Received.Bytes,
		BytesSent:        snap.Sent.Bytes,
		Dropped:          Drops{snap.DroppedQoS0, snap.DroppedQueue, snap.DroppedHandoff},
		Malformed:        snap.Malformed,
		ProtocolErrors:   snap.ProtocolErrors,
	}
	if st := s.storeOf(); st != nil {
		if err := st.Err(); err != nil {
			o.StoreError = err.Error()
		}
	}
	var h stats.HandoffSnapshot
	for i := range b.NumLoops() - 1 { // the last shard is work outside the loops
		l := b.Loop(i)
		l.Handoff.Snapshot(&h)
		o.Loops = append(o.Loops, LoopLoad{Loop: i,
			MessagesReceived: l.MessagesReceived.Load(), MessagesSent: l.MessagesSent.Load(),
			BytesReceived: l.Received.Bytes(), BytesSent: l.Sent.Bytes(),
			HandoffBatches: int64(h.Items), HandoffBytes: int64(h.Bytes)})
	}
	s.metrics.request(actionNative, resultOK)
	writeJSON(ctx, fasthttp.StatusOK, &o)
}

func (s *Server) serveRetained(ctx *fasthttp.RequestCtx) {
	if !s.apiGuard(ctx, retainedPath) {
		return
	}
	if s.retained == nil {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusServiceUnavailable, "unavailable", "admin: this broker does not list retained messages")
		return
	}
	q := ctx.QueryArgs()
	limit, after, hasAfter, ok := s.pageArgs(ctx)
	if !ok {
		return
	}
	prefix := string(q.Peek("prefix"))
	msgs := s.retained.RetainedWithPrefix(prefix, nil)
	if hasAfter {
		msgs = slices.DeleteFunc(msgs, func(m *session.Message) bool { return string(m.Topic) <= after })
	}
	slices.SortFunc(msgs, func(a, b *session.Message) int { return strings.Compare(string(a.Topic), string(b.Topic)) })
	list := RetainedList{Messages: []RetainedMessage{}}
	if len(msgs) > limit {
		msgs = msgs[:limit]
		list.NextCursor = base64.RawURLEncoding.EncodeToString(msgs[limit-1].Topic)
	}
	for _, m := range msgs {
		list.Messages = append(list.Messages, retainedMessage(m))
	}
	s.metrics.request(actionNative, resultOK)
	writeJSON(ctx, fasthttp.StatusOK, &list)
}

func retainedMessage(m *session.Message) RetainedMessage {
	r := RetainedMessage{Topic: string(m.Topic), QoS: m.QoS, PayloadBytes: len(m.Payload)}
	p := m.Payload
	if len(p) > maxPreview {
		p, r.Truncated = p[:maxPreview], true
		for i := 0; i < utf8.UTFMax && !utf8.Valid(p); i++ { // do not split a rune
			p = p[:len(p)-1]
		}
	}
	if utf8.Valid(p) {
		r.PayloadText = string(p)
	} else {
		r.PayloadBase64 = base64.StdEncoding.EncodeToString(p)
	}
	return r
}

// apiGuard checks method GET and credentials for a read-only endpoint,
// answering the error itself when it reports false.
func (s *Server) apiGuard(ctx *fasthttp.RequestCtx, what string) bool {
	if !s.apiAuthorized(ctx, false) {
		s.unauthorized(ctx)
		return false
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		s.methodNotAllowed(ctx, "GET", what)
		return false
	}
	return true
}

// unauthorized answers 401 for the native API.
func (s *Server) unauthorized(ctx *fasthttp.RequestCtx) {
	s.metrics.request(actionNative, resultError)
	ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="glassmq"`)
	nativeError(ctx, fasthttp.StatusUnauthorized, "unauthorized",
		"admin: credentials are configured: send Authorization: Bearer <secret>, with a configured SecretKey or AccessKeySecret, or log in at /ui (changes then need the X-CSRF-Token header)")
}

// pageArgs reads limit and cursor of a paged list, answering 400 itself
// when it reports false. The cursor is the base64url of the last key shown.
func (s *Server) pageArgs(ctx *fasthttp.RequestCtx) (limit int, after string, hasAfter, ok bool) {
	q := ctx.QueryArgs()
	limit = defaultPageSize
	if q.Has("limit") {
		n, err := strconv.Atoi(string(q.Peek("limit")))
		if err != nil || n < 1 || n > maxPageSize {
			s.metrics.request(actionNative, resultError)
			nativeError(ctx, fasthttp.StatusBadRequest, "bad_request", "admin: limit="+quote(q.Peek("limit"))+": want a number from 1 to "+strconv.Itoa(maxPageSize))
			return 0, "", false, false
		}
		limit = n
	}
	if c := q.Peek("cursor"); len(c) > 0 {
		raw, err := base64.RawURLEncoding.DecodeString(string(c))
		if err != nil {
			s.metrics.request(actionNative, resultError)
			nativeError(ctx, fasthttp.StatusBadRequest, "bad_request", "admin: cursor="+quote(c)+": not a cursor from next_cursor")
			return 0, "", false, false
		}
		after, hasAfter = string(raw), true
	}
	return limit, after, hasAfter, true
}
