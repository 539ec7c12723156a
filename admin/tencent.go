package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Tencent error codes answered (all with HTTP 200), from the
// DescribeMQTTClient page and Tencent Cloud API 3.0's common error codes.
const (
	tcResourceNotFoundClient   = "ResourceNotFound.Client"
	tcResourceNotFoundInstance = "ResourceNotFound.Instance"
	tcMissingParameter         = "MissingParameter"
	tcInvalidParameterValue    = "InvalidParameterValue"
	tcInvalidAction            = "InvalidAction"
	tcNoSuchVersion            = "NoSuchVersion"
	tcRequestLimitExceeded     = "RequestLimitExceeded"
	tcInternalError            = "InternalError"
	tcSignatureFailure         = "AuthFailure.SignatureFailure"
	tcSignatureExpire          = "AuthFailure.SignatureExpire"
	tcSecretIDNotFound         = "AuthFailure.SecretIdNotFound"
	tcInvalidAuthorization     = "AuthFailure.InvalidAuthorization"
)

// serveTencent answers a Tencent request. The order of checks: action known
// → rate limit (throttled requests cost no signature check and no lookup) →
// signature → action served → version → parameters → session lookup.
func (s *Server) serveTencent(ctx *fasthttp.RequestCtx, d dialect) {
	st := s.getState()
	defer s.putState(st)
	requestID := s.requestID(false)
	act := actionUnknown
	defer func() {
		if r := recover(); r != nil {
			slog.Error("admin: panic serving a request", "dialect", "Tencent", "action", fmt.Sprint(act), "reason", fmt.Sprint(r))
			s.tencentFail(ctx, st, act, requestID, failure{code: tcInternalError, msg: "An internal error has occurred. Retry your request."})
		}
	}()

	var actionName []byte
	if d.scheme == schemeTC3 {
		actionName = ctx.Request.Header.Peek("X-TC-Action")
	} else {
		actionName, _ = formParam(ctx, "Action")
	}
	act = lookupAction(cloudTencent, actionName)
	if !s.limits.allow(act) {
		s.tencentFail(ctx, st, act, requestID, failure{code: tcRequestLimitExceeded,
			msg: fmt.Sprintf("Your request rate exceeds the limit of %g requests per second for %s. Retry later.", s.limits.limitOf(act), act)})
		return
	}
	if s.authRequired() {
		if f := s.verifyTencent(ctx, st, d, act); f.code != "" {
			s.tencentFail(ctx, st, act, requestID, f)
			return
		}
	}
	switch {
	case len(actionName) == 0:
		s.tencentFail(ctx, st, act, requestID, failure{code: tcMissingParameter, msg: "The request is missing a required parameter `Action`."})
		return
	case act == actionUnknown:
		s.tencentFail(ctx, st, act, requestID, failure{code: tcInvalidAction,
			msg: fmt.Sprintf("The action %s is not supported here; glassmq serves %s (trocket %s) and %s (mqtt %s).",
				quote(actionName), describeAction, tencentVersion, actionList(cloudTencent)[len(describeAction)+2:], mqttVersion)})
		return
	}
	var version []byte
	if d.scheme == schemeTC3 {
		version = ctx.Request.Header.Peek("X-TC-Version")
	} else {
		version, _ = formParam(ctx, "Version")
	}
	if want := actionSpecs[act].version; string(version) != want {
		s.tencentFail(ctx, st, act, requestID, failure{code: tcNoSuchVersion,
			msg: fmt.Sprintf("The API version %s does not exist; %s is version %s.", quote(version), act, want)})
		return
	}
	if act != actionDescribe {
		s.serveTencentMQTT(ctx, st, d, act, requestID)
		return
	}
	instanceID, clientID, f := s.tencentParams(ctx, st, d)
	if f.code != "" {
		s.tencentFail(ctx, st, act, requestID, f)
		return
	}
	if instanceID != s.cfg.InstanceID {
		s.tencentFail(ctx, st, act, requestID, failure{code: tcResourceNotFoundInstance,
			msg: fmt.Sprintf("The instance %q does not exist; this broker is instance %q (-instance-id).", cut(instanceID), s.cfg.InstanceID)})
		return
	}
	st.resetInfo()
	if !s.broker.SessionInfo(clientID, &st.info) {
		s.tencentFail(ctx, st, act, requestID, failure{code: tcResourceNotFoundClient,
			msg: fmt.Sprintf("The client %q does not exist.", cut(clientID))})
		return
	}
	st.tc.fill(&st.info, requestID)
	ctx.SetContentType("application/json")
	ctx.SetBody(marshalJSON(tencentAnswer{Response: &st.tc}))
	s.metrics.request(act, resultOK)
}

