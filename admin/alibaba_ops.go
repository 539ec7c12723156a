package admin

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// Alibaba codes beyond QuerySessionByClientId's.
const (
	alInvalidParameterClientIDList = "InvalidParameter.ClientIdList" // 400: none given
	alInvalidParameterMqttTopic    = "InvalidParameter.MqttTopic"    // 400
	alInvalidParameterPayload      = "InvalidParameter.Payload"      // 400
	alDeviceCredentialNotFound     = "DeviceCredentialNotFound"      // 404
)

// Limits of the Alibaba actions.
const (
	maxBatchClientIDs = 10  // BatchQuerySessionByClientIds: the vendor's bound
	maxCredentialPage = 100 // ListDeviceCredentialClientId PageSize
)

// BatchQuerySessionByClientIDsResponse is the answer of Alibaba
// BatchQuerySessionByClientIds (onsmqtt 2020-04-20),
// https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/api-batchquerysessionbyclientids:
// one entry per requested ID, in request order.
type BatchQuerySessionByClientIDsResponse struct {
	XMLName          xml.Name       `json:"-" xml:"BatchQuerySessionByClientIdsResponse"`
	OnlineStatusList []OnlineStatus `json:"OnlineStatusList" xml:"OnlineStatusList"`
	RequestID        string         `json:"RequestId" xml:"RequestId"`
}

// OnlineStatus is one client of BatchQuerySessionByClientIDsResponse.
type OnlineStatus struct {
	ClientID     string `json:"ClientId" xml:"ClientId"`
	OnlineStatus bool   `json:"OnlineStatus" xml:"OnlineStatus"`
}

// CloseConnectionResponse is the answer of Alibaba CloseConnection
// (onsmqtt 2020-04-20),
// https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/api-closeconnection.
type CloseConnectionResponse struct {
	XMLName   xml.Name `json:"-" xml:"CloseConnectionResponse"`
	Code      int      `json:"Code" xml:"Code"`
	Message   string   `json:"Message" xml:"Message"`
	Success   bool     `json:"Success" xml:"Success"`
	RequestID string   `json:"RequestId" xml:"RequestId"`
}

// SendMessageResponse is the answer of Alibaba SendMessage (onsmqtt
// 2020-04-20), https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/api-sendmessage.
type SendMessageResponse struct {
	XMLName   xml.Name `json:"-" xml:"SendMessageResponse"`
	MsgID     string   `json:"MsgId" xml:"MsgId"`
	RequestID string   `json:"RequestId" xml:"RequestId"`
}

// DeviceCredentialResponse is the answer of Alibaba
// RegisterDeviceCredential, GetDeviceCredential and RefreshDeviceCredential
// (onsmqtt 2020-04-20),
// https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/api-registerdevicecredential.
type DeviceCredentialResponse struct {
	XMLName          xml.Name             `json:"-" xml:"DeviceCredentialResponse"`
	DeviceCredential DeviceCredentialBody `json:"DeviceCredential" xml:"DeviceCredential"`
	RequestID        string               `json:"RequestId" xml:"RequestId"`
}

// DeviceCredentialBody is the DeviceCredential object; times are epoch
// milliseconds.
type DeviceCredentialBody struct {
	ClientID              string `json:"ClientId" xml:"ClientId"`
	CreateTime            int64  `json:"CreateTime" xml:"CreateTime"`
	DeviceAccessKeyID     string `json:"DeviceAccessKeyId" xml:"DeviceAccessKeyId"`
	DeviceAccessKeySecret string `json:"DeviceAccessKeySecret" xml:"DeviceAccessKeySecret"`
	InstanceID            string `json:"InstanceId" xml:"InstanceId"`
	UpdateTime            int64  `json:"UpdateTime" xml:"UpdateTime"`
}

// ListDeviceCredentialClientIDResponse is the answer of Alibaba
// ListDeviceCredentialClientId (onsmqtt 2020-04-20). Its numbers are
// strings, as the vendor's SDK types them.
type ListDeviceCredentialClientIDResponse struct {
	XMLName                      xml.Name                 `json:"-" xml:"ListDeviceCredentialClientIdResponse"`
	DeviceCredentialClientIDList DeviceCredentialClientID `json:"DeviceCredentialClientIdList" xml:"DeviceCredentialClientIdList"`
	RequestID                    string                   `json:"RequestId" xml:"RequestId"`
}

// DeviceCredentialClientID is one page of client IDs with a credential;
// NextToken is "" on the last page.
type DeviceCredentialClientID struct {
	ClientIDList []string `json:"ClientIdList" xml:"ClientIdList"`
	NextToken    string   `json:"NextToken" xml:"NextToken"`
	PageNo       string   `json:"PageNo" xml:"PageNo"`
	PageSize     string   `json:"PageSize" xml:"PageSize"`
	Total        string   `json:"Total" xml:"Total"`
}

// requestIDResponse is the answer of actions returning only RequestId.
type requestIDResponse struct {
	XMLName   xml.Name `json:"-" xml:"Response"`
	RequestID string   `json:"RequestId" xml:"RequestId"`
}

