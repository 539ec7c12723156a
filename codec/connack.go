package codec

import "fmt"

// CONNACK return codes [MQTT-3.2.2.3].
const (
	Accepted                   byte = 0x00
	RefusedProtocolVersion     byte = 0x01 // answer to [MQTT-3.1.2-2]
	RefusedIdentifierRejected  byte = 0x02
	RefusedServerUnavailable   byte = 0x03
	RefusedBadUsernamePassword byte = 0x04
	RefusedNotAuthorized       byte = 0x05
)

// Connack is a CONNACK packet [MQTT-3.2].
type Connack struct {
	SessionPresent bool       // only with ReturnCode Accepted [MQTT-3.2.2-4]
	ReturnCode     byte       // Accepted or one of the Refused codes; in MQTT 5.0 a ReasonCode
	Props          Properties // MQTT 5.0 only: DecodeV fills it at level 5
}

// Decode decodes the CONNACK packet at the start of b. It returns the size of
// the packet (4), 0 and a nil error if b does not yet hold all of it, or an
// *Error wrapping ErrMalformed (flags, length, reserved bits) or ErrProtocol
// (a reserved return code, session present with a refusal). It does not
// allocate.
func (p *Connack) Decode(b []byte) (int, error) {
	flags, hdr, n, err := header(b, TypeConnack)
	if n == 0 {
		return 0, err
	}
	if flags != 0 { // [MQTT-2.2.2-2]
		return 0, badFlags(TypeConnack, flags, 0, ruleFlags)
	}
	if n-hdr != 2 { // [MQTT-2.2.3]
		return 0, remainingWant(TypeConnack, n-hdr, 2)
	}
	ack, code := b[hdr], b[hdr+1]
	if ack&0xfe != 0 { // [MQTT-3.2.2.1] bits 7-1 reserved
		return 0, malformed(TypeConnack, "connect acknowledge flags", hdr,
			fmt.Sprintf("reserved bits are %07b, want 0", ack>>1), "MQTT-3.2.2.1")
	}
	if code > RefusedNotAuthorized { // [MQTT-3.2.2.3] 6-255 reserved
		return 0, protocol(TypeConnack, "return code", hdr+1,
			fmt.Sprintf("reserved code %d, want 0 to 5", code), "MQTT-3.2.2.3")
	}
	if ack != 0 && code != Accepted { // [MQTT-3.2.2-4]
		return 0, protocol(TypeConnack, "connect acknowledge flags", hdr,
			fmt.Sprintf("session present 1 with return code %d, want 0", code), "MQTT-3.2.2-4")
	}
	p.SessionPresent = ack != 0
	p.ReturnCode = code
	return n, nil
}

// AppendConnack appends a CONNACK to dst. sessionPresent must be false with a
// refusal [MQTT-3.2.2-4]; AppendConnack clears it then. It does not allocate
// when dst has room for 4 bytes.
func AppendConnack(dst []byte, sessionPresent bool, code byte) []byte {
	var ack byte
	if sessionPresent && code == Accepted { // [MQTT-3.2.2-4]
		ack = 1
	}
	return append(dst, byte(TypeConnack)<<4, 2, ack, code)
}