// tencentParams reads InstanceId and ClientId: from the JSON body (TC3
// POST), the query (TC3 GET) or the form fields (legacy).
func (s *Server) tencentParams(ctx *fasthttp.RequestCtx, st *reqState, d dialect) (instanceID, clientID string, f failure) {
	var hasInstance, hasClient bool
	if d.scheme == schemeTC3 && ctx.IsPost() {
		st.treq = DescribeMQTTClientRequest{}
		if body := ctx.PostBody(); len(body) > 0 {
			if err := json.Unmarshal(body, &st.treq); err != nil {
				return "", "", failure{code: tcInvalidParameterValue, msg: "The request body is not a JSON object of DescribeMQTTClient parameters: " + jsonProblem(err)}
			}
		}
		if p := st.treq.InstanceID; p != nil {
			instanceID, hasInstance = *p, true
		}
		if p := st.treq.ClientID; p != nil {
			clientID, hasClient = *p, true
		}
	} else {
		var b []byte
		if d.scheme == schemeTC3 { // GET: the query only
			q := ctx.QueryArgs()
			if hasInstance = q.Has("InstanceId"); hasInstance {
				instanceID = string(q.Peek("InstanceId"))
			}
			if hasClient = q.Has("ClientId"); hasClient {
				clientID = string(q.Peek("ClientId"))
			}
		} else {
			if b, hasInstance = formParam(ctx, "InstanceId"); hasInstance {
				instanceID = string(b)
			}
			if b, hasClient = formParam(ctx, "ClientId"); hasClient {
				clientID = string(b)
			}
		}
	}
	switch {
	case !hasInstance || instanceID == "":
		return "", "", failure{code: tcMissingParameter, msg: "The request is missing a required parameter `InstanceId`."}
	case !hasClient || clientID == "":
		return "", "", failure{code: tcMissingParameter, msg: "The request is missing a required parameter `ClientId`."}
	case !validClientID(clientID):
		return "", "", failure{code: tcInvalidParameterValue,
			msg: fmt.Sprintf("The value of parameter `ClientId` is invalid: %s is not an MQTT client ID (1 to 65535 bytes of UTF-8 without U+0000).", strconv.Quote(cut(clientID)))}
	}
	return instanceID, clientID, failure{}
}

// jsonProblem describes a decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("`%s` is a JSON %s, want a string.", te.Field, te.Value)
	}
	return err.Error() + "."
}

// tencentFail answers f as Tencent does: HTTP 200 with
// {"Response":{"Error":{...},"RequestId":...}}.
func (s *Server) tencentFail(ctx *fasthttp.RequestCtx, st *reqState, act action, requestID string, f failure) {
	result := resultError
	if f.code == tcRequestLimitExceeded {
		result = resultThrottled
	}
	s.metrics.request(act, result)
	body := marshalJSON(tencentAnswer{Response: tencentErrorResponse{Error: TencentError{Code: f.code, Message: f.msg}, RequestID: requestID}})
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// verifyTencent checks the request's signature: TC3 or legacy, as detected.
func (s *Server) verifyTencent(ctx *fasthttp.RequestCtx, st *reqState, d dialect, act action) failure {
	switch {
	case !d.signed:
		return failure{code: tcInvalidAuthorization,
			msg: "The request is not signed, and this broker has credentials: send an Authorization header (TC3-HMAC-SHA256) or SecretId, Timestamp, Nonce and Signature parameters (HmacSHA1, HmacSHA256)."}
	case d.scheme == schemeTC3:
		return s.verifyTC3(ctx, st, act)
	default:
		return s.verifyTencentLegacy(ctx, st)
	}
}
