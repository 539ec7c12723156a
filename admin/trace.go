package admin

import (
	"encoding/xml"
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/trace"
)

// This file serves the connection and message traces: Alibaba's four
// QueryMqttTrace* actions and the native /api/v1/traces endpoints. Both
// read the broker's trace rings (package trace) without blocking a loop.

// Alibaba codes of the trace actions.
const (
	alInvalidParameterMsgID = "InvalidParameter.MsgId" // 400: missing
	maxTracePage            = 100                      // PageSize bound of the trace actions
)

// UseTracer makes the server answer the trace actions and endpoints from
// t. Without one they answer an internal error (Alibaba) or 404 (native).
// Call it before Serve.
func (s *Server) UseTracer(t *trace.Tracer) { s.tracer = t }

// QueryMqttTraceDeviceResponse is the answer of Alibaba
// QueryMqttTraceDevice (onsmqtt 2020-04-20),
// https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/api-querymqtttracedevice:
// one page of a client's connects, refusals and disconnects.
type QueryMqttTraceDeviceResponse struct {
	XMLName        xml.Name     `json:"-" xml:"QueryMqttTraceDeviceResponse"`
	CurrentPage    int          `json:"CurrentPage" xml:"CurrentPage"`
	DeviceInfoList []DeviceInfo `json:"DeviceInfoList" xml:"DeviceInfoList"`
	PageSize       int          `json:"PageSize" xml:"PageSize"`
	RequestID      string       `json:"RequestId" xml:"RequestId"`
	Total          int64        `json:"Total" xml:"Total"`
}

// DeviceInfo is one connection event. Time is "2021-05-21 15:51:54.867" in
// the broker's time zone, as the cloud writes it.
type DeviceInfo struct {
	Action     string `json:"Action" xml:"Action"`
	ActionCode string `json:"ActionCode" xml:"ActionCode"`
	ActionInfo string `json:"ActionInfo" xml:"ActionInfo"`
	ChannelID  string `json:"ChannelId" xml:"ChannelId"`
	Time       string `json:"Time" xml:"Time"`
}

// MessageTrace is one message event: its publication (Action pub_mqtt, or
// pub_mq for the admin API's SendMessage) or its sending to a subscriber
// (sub, or push_offline for a message queued while it was offline).
type MessageTrace struct {
	Action     string `json:"Action" xml:"Action"`
	ActionCode string `json:"ActionCode" xml:"ActionCode"`
	ActionInfo string `json:"ActionInfo" xml:"ActionInfo"`
	ClientID   string `json:"ClientId" xml:"ClientId"`
	MsgID      string `json:"MsgId" xml:"MsgId"`
	Time       string `json:"Time" xml:"Time"`
}

// QueryMqttTraceMessageOfClientResponse is the answer of Alibaba
// QueryMqttTraceMessageOfClient,
// https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/api-querymqtttracemessageofclient:
// one page of the messages a client published or was sent.
type QueryMqttTraceMessageOfClientResponse struct {
	XMLName             xml.Name       `json:"-" xml:"QueryMqttTraceMessageOfClientResponse"`
	CurrentPage         int            `json:"CurrentPage" xml:"CurrentPage"`
	MessageOfClientList []MessageTrace `json:"MessageOfClientList" xml:"MessageOfClientList"`
	PageSize            int            `json:"PageSize" xml:"PageSize"`
	RequestID           string         `json:"RequestId" xml:"RequestId"`
	Total               int64          `json:"Total" xml:"Total"`
}

// QueryMqttTraceMessagePublishResponse is the answer of Alibaba
// QueryMqttTraceMessagePublish,
// https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/api-querymqtttracemessagepublish:
// who published one message, and when.
type QueryMqttTraceMessagePublishResponse struct {
	XMLName           xml.Name       `json:"-" xml:"QueryMqttTraceMessagePublishResponse"`
	MessageTraceLists []MessageTrace `json:"MessageTraceLists" xml:"MessageTraceLists"`
	RequestID         string         `json:"RequestId" xml:"RequestId"`
}

