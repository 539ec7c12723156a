package codec

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrMalformed is wrapped by every *Error for bytes that do not form a valid
// packet: wrong fixed-header flags, a remaining length that disagrees with the
// content, ill-formed UTF-8, reserved bits set, a QoS of 3.
var ErrMalformed = errors.New("malformed packet")

// ErrProtocol is wrapped by every *Error for a well-formed packet that breaks
// a rule of the standard: an unknown protocol name or level, an empty
// SUBSCRIBE, an empty topic, a wildcard in a topic name, a packet identifier
// of 0.
var ErrProtocol = errors.New("protocol violation")

// ErrTooLarge is wrapped by the *Error that Frame returns for a packet larger
// than its maxSize. It wraps ErrProtocol, so errors.Is(err, ErrProtocol) also
// holds.
var ErrTooLarge = fmt.Errorf("%w: packet too large", ErrProtocol)

// Error says why a packet was rejected. It unwraps to ErrMalformed or
// ErrProtocol (through ErrTooLarge for oversized packets). Its text quotes
// client strings cut to 64 bytes and never contains a password or a payload.
type Error struct {
	Type   Type   // packet being decoded
	Field  string // "connect flags", "topic name", ...
	Offset int    // byte offset of the field from the start of the packet
	Detail string // what was found and what was wanted: "reserved bit is 1, want 0"
	// Rule is the normative statement broken, such as "MQTT-3.1.2-3"; where the
	// standard states the requirement without a number it names the section
	// ("MQTT-2.2.3" for the remaining length); empty for limits the standard
	// does not set (Frame's maxSize) and for calling a decoder on another type.
	Rule string
	Err  error // ErrMalformed, ErrProtocol or ErrTooLarge
	// Reason is the MQTT 5.0 reason code to send for this error when a
	// decoder knows a more specific one than ReasonFor derives from Err
	// (0x90 Topic Name invalid, 0x94 Topic Alias invalid, ...); 0 otherwise.
	Reason ReasonCode
}

// Error renders e as
// "codec: CONNECT connect flags at byte 9: reserved bit is 1, want 0 [MQTT-3.1.2-3]".
func (e *Error) Error() string {
	s := "codec: " + e.Type.String() + " " + e.Field + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Detail
	if e.Rule != "" {
		s += " [" + e.Rule + "]"
	}
	return s
}

// Unwrap returns ErrMalformed, ErrProtocol or ErrTooLarge.
func (e *Error) Unwrap() error { return e.Err }

// Rules without a number in the standard, named by their section.
const (
	ruleType      = "MQTT-2.2.1" // packet types 0 and 15 are forbidden
	ruleRemaining = "MQTT-2.2.3" // remaining length: at most 4 bytes, counts exactly the rest of the packet
	ruleFlags     = "MQTT-2.2.2-2"
)

// malformed and protocol build the *Error values of the decoders. They sit
// apart from the hot paths so that only a rejected packet pays for them.
func malformed(t Type, field string, off int, detail, rule string) error {
	return &Error{Type: t, Field: field, Offset: off, Detail: detail, Rule: rule, Err: ErrMalformed}
}

func protocol(t Type, field string, off int, detail, rule string) error {
	return &Error{Type: t, Field: field, Offset: off, Detail: detail, Rule: rule, Err: ErrProtocol}
}

// quote renders client text with %q, cut to 64 bytes. Never call it on a
// password or a payload.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
