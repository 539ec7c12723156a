package codec

import (
	"fmt"
	"slices"
)

// SubackFailure is the SUBACK return code refusing one subscription, as for a
// filter that is not valid [MQTT-3.9.3].
const SubackFailure byte = 0x80

// Suback is a SUBACK packet [MQTT-3.9].
type Suback struct {
	PacketID uint16
	// ReturnCodes has one code per filter of the SUBSCRIBE, in order: the
	// granted QoS or SubackFailure (in MQTT 5.0 a ReasonCode). After Decode
	// it is a view into the
	// decoded buffer.
	ReturnCodes []byte
	Props       Properties // MQTT 5.0 only: DecodeV fills it at level 5
}

// Decode decodes the SUBACK packet at the start of b. It returns the size of
// the packet, 0 and a nil error if b does not yet hold all of it, or an *Error
// wrapping ErrMalformed (flags, lengths) or ErrProtocol (no return code, a
// reserved one). It does not allocate.
func (p *Suback) Decode(b []byte) (int, error) {
	flags, hdr, n, err := header(b, TypeSuback)
	if n == 0 {
		return 0, err
	}
	if flags != 0 { // [MQTT-2.2.2-2]
		return 0, badFlags(TypeSuback, flags, 0, ruleFlags)
	}
	r := reader{b: b[:n], off: hdr, t: TypeSuback}
	if p.PacketID, err = r.u16("packet identifier"); err != nil {
		return 0, err
	}
	if r.left() == 0 { // [MQTT-3.9.3] one code per filter, and a SUBSCRIBE has at least one
		return 0, protocol(TypeSuback, "payload", r.off, "no return code, want at least one", "MQTT-3.9.3")
	}
	p.ReturnCodes = r.b[r.off:n:n]
	for i, c := range p.ReturnCodes {
		if c > 2 && c != SubackFailure { // [MQTT-3.9.3-2]
			return 0, protocol(TypeSuback, "return code", r.off+i,
				fmt.Sprintf("reserved code %#02x, want 0x00, 0x01, 0x02 or 0x80", c), "MQTT-3.9.3-2")
		}
	}
	return n, nil
}

// AppendSuback appends a SUBACK with packet identifier id and return codes
// codes to dst. It does not validate the codes, does not allocate when dst has
// room for the packet, and panics if the packet is larger than MaxPacketSize.
func AppendSuback(dst []byte, id uint16, codes []byte) []byte {
	rem := 2 + len(codes)
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, byte(TypeSuback)<<4, rem)
	dst = appendUint16(dst, id)
	return append(dst, codes...)
}