// QueryMqttTraceMessageSubscribeResponse is the answer of Alibaba
// QueryMqttTraceMessageSubscribe,
// https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/api-querymqtttracemessagesubscribe:
// one page of the clients one message was sent to, and when.
type QueryMqttTraceMessageSubscribeResponse struct {
	XMLName           xml.Name       `json:"-" xml:"QueryMqttTraceMessageSubscribeResponse"`
	CurrentPage       int            `json:"CurrentPage" xml:"CurrentPage"`
	MessageTraceLists []MessageTrace `json:"MessageTraceLists" xml:"MessageTraceLists"`
	PageSize          int            `json:"PageSize" xml:"PageSize"`
	RequestID         string         `json:"RequestId" xml:"RequestId"`
	Total             int64          `json:"Total" xml:"Total"`
}

// traceQuery is the parsed paging and time range of a trace action.
type traceQuery struct {
	filter   trace.Filter
	page     int // 1-based
	size     int
	reverse  bool
	paged    bool
	clientID string
}

// parseTraceQuery reads BeginTime, EndTime (epoch ms; absent means no
// bound), CurrentPage (default 1), PageSize (1 to 100, default 100) and
// Reverse.
func parseTraceQuery(ctx *fasthttp.RequestCtx) (traceQuery, failure) {
	q := traceQuery{page: 1, size: maxTracePage}
	num := func(name string, lo, hi int64, dst *int64) failure {
		v, ok := formParam(ctx, name)
		if !ok || len(v) == 0 {
			return failure{}
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < lo || n > hi {
			return failure{status: 400, code: alParameterCheckFailed,
				msg: "An error occurred while validating the parameters. The parameters may be missing or invalid: " + name + " " + quote(v) +
					" is not a number from " + strconv.FormatInt(lo, 10) + " to " + strconv.FormatInt(hi, 10) + "."}
		}
		*dst = n
		return failure{}
	}
	var page, size int64 = 1, maxTracePage
	for _, p := range []struct {
		name   string
		lo, hi int64
		dst    *int64
	}{
		{"BeginTime", 0, 1 << 50, &q.filter.Begin},
		{"EndTime", 0, 1 << 50, &q.filter.End},
		{"CurrentPage", 1, 1 << 30, &page},
		{"PageSize", 1, maxTracePage, &size},
	} {
		if f := num(p.name, p.lo, p.hi, p.dst); f.code != "" {
			return q, f
		}
	}
	q.page, q.size = int(page), int(size)
	q.filter.Begin *= 1000 // ms to the trace's µs
	if q.filter.End != 0 {
		q.filter.End = q.filter.End*1000 + 999
	}
	if v, ok := formParam(ctx, "Reverse"); ok && len(v) > 0 {
		switch string(v) {
		case "true":
			q.reverse = true
		case "false":
		default:
			return q, failure{status: 400, code: alParameterCheckFailed,
				msg: "An error occurred while validating the parameters. The parameters may be missing or invalid: Reverse " + quote(v) + " is not true or false."}
		}
	}
	return q, failure{}
}

// pageOf returns the events of q's page, reversed first when asked.
func (q *traceQuery) pageOf(evs []trace.Event) []trace.Event {
	if q.reverse {
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
	}
	from := (q.page - 1) * q.size
	if from >= len(evs) {
		return nil
	}
	return evs[from:min(len(evs), from+q.size)]
}

func (s *Server) messageTrace(e *trace.Event) MessageTrace {
	return MessageTrace{Action: e.Kind.Action(), ActionCode: e.Kind.Code(), ActionInfo: e.Info.String(),
		ClientID: e.ClientID, MsgID: s.tracer.FormatMsgID(e.MsgID), Time: trace.FormatTime(e.Time)}
}

func (s *Server) messageTraces(evs []trace.Event) []MessageTrace {
	out := make([]MessageTrace, 0, len(evs))
	for i := range evs {
		out = append(out, s.messageTrace(&evs[i]))
	}
	return out
}

// alibabaMsgID reads a required MsgId; ok is false for one that is not a
// message ID of this broker run (its trace is empty, not an error).
func (s *Server) alibabaMsgID(ctx *fasthttp.RequestCtx) (id uint64, ok bool, f failure) {
	v, has := formParam(ctx, "MsgId")
	if !has || len(v) == 0 {
		return 0, false, failure{status: 400, code: alInvalidParameterMsgID,
			msg: "An error occurred while validating the parameter. The parameter may be missing or invalid: MsgId is missing."}
	}
	id, ok = s.tracer.ParseMsgID(string(v))
	return id, ok, failure{}
}

// traceAction answers the four QueryMqttTrace* actions.
func (s *Server) traceAction(ctx *fasthttp.RequestCtx, act action, requestID string) (any, failure) {
	if s.tracer == nil {
		return nil, failure{status: 500, code: alInternalError, msg: "An error occurred while processing your request: this broker keeps no traces."}
	}
	q, f := parseTraceQuery(ctx)
	if f.code != "" {
		return nil, f
	}
	now := s.now().UnixMicro()
	switch act {
	case actionQueryMqttTraceDevice, actionQueryMqttTraceMessageOfClient:
		id, f := alibabaClientID(ctx)
		if f.code != "" {
			return nil, f
		}
		q.filter.ClientID = id
		if act == actionQueryMqttTraceDevice {
			q.filter.Kinds = trace.Connections
			evs := s.tracer.Find(q.filter, now)
			resp := &QueryMqttTraceDeviceResponse{CurrentPage: q.page, PageSize: q.size, RequestID: requestID,
				Total: int64(len(evs)), DeviceInfoList: []DeviceInfo{}}
			for _, e := range q.pageOf(evs) {
				resp.DeviceInfoList = append(resp.DeviceInfoList, DeviceInfo{Action: e.Kind.Action(), ActionCode: e.Kind.Code(),
					ActionInfo: e.Info.String(), ChannelID: trace.FormatChannel(e.Channel), Time: trace.FormatTime(e.Time)})
			}
			return resp, failure{}
		}
		q.filter.Kinds = trace.Messages
		evs := s.tracer.Find(q.filter, now)
		return &QueryMqttTraceMessageOfClientResponse{CurrentPage: q.page, PageSize: q.size, RequestID: requestID,
			Total: int64(len(evs)), MessageOfClientList: s.messageTraces(q.pageOf(evs))}, failure{}
	case actionQueryMqttTracePublish:
		id, ok, f := s.alibabaMsgID(ctx)
		if f.code != "" {
			return nil, f
		}
		var evs []trace.Event
		if ok {
			q.filter.MsgID, q.filter.Kinds = id, trace.Publishes
			evs = s.tracer.Find(q.filter, now)
		}
		return &QueryMqttTraceMessagePublishResponse{MessageTraceLists: s.messageTraces(evs), RequestID: requestID}, failure{}
	default: // actionQueryMqttTraceSubscribe
		id, ok, f := s.alibabaMsgID(ctx)
		if f.code != "" {
			return nil, f
		}
		if c, has := formParam(ctx, "ClientId"); has && len(c) > 0 {
			cid, f := alibabaClientID(ctx)
			if f.code != "" {
				return nil, f
			}
			q.filter.ClientID = cid
		}
		var evs []trace.Event
		if ok {
			q.filter.MsgID, q.filter.Kinds = id, trace.Deliveries
			evs = s.tracer.Find(q.filter, now)
		}
		return &QueryMqttTraceMessageSubscribeResponse{CurrentPage: q.page, PageSize: q.size, RequestID: requestID,
			Total: int64(len(evs)), MessageTraceLists: s.messageTraces(q.pageOf(evs))}, failure{}
	}
}

// Native trace endpoints.
const (
	tracesPath        = "/api/v1/traces"
	clientTracesPath  = tracesPath + "/clients/"
	messageTracesPath = tracesPath + "/messages/"
)

// TraceEvent is one event as the native trace endpoints show it.
type TraceEvent struct {
	Time       string `json:"time"` // RFC 3339, UTC, milliseconds
	TimeMs     int64  `json:"time_ms"`
	Action     string `json:"action"`      // connect, close, disconnect, pub_mqtt, pub_mq, sub, push_offline
	ActionCode string `json:"action_code"` // mqtt.trace.action.connect ...
	ActionInfo string `json:"action_info"` // accepted, not authorized, clientId conflict, no heart, ...
	ClientID   string `json:"client_id"`   // "" for a message the admin API published
	ChannelID  string `json:"channel_id,omitempty"`
	MsgID      string `json:"msg_id,omitempty"`
}

// TraceList is the answer of the native trace endpoints: events oldest
// first (newest first with reverse=true), at most limit of total.
type TraceList struct {
	Events []TraceEvent `json:"events"`
	Total  int          `json:"total"` // events matching, before limit
}

// serveTraces serves GET /api/v1/traces/clients/{id} (a client's
// connection and message events; kind=connections|messages|all,
// begin_ms, end_ms, limit, reverse) and /api/v1/traces/messages/{msg_id}
// (one message's publication and deliveries).
func (s *Server) serveTraces(ctx *fasthttp.RequestCtx, path []byte) {
	if !s.apiAuthorized(ctx, false) {
		s.unauthorized(ctx)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		s.methodNotAllowed(ctx, "GET", tracesPath)
		return
	}
	bad := func(msg string) {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusBadRequest, "bad_request", "admin: "+msg)
	}
	if s.tracer == nil {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusNotFound, "not_found", "admin: this broker keeps no traces")
		return
	}
	var f trace.Filter
	p := string(path)
	switch {
	case len(p) > len(clientTracesPath) && p[:len(clientTracesPath)] == clientTracesPath:
		id, err := url.PathUnescape(p[len(clientTracesPath):])
		if err != nil || !validClientID(id) {
			bad("client ID " + quote(path[len(clientTracesPath):]) + " in the path is not a URL-path-escaped MQTT client ID")
			return
		}
		f.ClientID = id
		switch k := string(ctx.QueryArgs().Peek("kind")); k {
		case "", "all":
		case "connections":
			f.Kinds = trace.Connections
		case "messages":
			f.Kinds = trace.Messages
		default:
			bad("kind " + strconv.Quote(cut(k)) + ": want connections, messages or all")
			return
		}
	case len(p) > len(messageTracesPath) && p[:len(messageTracesPath)] == messageTracesPath:
		id, ok := s.tracer.ParseMsgID(p[len(messageTracesPath):])
		if !ok {
			s.metrics.request(actionNative, resultError)
			nativeError(ctx, fasthttp.StatusNotFound, "not_found", "admin: "+quote(path[len(messageTracesPath):])+
				" is not a message ID of this broker run (32 hex digits, as QueryMqttTraceMessageOfClient shows them)")
			return
		}
		f.MsgID = id
	default:
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusNotFound, "not_found", "admin: no endpoint "+quote(path)+
			"; try /api/v1/traces/clients/{id} or /api/v1/traces/messages/{msg_id}")
		return
	}
	args := ctx.QueryArgs()
	limit := defaultPageSize
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"begin_ms", &f.Begin}, {"end_ms", &f.End}} {
		if v := args.Peek(p.name); len(v) > 0 {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 || n > 1<<50 {
				bad(p.name + " " + quote(v) + ": want epoch milliseconds")
				return
			}
			*p.dst = n * 1000 // ms to the trace's µs
		}
	}
	if f.End != 0 {
		f.End += 999
	}
	if v := args.Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > maxPageSize {
			bad("limit " + quote(v) + ": want a number from 1 to " + strconv.Itoa(maxPageSize))
			return
		}
		limit = n
	}
	evs := s.tracer.Find(f, s.now().UnixMicro())
	q := traceQuery{page: 1, size: limit, reverse: string(args.Peek("reverse")) == "true"}
	list := TraceList{Events: []TraceEvent{}, Total: len(evs)}
	for _, e := range q.pageOf(evs) {
		list.Events = append(list.Events, s.traceEvent(&e))
	}
	s.metrics.request(actionNative, resultOK)
	writeJSON(ctx, fasthttp.StatusOK, list)
}

// traceEvent is e as the native API shows it.
func (s *Server) traceEvent(e *trace.Event) TraceEvent {
	te := TraceEvent{Time: rfc3339(e.Time / 1000), TimeMs: e.Time / 1000, Action: e.Kind.Action(), ActionCode: e.Kind.Code(),
		ActionInfo: e.Info.String(), ClientID: e.ClientID}
	if e.Kind.Message() {
		te.MsgID = s.tracer.FormatMsgID(e.MsgID)
	} else {
		te.ChannelID = trace.FormatChannel(e.Channel)
	}
	return te
}
