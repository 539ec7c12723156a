package codec

import "fmt"

// DecodeEmpty decodes a packet that is a fixed header only, of type t:
// PINGREQ, PINGRESP or DISCONNECT [MQTT-3.12], [MQTT-3.13], [MQTT-3.14]. It
// returns the size of the packet (2), 0 and a nil error if b does not yet hold
// all of it, or an *Error wrapping ErrMalformed when the packet is not of type
// t, its flags are not 0000 or its remaining length is not 0 (and when t
// itself is not one of the three). It does not
// allocate.
func DecodeEmpty(b []byte, t Type) (n int, err error) {
	switch t {
	case TypePingreq, TypePingresp, TypeDisconnect:
	default:
		return 0, malformed(t, "packet type", 0,
			fmt.Sprintf("DecodeEmpty called for %v, want PINGREQ, PINGRESP or DISCONNECT", t), "")
	}
	flags, hdr, n, err := header(b, t)
	if n == 0 {
		return 0, err
	}
	if flags != 0 { // [MQTT-2.2.2-2]
		return 0, badFlags(t, flags, 0, ruleFlags)
	}
	if n != hdr { // [MQTT-2.2.3]
		return 0, remainingWant(t, n-hdr, 0)
	}
	return n, nil
}

// AppendPingreq appends a PINGREQ to dst. It does not allocate when dst has
// room for 2 bytes.
func AppendPingreq(dst []byte) []byte { return append(dst, byte(TypePingreq)<<4, 0) }

// AppendPingresp appends a PINGRESP to dst. It does not allocate when dst has
// room for 2 bytes.
func AppendPingresp(dst []byte) []byte { return append(dst, byte(TypePingresp)<<4, 0) }

// AppendDisconnect appends a DISCONNECT to dst. It does not allocate when dst
// has room for 2 bytes.
func AppendDisconnect(dst []byte) []byte { return append(dst, byte(TypeDisconnect)<<4, 0) }