// serveAlibabaOps answers the Alibaba actions beyond
// QuerySessionByClientId, after serveAlibaba has checked the rate limit,
// signature and version.
func (s *Server) serveAlibabaOps(ctx *fasthttp.RequestCtx, st *reqState, act action, requestID string) {
	f := s.checkAlibabaInstance(ctx)
	var resp any
	if f.code == "" {
		switch act {
		case actionBatchQuery:
			resp, f = s.batchQuery(ctx, requestID)
		case actionCloseConnection:
			resp, f = s.closeConnection(ctx, requestID)
		case actionSendMessage:
			resp, f = s.sendMessage(ctx, requestID)
		case actionQueryMqttTraceDevice, actionQueryMqttTraceMessageOfClient, actionQueryMqttTracePublish, actionQueryMqttTraceSubscribe:
			resp, f = s.traceAction(ctx, act, requestID)
		default:
			resp, f = s.deviceCredential(ctx, act, requestID)
		}
	}
	if f.code != "" {
		s.alibabaFail(ctx, st, act, requestID, f)
		return
	}
	if format, _ := formParam(ctx, "Format"); bytes.EqualFold(format, []byte("XML")) {
		ctx.SetContentType("text/xml;charset=utf-8")
		ctx.SetBody(marshalXML(resp))
	} else {
		ctx.SetContentType("application/json;charset=utf-8")
		ctx.SetBody(marshalJSON(resp))
	}
	s.metrics.request(act, resultOK)
}

func (s *Server) checkAlibabaInstance(ctx *fasthttp.RequestCtx) failure {
	id, ok := formParam(ctx, "InstanceId")
	switch {
	case !ok || len(id) == 0:
		return failure{status: 400, code: alInvalidParameterInstanceID,
			msg: "An error occurred while validating the parameter. The parameter may be missing or invalid: InstanceId is missing."}
	case string(id) != s.cfg.InstanceID:
		return failure{status: 400, code: alInstancePermissionCheckFailed,
			msg: "An error occurred while validating the permissions of the instance. Please verify the account that created the instance and its permissions settings: InstanceId " +
				quote(id) + " is not this broker's.",
			hint: "this broker is instance " + strconv.Quote(s.cfg.InstanceID) + " (-instance-id)"}
	}
	return failure{}
}

// alibabaClientID reads a required, valid ClientId.
func alibabaClientID(ctx *fasthttp.RequestCtx) (string, failure) {
	id, ok := formParam(ctx, "ClientId")
	switch {
	case !ok || len(id) == 0:
		return "", failure{status: 400, code: alInvalidParameterClientID,
			msg: "An error occurred while validating the parameter. The parameter may be missing or invalid: ClientId is missing."}
	case !validClientID(string(id)):
		return "", failure{status: 400, code: alParameterCheckFailed,
			msg: "An error occurred while validating the parameters. The parameters may be missing or invalid: ClientId " + quote(id) +
				" is not an MQTT client ID (1 to 65535 bytes of UTF-8 without U+0000)."}
	}
	return string(id), failure{}
}

func (s *Server) alibabaNoOps() failure {
	return failure{status: 500, code: alInternalError, msg: "An error occurred while processing your request: this broker cannot change sessions from the admin API."}
}

// batchQuery answers the online status of ClientIdList.1 ... ClientIdList.N,
// N at most 10.
func (s *Server) batchQuery(ctx *fasthttp.RequestCtx, requestID string) (any, failure) {
	var ids []string
	for i := 1; ; i++ {
		id, ok := formParam(ctx, "ClientIdList."+strconv.Itoa(i))
		if !ok {
			break
		}
		if len(ids) == maxBatchClientIDs {
			return nil, failure{status: 400, code: alParameterCheckFailed,
				msg:  fmt.Sprintf("An error occurred while validating the parameters. The parameters may be missing or invalid: ClientIdList has more than %d client IDs.", maxBatchClientIDs),
				hint: "query at most 10 client IDs per call"}
		}
		if !validClientID(string(id)) {
			return nil, failure{status: 400, code: alParameterCheckFailed,
				msg: fmt.Sprintf("An error occurred while validating the parameters. The parameters may be missing or invalid: ClientIdList.%d %s is not an MQTT client ID.", i, quote(id))}
		}
		ids = append(ids, string(id))
	}
	if len(ids) == 0 {
		return nil, failure{status: 400, code: alInvalidParameterClientIDList,
			msg: "An error occurred while validating the parameter. The parameter may be missing or invalid: ClientIdList.1 is missing."}
	}
	resp := &BatchQuerySessionByClientIDsResponse{OnlineStatusList: make([]OnlineStatus, 0, len(ids)), RequestID: requestID}
	var info session.Info
	for _, id := range ids {
		online := s.broker.SessionInfo(id, &info) && info.Connected
		resp.OnlineStatusList = append(resp.OnlineStatusList, OnlineStatus{ClientID: id, OnlineStatus: online})
	}
	return resp, failure{}
}

