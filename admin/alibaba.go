package admin

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/valyala/fasthttp"
)

// QuerySessionByClientIDResponse is the success answer of Alibaba Cloud
// ApsaraMQ for MQTT QuerySessionByClientId (product onsmqtt, version
// 2020-04-20),
// https://www.alibabacloud.com/help/en/apsaramq-for-mqtt/api-querysessionbyclientid:
// JSON, or XML when the request's Format is XML (any case). OnlineStatus is
// false for an unknown client, not an error.
type QuerySessionByClientIDResponse struct {
	XMLName      xml.Name `json:"-" xml:"QuerySessionByClientIdResponse"`
	OnlineStatus bool     `json:"OnlineStatus" xml:"OnlineStatus"`
	RequestID    string   `json:"RequestId" xml:"RequestId"`
}

// AlibabaError is the JSON body of an Alibaba Cloud API error, sent with
// HTTP 4xx or 5xx (https://www.alibabacloud.com/help/doc-detail/69008.htm
// and the error codes of the QuerySessionByClientId page). Every field is a
// string: the classic SDK type-asserts them and panics otherwise.
type AlibabaError struct {
	RequestID string `json:"RequestId"`
	HostID    string `json:"HostId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	Recommend string `json:"Recommend"`
}

// Alibaba error codes answered. The first seven are on the
// QuerySessionByClientId page; the rest are Alibaba Cloud's common
// signature and parameter codes.
const (
	alSystemOverFlow                = "SystemOverFlow"                // 500: throttled
	alInvalidParameterClientID      = "InvalidParameter.ClientId"     // 400: missing
	alInvalidParameterInstanceID    = "InvalidParameter.InstanceId"   // 400: missing
	alParameterCheckFailed          = "ParameterCheckFailed"          // 400: present but impossible
	alAPINotSupport                 = "ApiNotSupport"                 // 404: unknown action
	alInternalError                 = "InternalError"                 // 500
	alInstancePermissionCheckFailed = "InstancePermissionCheckFailed" // 400: not our instance ID
	alInvalidVersion                = "InvalidVersion"
	alMissingSignature              = "MissingSignature"
	alIncompleteSignature           = "IncompleteSignature"
	alSignatureDoesNotMatch         = "SignatureDoesNotMatch"
	alInvalidSignatureMethod        = "InvalidSignatureMethod"
	alInvalidSignatureVersion       = "InvalidSignatureVersion"
	alMissingTimestamp              = "MissingTimestamp"
	alInvalidTimeStampFormat        = "InvalidTimeStamp.Format"
	alInvalidTimeStampExpired       = "InvalidTimeStamp.Expired"
	alMissingSignatureNonce         = "MissingSignatureNonce"
	alSignatureNonceUsed            = "SignatureNonceUsed"
	alInvalidAccessKeyIDNotFound    = "InvalidAccessKeyId.NotFound" // 404
)

// serveAlibaba answers an Alibaba request. The order of checks: action
// known → rate limit (throttled requests cost no signature check and no
// lookup) → signature, then nonce → action served → version → parameters →
// session lookup.
func (s *Server) serveAlibaba(ctx *fasthttp.RequestCtx, d dialect) {
	st := s.getState()
	defer s.putState(st)
	requestID := s.requestID(true)
	ctx.Response.Header.Set("x-acs-request-id", requestID)
	act := actionUnknown
	defer func() {
		if r := recover(); r != nil {
			slog.Error("admin: panic serving a request", "dialect", "Alibaba", "action", fmt.Sprint(act), "reason", fmt.Sprint(r))
			s.alibabaFail(ctx, st, act, requestID, failure{status: 500, code: alInternalError,
				msg: "An error occurred while processing your request. Try again later."})
		}
	}()

	actionName := ctx.Request.Header.Peek("x-acs-action")
	if d.scheme == schemeRPC {
		if a, ok := formParam(ctx, "Action"); ok {
			actionName = a
		}
	}
	act = lookupAction(cloudAlibaba, actionName)
	if !s.limits.allow(act) {
		s.alibabaFail(ctx, st, act, requestID, failure{status: 500, code: alSystemOverFlow,
			msg:  fmt.Sprintf("An error occurred while processing your request. Please try again. (throttled: over %g requests per second for %s)", s.limits.limitOf(act), act),
			hint: "slow down; the limit is -rate-limit " + act.String() + "=rate[:burst]"})
		return
	}
	if s.authRequired() {
		if f := s.verifyAlibaba(ctx, st, d); f.code != "" {
			s.alibabaFail(ctx, st, act, requestID, f)
			return
		}
	}
	if act == actionUnknown {
		what := "no Action"
		if len(actionName) > 0 {
			what = "Action " + quote(actionName)
		}
		s.alibabaFail(ctx, st, act, requestID, failure{status: 404, code: alAPINotSupport,
			msg:  "The specified API is not supported: " + what + ".",
			hint: "glassmq serves " + actionList(cloudAlibaba) + " (onsmqtt 2020-04-20)"})
		return
	}
	version := ctx.Request.Header.Peek("x-acs-version")
	if d.scheme == schemeRPC {
		if v, ok := formParam(ctx, "Version"); ok {
			version = v
		}
	}
	if len(version) > 0 && string(version) != alibabaVersion {
		s.alibabaFail(ctx, st, act, requestID, failure{status: 400, code: alInvalidVersion,
			msg: "Specified parameter Version is not valid: " + quote(version) + ".", hint: "use Version " + alibabaVersion})
		return
	}
	if act != actionQuery {
		s.serveAlibabaOps(ctx, st, act, requestID)
		return
	}
	instanceID, hasInstance := formParam(ctx, "InstanceId")
	clientID, hasClient := formParam(ctx, "ClientId")
	var f failure
	switch {
	case !hasInstance || len(instanceID) == 0:
		f = failure{status: 400, code: alInvalidParameterInstanceID,
			msg: "An error occurred while validating the parameter. The parameter may be missing or invalid: InstanceId is missing."}
	case !hasClient || len(clientID) == 0:
		f = failure{status: 400, code: alInvalidParameterClientID,
			msg: "An error occurred while validating the parameter. The parameter may be missing or invalid: ClientId is missing."}
	case !validClientID(string(clientID)):
		f = failure{status: 400, code: alParameterCheckFailed,
			msg: "An error occurred while validating the parameters. The parameters may be missing or invalid: ClientId " + quote(clientID) +
				" is not an MQTT client ID (1 to 65535 bytes of UTF-8 without U+0000)."}
	case string(instanceID) != s.cfg.InstanceID:
		f = failure{status: 400, code: alInstancePermissionCheckFailed,
			msg: "An error occurred while validating the permissions of the instance. Please verify the account that created the instance and its permissions settings: InstanceId " +
				quote(instanceID) + " is not this broker's.",
			hint: "this broker is instance " + strconv.Quote(s.cfg.InstanceID) + " (-instance-id)"}
	}
	if f.code != "" {
		s.alibabaFail(ctx, st, act, requestID, f)
		return
	}
	st.resetInfo()
	online := s.broker.SessionInfo(string(clientID), &st.info) && st.info.Connected
	resp := QuerySessionByClientIDResponse{OnlineStatus: online, RequestID: requestID}
	if format, _ := formParam(ctx, "Format"); bytes.EqualFold(format, []byte("XML")) {
		ctx.SetContentType("text/xml;charset=utf-8")
		ctx.SetBody(marshalXML(&resp))
	} else {
		ctx.SetContentType("application/json;charset=utf-8")
		ctx.SetBody(marshalJSON(&resp))
	}
	s.metrics.request(act, resultOK)
}

// verifyAlibaba checks the request's signature: RPC v1 or ACS3, as detected.
func (s *Server) verifyAlibaba(ctx *fasthttp.RequestCtx, st *reqState, d dialect) failure {
	switch {
	case !d.signed:
		return failure{status: 400, code: alMissingSignature,
			msg:  "Signature is mandatory for this action: this broker has credentials.",
			hint: "sign with ACS3-HMAC-SHA256 (Authorization header) or RPC HMAC-SHA1 (AccessKeyId and Signature parameters)"}
	case d.scheme == schemeACS3:
		return s.verifyACS3(ctx, st)
	default:
		return s.verifyRPC(ctx, st)
	}
}

// alibabaFail answers f as Alibaba does: HTTP 4xx/5xx with a JSON body of
// strings, whatever the request's Format.
func (s *Server) alibabaFail(ctx *fasthttp.RequestCtx, st *reqState, act action, requestID string, f failure) {
	result := resultError
	if f.code == alSystemOverFlow {
		result = resultThrottled
	}
	s.metrics.request(act, result)
	hint := f.hint
	if hint == "" {
		hint = "see the Message"
	}
	e := AlibabaError{RequestID: requestID, HostID: string(ctx.Request.Header.Host()), Code: f.code, Message: f.msg, Recommend: hint}
	ctx.SetStatusCode(f.status)
	ctx.SetContentType("application/json;charset=utf-8")
	ctx.SetBody(marshalJSON(&e))
}
