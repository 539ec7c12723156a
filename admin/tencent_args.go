package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"
)

// tcArgs reads the parameters of a Tencent request of any style: the JSON
// body (TC3 POST), the query (TC3 GET) or form fields (legacy). Numbers and
// booleans are taken as JSON values or as their text, since the form styles
// carry only text and the 2024-05-16 API types some numbers as strings.
type tcArgs struct {
	ctx  *fasthttp.RequestCtx
	body map[string]json.RawMessage // TC3 POST only
	tc3  bool                       // TC3 GET: the query only
}

// tencentArgs prepares the parameters of ctx.
func tencentArgs(ctx *fasthttp.RequestCtx, d dialect) (tcArgs, failure) {
	a := tcArgs{ctx: ctx, tc3: d.scheme == schemeTC3}
	if a.tc3 && ctx.IsPost() {
		a.body = map[string]json.RawMessage{}
		if b := bytes.TrimSpace(ctx.PostBody()); len(b) > 0 {
			if err := json.Unmarshal(b, &a.body); err != nil {
				return a, failure{code: tcInvalidParameterValue, msg: "The request body is not a JSON object of parameters: " + jsonProblem(err)}
			}
		}
	}
	return a, failure{}
}

// raw returns the parameter's text: a JSON string unquoted, any other JSON
// value as written, or the form value.
func (a tcArgs) raw(name string) (v string, isString, ok bool) {
	if a.body != nil {
		r, ok := a.body[name]
		if !ok || string(r) == "null" {
			return "", false, false
		}
		var str string
		if json.Unmarshal(r, &str) == nil {
			return str, true, true
		}
		return string(r), false, true
	}
	if a.tc3 {
		q := a.ctx.QueryArgs()
		if !q.Has(name) {
			return "", false, false
		}
		return string(q.Peek(name)), true, true
	}
	b, ok := formParam(a.ctx, name)
	return string(b), true, ok
}

// str returns a string parameter; a JSON value of another type is an error.
func (a tcArgs) str(name string) (string, bool, failure) {
	v, isString, ok := a.raw(name)
	if ok && !isString {
		return "", false, failure{code: tcInvalidParameterValue, msg: fmt.Sprintf("The value of parameter `%s` must be a string.", name)}
	}
	return v, ok, failure{}
}

// int returns an integer parameter, given as a number or its text.
func (a tcArgs) int(name string) (int64, bool, failure) {
	v, _, ok := a.raw(name)
	if !ok {
		return 0, false, failure{}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, failure{code: tcInvalidParameterValue,
			msg: fmt.Sprintf("The value of parameter `%s` %s is not an integer.", name, strconv.Quote(cut(v)))}
	}
	return n, true, failure{}
}

// bool returns a boolean parameter: true, false, or their text (1 and 0 too).
func (a tcArgs) bool(name string) (bool, bool, failure) {
	v, _, ok := a.raw(name)
	if !ok {
		return false, false, failure{}
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, false, failure{code: tcInvalidParameterValue,
			msg: fmt.Sprintf("The value of parameter `%s` %s is not a boolean.", name, strconv.Quote(cut(v)))}
	}
	return b, true, failure{}
}

// required returns a non-empty string parameter or MissingParameter.
func (a tcArgs) required(name string) (string, failure) {
	v, ok, f := a.str(name)
	if f.code != "" {
		return "", f
	}
	if !ok || v == "" {
		return "", failure{code: tcMissingParameter, msg: fmt.Sprintf("The request is missing a required parameter `%s`.", name)}
	}
	return v, failure{}
}