// closeConnection closes the client's connection, publishing its will. An
// offline or unknown client has nothing to close: Success is still true.
func (s *Server) closeConnection(ctx *fasthttp.RequestCtx, requestID string) (any, failure) {
	id, f := alibabaClientID(ctx)
	if f.code != "" {
		return nil, f
	}
	msg := "operation success."
	if !s.broker.Kick(id, true) {
		msg = "operation success: the client was not connected."
	}
	return &CloseConnectionResponse{Code: 200, Message: msg, Success: true, RequestID: requestID}, failure{}
}

// sendMessage publishes Payload to MqttTopic as the broker, at QoS 1.
func (s *Server) sendMessage(ctx *fasthttp.RequestCtx, requestID string) (any, failure) {
	topic, ok := formParam(ctx, "MqttTopic")
	switch {
	case !ok || len(topic) == 0:
		return nil, failure{status: 400, code: alInvalidParameterMqttTopic,
			msg: "An error occurred while validating the parameter. The parameter may be missing or invalid: MqttTopic is missing."}
	case !codec.ValidTopicName(topic) || topic[0] == '$':
		return nil, failure{status: 400, code: alInvalidParameterMqttTopic,
			msg: "An error occurred while validating the parameter. The parameter may be missing or invalid: MqttTopic " + quote(topic) + " is not an MQTT topic name outside $-topics."}
	}
	payload, ok := formParam(ctx, "Payload")
	if !ok {
		return nil, failure{status: 400, code: alInvalidParameterPayload,
			msg: "An error occurred while validating the parameter. The parameter may be missing or invalid: Payload is missing."}
	}
	if s.ops == nil {
		return nil, s.alibabaNoOps()
	}
	s.ops.Publish(string(topic), bytes.Clone(payload), 1, false)
	return &SendMessageResponse{MsgID: strings.ReplaceAll(s.requestID(true), "-", ""), RequestID: requestID}, failure{}
}

// deviceCredential answers the five device credential actions.
func (s *Server) deviceCredential(ctx *fasthttp.RequestCtx, act action, requestID string) (any, failure) {
	if act == actionListDeviceCredentialClientID {
		return s.listDeviceCredentials(ctx, requestID)
	}
	id, f := alibabaClientID(ctx)
	if f.code != "" {
		return nil, f
	}
	now := s.now().UnixMilli()
	var c DeviceCredential
	var ok = true
	var err error
	switch act {
	case actionRegisterDeviceCredential:
		c, err = s.devices.Register(id, now)
	case actionGetDeviceCredential:
		c, ok = s.devices.Get(id)
	case actionRefreshDeviceCredential:
		c, ok, err = s.devices.Refresh(id, now)
	case actionUnRegisterDeviceCredential:
		ok = s.devices.Unregister(id)
	}
	switch {
	case err != nil:
		return nil, failure{status: 500, code: alInternalError, msg: "An error occurred while processing your request: " + err.Error()}
	case !ok:
		return nil, failure{status: 404, code: alDeviceCredentialNotFound,
			msg: "The device credential does not exist: ClientId " + strconv.Quote(cut(id)) + " has none.", hint: "call RegisterDeviceCredential first"}
	case act == actionUnRegisterDeviceCredential:
		return &requestIDResponse{RequestID: requestID}, failure{}
	}
	return &DeviceCredentialResponse{DeviceCredential: DeviceCredentialBody{ClientID: c.ClientID, CreateTime: c.CreateTime,
		DeviceAccessKeyID: c.AccessKeyID, DeviceAccessKeySecret: c.AccessKeySecret, InstanceID: s.cfg.InstanceID,
		UpdateTime: c.UpdateTime}, RequestID: requestID}, failure{}
}

// listDeviceCredentials pages through the client IDs with a credential:
// GroupId filters, NextToken is the previous page's.
func (s *Server) listDeviceCredentials(ctx *fasthttp.RequestCtx, requestID string) (any, failure) {
	group, _ := formParam(ctx, "GroupId")
	token, _ := formParam(ctx, "NextToken")
	size := maxCredentialPage
	if p, ok := formParam(ctx, "PageSize"); ok {
		n, err := strconv.Atoi(string(p))
		if err != nil || n < 1 || n > maxCredentialPage {
			return nil, failure{status: 400, code: alParameterCheckFailed,
				msg: "An error occurred while validating the parameters. The parameters may be missing or invalid: PageSize " + quote(p) + " is not a number from 1 to 100."}
		}
		size = n
	}
	ids, more, total := s.devices.List(string(group), string(token), size)
	page := DeviceCredentialClientID{ClientIDList: ids, PageNo: "1", PageSize: strconv.Itoa(size), Total: strconv.Itoa(total)}
	if page.ClientIDList == nil {
		page.ClientIDList = []string{}
	}
	if more {
		page.NextToken = ids[len(ids)-1]
	}
	return &ListDeviceCredentialClientIDResponse{DeviceCredentialClientIDList: page, RequestID: requestID}, failure{}
}
