package admin

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// Tencent codes beyond the seed's.
const (
	tcResourceNotFoundWill = "ResourceNotFound.WillMessage"
	tcOperationDenied      = "OperationDenied"
)

// Limits of DescribeClientList.
const (
	maxClientList = 1024 // most clients per answer, and the default
)

// serveTencentMQTT answers the actions of service mqtt 2024-05-16, after
// serveTencent has checked the rate limit, signature and version.
func (s *Server) serveTencentMQTT(ctx *fasthttp.RequestCtx, st *reqState, d dialect, act action, requestID string) {
	a, f := tencentArgs(ctx, d)
	if f.code == "" {
		f = s.checkTencentInstance(a)
	}
	var resp any
	if f.code == "" {
		switch act {
		case actionDescribeClientList:
			resp, f = s.describeClientList(a, requestID)
		case actionKickOutClient:
			resp, f = s.kickOutClient(a, requestID)
		case actionAddClientSubscription, actionDeleteClientSubscription:
			resp, f = s.changeClientSubscription(a, act == actionAddClientSubscription, requestID)
		case actionDescribeWillMessage:
			resp, f = s.describeWillMessage(a, requestID)
		case actionPublishMessage:
			resp, f = s.publishMessage(a, requestID)
		}
	}
	if f.code != "" {
		s.tencentFail(ctx, st, act, requestID, f)
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(marshalJSON(tencentAnswer{Response: resp}))
	s.metrics.request(act, resultOK)
}

// checkTencentInstance checks InstanceId names this broker.
func (s *Server) checkTencentInstance(a tcArgs) failure {
	id, f := a.required("InstanceId")
	if f.code != "" {
		return f
	}
	if id != s.cfg.InstanceID {
		return failure{code: tcResourceNotFoundInstance,
			msg: fmt.Sprintf("The instance %q does not exist; this broker is instance %q (-instance-id).", cut(id), s.cfg.InstanceID)}
	}
	return failure{}
}

// tencentClientID reads a required, valid ClientId.
func tencentClientID(a tcArgs) (string, failure) {
	id, f := a.required("ClientId")
	if f.code == "" && !validClientID(id) {
		f = failure{code: tcInvalidParameterValue,
			msg: fmt.Sprintf("The value of parameter `ClientId` is invalid: %s is not an MQTT client ID (1 to 65535 bytes of UTF-8 without U+0000).", strconv.Quote(cut(id)))}
	}
	return id, f
}

func noClient(id string) failure {
	return failure{code: tcResourceNotFoundClient, msg: fmt.Sprintf("The client %q does not exist.", cut(id))}
}

func (s *Server) noOps() failure {
	return failure{code: tcInternalError, msg: "An internal error has occurred: this broker cannot change sessions from the admin API."}
}

// requestIDOnly is the answer of actions that return nothing but RequestId.
type requestIDOnly struct {
	RequestID string `json:"RequestId"`
}

// DescribeClientListResponse is the "Response" of Tencent Cloud MQTT
// DescribeClientList (service mqtt, version 2024-05-16),
// https://cloud.tencent.com/document/api/1778/116331: the sessions, newest
// first by the paging time (connect time of online clients, disconnect time
// of offline ones).
type DescribeClientListResponse struct {
	Clients   []MQTTClientInfo `json:"Clients"`
	RequestID string           `json:"RequestId"`
}

// MQTTClientInfo is one client of DescribeClientListResponse (the vendor's
// data type of that name). Times are epoch milliseconds.
type MQTTClientInfo struct {
	ClientID                string                `json:"ClientId"`
	ClientAddress           string                `json:"ClientAddress"`
	ProtocolVersion         int64                 `json:"ProtocolVersion"`
	KeepAlive               int64                 `json:"Keepalive"`
	ConnectionStatus        string                `json:"ConnectionStatus"`
	CreateTime              int64                 `json:"CreateTime"`
	ConnectTime             int64                 `json:"ConnectTime"`
	DisconnectTime          int64                 `json:"DisconnectTime"`
	MQTTClientSubscriptions []ClientSubscriptionV `json:"MQTTClientSubscriptions"`
	CleanSession            bool                  `json:"CleanSession"`
	ExpireIntervalInSeconds int64                 `json:"ExpireIntervalInSeconds"` // offline persistent sessions are kept this long; 0 for clean sessions
}

// ClientSubscriptionV is one subscription of MQTTClientInfo (the vendor's
// MQTTClientSubscription of 2024-05-16). glassmq keeps one queue and one
// in-flight window per session, not per subscription, so Lag and Inflight
// are the session's: messages queued and not yet sent, and sent and not
// yet acknowledged.
type ClientSubscriptionV struct {
	TopicFilter    string         `json:"TopicFilter"`
	QoS            int64          `json:"Qos"`
	Lag            int64          `json:"Lag"`
	Inflight       int64          `json:"Inflight"`
	UserProperties []UserProperty `json:"UserProperties"`
}

// UserProperty is an MQTT 5 user property (the vendor's data type of that
// name).
type UserProperty struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// listEntry is a session picked for DescribeClientList.
type listEntry struct {
	id string
	at int64 // paging time
}

func (s *Server) describeClientList(a tcArgs, requestID string) (any, failure) {
	filter, _, f := a.str("ClientId")
	if f.code != "" {
		return nil, f
	}
	number := int64(maxClientList)
	if n, ok, f := a.int("Number"); f.code != "" {
		return nil, f
	} else if ok {
		if n < 1 || n > maxClientList {
			return nil, failure{code: tcInvalidParameterValue, msg: fmt.Sprintf("The value of parameter `Number` %d is out of range: want 1 to %d.", n, maxClientList)}
		}
		number = n
	}
	status, _, f := a.int("OnlineStatus")
	if f.code != "" {
		return nil, f
	}
	if status < 0 || status > 2 {
		return nil, failure{code: tcInvalidParameterValue, msg: fmt.Sprintf("The value of parameter `OnlineStatus` %d is invalid: want 0 (all), 1 (online) or 2 (offline).", status)}
	}
	maxTS, hasMax, f := a.int("MaxTimestamp")
	if f.code != "" {
		return nil, f
	}
	var picked []listEntry
	var info session.Info
	s.broker.RangeSessions(func(id string, connected bool) bool {
		if filter != "" && !strings.Contains(id, filter) ||
			status == 1 && !connected || status == 2 && connected {
			return true
		}
		if !s.broker.SessionInfo(id, &info) {
			return true
		}
		at := info.DisconnectTime
		if info.Connected {
			at = info.ConnectTime
		}
		if hasMax && maxTS > 0 && at >= maxTS {
			return true
		}
		picked = append(picked, listEntry{id, at})
		return true
	})
	slices.SortFunc(picked, func(x, y listEntry) int {
		if c := cmp.Compare(y.at, x.at); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	resp := &DescribeClientListResponse{Clients: []MQTTClientInfo{}, RequestID: requestID}
	for _, e := range picked {
		if int64(len(resp.Clients)) >= number {
			break
		}
		info = session.Info{}
		if s.broker.SessionInfo(e.id, &info) {
			resp.Clients = append(resp.Clients, clientInfo(&info))
		}
	}
	return resp, failure{}
}

// clientInfo converts a session snapshot.
func clientInfo(i *session.Info) MQTTClientInfo {
	c := MQTTClientInfo{ClientID: i.ClientID, ClientAddress: i.ClientAddress, ProtocolVersion: int64(i.ProtocolVersion),
		KeepAlive: int64(i.KeepAlive), ConnectionStatus: StatusDisconnected, CreateTime: i.CreateTime,
		ConnectTime: i.ConnectTime, DisconnectTime: i.DisconnectTime, CleanSession: i.CleanSession,
		ExpireIntervalInSeconds: i.SessionExpiry, MQTTClientSubscriptions: make([]ClientSubscriptionV, 0, len(i.Subscriptions))}
	if i.Connected {
		c.ConnectionStatus = StatusConnected
	}
	for _, sub := range i.Subscriptions {
		c.MQTTClientSubscriptions = append(c.MQTTClientSubscriptions, ClientSubscriptionV{TopicFilter: sub.TopicFilter,
			QoS: int64(sub.QoS), Lag: int64(i.QueueLen), Inflight: int64(i.InflightLen), UserProperties: []UserProperty{}})
	}
	return c
}

// kickOutClient closes the client's connection, publishing its will;
// DeleteSession true also deletes the session.
func (s *Server) kickOutClient(a tcArgs, requestID string) (any, failure) {
	id, f := tencentClientID(a)
	if f.code != "" {
		return nil, f
	}
	del, _, f := a.bool("DeleteSession")
	if f.code != "" {
		return nil, f
	}
	if !s.broker.SessionInfo(id, &session.Info{}) {
		return nil, noClient(id)
	}
	if del {
		if s.ops == nil {
			return nil, s.noOps()
		}
		if !s.ops.DeleteSession(id) {
			return nil, noClient(id)
		}
	} else {
		s.broker.Kick(id, true) // an offline session has nothing to kick
	}
	return &requestIDOnly{requestID}, failure{}
}

// changeClientSubscription adds or removes a subscription of a session, as
// if its client had sent SUBSCRIBE or UNSUBSCRIBE.
func (s *Server) changeClientSubscription(a tcArgs, add bool, requestID string) (any, failure) {
	id, f := tencentClientID(a)
	if f.code != "" {
		return nil, f
	}
	filter, f := a.required("TopicFilter")
	if f.code != "" {
		return nil, f
	}
	if !codec.ValidTopicFilter(filter) {
		return nil, failure{code: tcInvalidParameterValue,
			msg: fmt.Sprintf("The value of parameter `TopicFilter` %s is not an MQTT topic filter.", strconv.Quote(cut(filter)))}
	}
	var qos int64
	if add {
		q, ok, f := a.int("Qos")
		switch {
		case f.code != "":
			return nil, f
		case !ok:
			return nil, failure{code: tcMissingParameter, msg: "The request is missing a required parameter `Qos`."}
		case q < 0 || q > 2:
			return nil, failure{code: tcInvalidParameterValue, msg: fmt.Sprintf("The value of parameter `Qos` %d is invalid: want 0, 1 or 2.", q)}
		}
		qos = q
		if f := s.refusedByBroker(func(c Capabilities) error { return c.CheckSubscribe(filter) }); f.code != "" {
			return nil, f
		}
	}
	if s.ops == nil {
		return nil, s.noOps()
	}
	var ok bool
	if add {
		ok = s.ops.Subscribe(id, filter, byte(qos))
	} else {
		ok = s.ops.Unsubscribe(id, filter)
	}
	if !ok {
		return nil, noClient(id)
	}
	return &requestIDOnly{requestID}, failure{}
}

// DescribeWillMessageResponse is the "Response" of Tencent Cloud MQTT
// DescribeWillMessage (service mqtt, version 2024-05-16): the will of the
// client's current connection. Payload and CorrelationData are base64;
// times are epoch milliseconds (the will is set by CONNECT, so both are the
// connect time). The MQTT 5 fields are empty for 3.1.1 clients.
type DescribeWillMessageResponse struct {
	Topic                  string         `json:"Topic"`
	QoS                    string         `json:"Qos"`
	Retained               bool           `json:"Retained"`
	Payload                string         `json:"Payload"`
	CreateTime             int64          `json:"CreateTime"`
	UpdateTime             int64          `json:"UpdateTime"`
	WillDelayInterval      int64          `json:"WillDelayInterval"`
	ContentType            string         `json:"ContentType"`
	ResponseTopic          string         `json:"ResponseTopic"`
	CorrelationData        string         `json:"CorrelationData"`
	MessageExpiryInterval  int64          `json:"MessageExpiryInterval"`
	PayloadFormatIndicator int64          `json:"PayloadFormatIndicator"`
	UserProperties         []UserProperty `json:"UserProperties"`
	RequestID              string         `json:"RequestId"`
}

func (s *Server) describeWillMessage(a tcArgs, requestID string) (any, failure) {
	id, f := tencentClientID(a)
	if f.code != "" {
		return nil, f
	}
	var info session.Info
	if !s.broker.SessionInfo(id, &info) {
		return nil, noClient(id)
	}
	if s.ops == nil {
		return nil, s.noOps()
	}
	w, connected := s.ops.Will(id)
	switch {
	case !connected:
		return nil, failure{code: tcResourceNotFoundWill, msg: fmt.Sprintf("The client %q is not connected: a will belongs to a connection.", cut(id))}
	case w == nil:
		return nil, failure{code: tcResourceNotFoundWill, msg: fmt.Sprintf("The client %q connected without a will message.", cut(id))}
	}
	r := &DescribeWillMessageResponse{Topic: string(w.Topic), QoS: strconv.Itoa(int(w.QoS)), Retained: w.Retain,
		Payload: base64.StdEncoding.EncodeToString(w.Payload), CreateTime: info.ConnectTime, UpdateTime: info.ConnectTime,
		UserProperties: []UserProperty{}, RequestID: requestID}
	willProperties(r, w.Props)
	return r, failure{}
}

// willProperties fills r from a will's MQTT 5.0 properties as the broker
// keeps them (the forwarded property records, without their length): user
// properties in order, content type, response topic, correlation data and
// payload format. A 3.1.1 will has none.
func willProperties(r *DescribeWillMessageResponse, props []byte) {
	if len(props) == 0 {
		return
	}
	b := make([]byte, 0, len(props)+4)
	for n := len(props); ; { // the block's length, a variable byte integer
		c := byte(n & 0x7f)
		if n >>= 7; n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			break
		}
	}
	var p codec.Properties
	if _, err := p.Decode(append(b, props...), codec.TypePublish, false); err != nil {
		return // the broker stored what it decoded: cannot happen
	}
	for _, u := range p.User {
		r.UserProperties = append(r.UserProperties, UserProperty{Key: string(u.Key), Value: string(u.Value)})
	}
	r.ContentType, r.ResponseTopic, r.CorrelationData = string(p.ContentType), string(p.ResponseTopic), string(p.CorrelationData)
	r.PayloadFormatIndicator = int64(p.PayloadFormat)
}

// publishMessage publishes as the broker: to every subscriber of
// TargetTopic, or only to TargetClientId's session.
func (s *Server) publishMessage(a tcArgs, requestID string) (any, failure) {
	payload, ok, f := a.str("Payload")
	if f.code != "" {
		return nil, f
	}
	if !ok {
		return nil, failure{code: tcMissingParameter, msg: "The request is missing a required parameter `Payload`."}
	}
	topic, f := a.required("TargetTopic")
	if f.code != "" {
		return nil, f
	}
	if !codec.ValidTopicName(topic) || topic[0] == '$' {
		return nil, failure{code: tcInvalidParameterValue,
			msg: fmt.Sprintf("The value of parameter `TargetTopic` %s is not an MQTT topic name outside $-topics.", strconv.Quote(cut(topic)))}
	}
	target, _, f := a.str("TargetClientId")
	if f.code != "" {
		return nil, f
	}
	body := []byte(payload)
	switch enc, _, f := a.str("Encoding"); {
	case f.code != "":
		return nil, f
	case enc == "" || enc == "plain":
	case enc == "base64":
		b, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return nil, failure{code: tcInvalidParameterValue, msg: "The value of parameter `Payload` is not base64, as `Encoding` base64 says."}
		}
		body = b
	default:
		return nil, failure{code: tcInvalidParameterValue, msg: fmt.Sprintf("The value of parameter `Encoding` %s is invalid: want plain or base64.", strconv.Quote(cut(enc)))}
	}
	qos := int64(1)
	if q, ok, f := a.int("Qos"); f.code != "" {
		return nil, f
	} else if ok {
		if q < 0 || q > 2 {
			return nil, failure{code: tcInvalidParameterValue, msg: fmt.Sprintf("The value of parameter `Qos` %d is invalid: want 0, 1 or 2.", q)}
		}
		qos = q
	}
	retain, _, f := a.bool("Retain")
	if f.code != "" {
		return nil, f
	}
	if f := s.refusedByBroker(func(c Capabilities) error { return c.CheckPublish(topic, retain) }); f.code != "" && target == "" {
		return nil, f
	}
	if s.ops == nil {
		return nil, s.noOps()
	}
	var traceID uint64
	if target != "" {
		if retain {
			return nil, failure{code: tcOperationDenied, msg: "A message for one client (`TargetClientId`) cannot be retained."}
		}
		var ok bool
		if traceID, ok = s.ops.PublishTo(target, topic, body, byte(qos)); !ok {
			return nil, noClient(target)
		}
	} else {
		traceID = s.ops.Publish(topic, body, byte(qos), retain)
	}
	return &PublishMessageResponse{MessageID: s.publishedMsgID(traceID), RequestID: requestID}, failure{}
}

// PublishMessageResponse is the "Response" of Tencent Cloud MQTT
// PublishMessage (service mqtt, version 2024-05-16),
// https://cloud.tencent.com/document/api/1778/116689. The cloud answers
// RequestId alone; MessageId is glassmq's addition (SDKs ignore fields they
// do not know): the ID the message's trace carries, so
// QueryMqttTraceMessagePublish and /api/v1/traces/messages/{id} find it.
type PublishMessageResponse struct {
	MessageID string `json:"MessageId,omitempty"`
	RequestID string `json:"RequestId"`
}
