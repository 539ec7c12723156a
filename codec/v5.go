package codec

import "errors"

// ProtocolLevel5 is the protocol level of MQTT 5.0 in CONNECT, with the
// protocol name "MQTT" [MQTT5-3.1.2.2].
const ProtocolLevel5 = 5

// FrameV is Frame for a connection at protocol level level: at level 5 the
// packet type 15 is AUTH, not reserved, and errors cite MQTT 5.0 rules and
// carry their reason code (ReasonFor: 0x95 for a packet over maxSize, 0x81
// for a bad frame). Below level 5 it is Frame. It reads at most the first 5
// bytes of buf and does not allocate.
func FrameV(buf []byte, maxSize int, level byte) (n int, err error) {
	if level < ProtocolLevel5 {
		return Frame(buf, maxSize)
	}
	n, err = frame(buf, maxSize, true)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

// v5Rules maps the 3.1.1 rules that the shared helpers cite to the MQTT 5.0
// statement or section saying the same.
var v5Rules = map[string]string{
	ruleType:        "MQTT5-2.1.2",
	ruleRemaining:   "MQTT5-2.1.4",
	ruleFlags:       "MQTT5-2.1.3-1",
	"MQTT-1.5.3-1":  "MQTT5-1.5.4-1",
	"MQTT-1.5.3-2":  "MQTT5-1.5.4-2",
	"MQTT-4.7.3-1":  "MQTT5-4.7.3-1",
	"MQTT-4.7.3-2":  "MQTT5-4.7.3-2",
	"MQTT-4.7.1-1":  "MQTT5-4.7.0-1",
	"MQTT-2.3.1-1":  "MQTT5-2.2.1-3",
	"MQTT-3.3.1-2":  "MQTT5-3.3.1-2",
	"MQTT-3.3.1-4":  "MQTT5-3.3.1-4",
	"MQTT-3.3.2-1":  "MQTT5-3.3.2-1",
	"MQTT-3.3.2-2":  "MQTT5-3.3.2-2",
	"MQTT-3.6.1-1":  "MQTT5-3.6.1-1",
	"MQTT-3.8.1-1":  "MQTT5-3.8.1-1",
	"MQTT-3.8.3-3":  "MQTT5-3.8.3-2",
	"MQTT-3.10.1-1": "MQTT5-3.10.1-1",
	"MQTT-3.10.3-2": "MQTT5-3.10.3-2",
}

// v5Reasons gives the reason code of the rules that have a more specific one
// than Malformed Packet or Protocol Error.
var v5Reasons = map[string]ReasonCode{
	"MQTT5-3.3.2-2": ReasonTopicNameInvalid, // wildcard in a PUBLISH topic name
	"MQTT5-3.3.2-8": ReasonTopicAliasInvalid,
}

// v5Error turns an error of the shared helpers into an MQTT 5.0 one: its
// rule becomes the 5.0 rule and its Reason is set. Only rejected packets pay
// for it.
func v5Error(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	if r, ok := v5Rules[e.Rule]; ok {
		e.Rule = r
	}
	if e.Reason == 0 {
		e.Reason = v5Reasons[e.Rule]
	}
	if e.Reason == 0 {
		e.Reason = ReasonFor(e.Err)
	}
	return e
}

// header5 is header for MQTT 5.0 packets, AUTH included.
func header5(b []byte, t Type) (flags byte, hdr, n int, err error) {
	n, err = frame(b, 0, true)
	if n == 0 {
		return 0, 0, 0, err
	}
	if got := PacketType(b); got != t {
		return 0, 0, 0, wrongType(got, t)
	}
	_, hdr, _ = remainingLength(b)
	return b[0] & 0x0f, hdr, n, nil
}

// badReason reports a reason code that packet type t may not carry.
func badReason(t Type, off int, c ReasonCode) error {
	return protocol(t, "reason code", off, "code "+hexByte(byte(c))+" is not one of "+t.String()+"'s", reasonRules[t])
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return "0x" + string([]byte{digits[c>>4], digits[c&0x0f]})
}
