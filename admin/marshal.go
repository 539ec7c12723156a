package admin

import (
	"encoding/json"
	"encoding/xml"
)

// marshalJSON encodes one of our answer types. The types' tags carry the
// vendors' exact key names; encoding/json cannot fail on them.
func marshalJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("admin: encoding an answer: " + err.Error()) // our own types always encode
	}
	return b
}

// marshalXML encodes an answer as XML, for Alibaba's Format=XML.
func marshalXML(v any) []byte {
	b, err := xml.Marshal(v)
	if err != nil {
		panic("admin: encoding an XML answer: " + err.Error())
	}
	return b
}
