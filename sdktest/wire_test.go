package sdktest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// keyProblems compares a JSON document with the SDK type it decodes into,
// key by key and case-sensitively: every key must be a json tag of typ and
// every tag must be present. The Tencent Go SDK matches keys without regard
// to case, so a mis-cased "Outbound" would pass through it unnoticed, yet
// SDKs in other languages would drop it.
func keyProblems(path string, raw json.RawMessage, typ reflect.Type) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return []string{fmt.Sprintf("%s: %s is not an object", path, raw)}
		}
		fields := make(map[string]reflect.Type)
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.IsExported() && !f.Anonymous && name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		var ps []string
		for k, v := range obj {
			ft, ok := fields[k]
			if !ok {
				ps = append(ps, fmt.Sprintf("%s: unexpected key %q", path, k))
				continue
			}
			ps = append(ps, keyProblems(path+"."+k, v, ft)...)
		}
		for name := range fields {
			if _, ok := obj[name]; !ok {
				ps = append(ps, fmt.Sprintf("%s: missing key %q", path, name))
			}
		}
		sort.Strings(ps)
		return ps
	case reflect.Slice:
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil {
			return []string{fmt.Sprintf("%s: %s is not an array", path, raw)}
		}
		var ps []string
		for i, v := range arr {
			ps = append(ps, keyProblems(fmt.Sprintf("%s[%d]", path, i), v, typ.Elem())...)
		}
		return ps
	}
	return nil
}

// tencentEnvelope is the outer object of every Tencent answer.
type tencentEnvelope[T any] struct {
	Response T `json:"Response"`
}

// tencentError is the Response of a Tencent error.
type tencentError struct {
	Error struct {
		Code    string `json:"Code"`
		Message string `json:"Message"`
	} `json:"Error"`
	RequestID string `json:"RequestId"`
}
