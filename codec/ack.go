package codec

import "fmt"

// Ack is a packet of a fixed header and a packet identifier only: PUBACK,
// PUBREC, PUBREL, PUBCOMP or UNSUBACK [MQTT-3.4] to [MQTT-3.7], [MQTT-3.11].
type Ack struct {
	Type     Type   // TypePuback, TypePubrec, TypePubrel, TypePubcomp or TypeUnsuback
	PacketID uint16 // as sent; 0 is not rejected, it matches nothing in flight
	// ReasonCode and Props are MQTT 5.0 only: DecodeV fills them at level 5
	// (0x00 and empty when the packet leaves them out); Decode and Append
	// ignore them.
	ReasonCode ReasonCode
	Props      Properties
}

// ackFlags gives the fixed-header flags of each acknowledgement type; 0xff
// marks the types that are not one.
var ackFlags = [16]byte{0xff, 0xff, 0xff, 0xff,
	TypePuback: 0x00, TypePubrec: 0x00, TypePubrel: 0x02, TypePubcomp: 0x00,
	0xff, 0xff, 0xff, TypeUnsuback: 0x00, 0xff, 0xff, 0xff, 0xff}

// Decode decodes the acknowledgement at the start of b and sets p.Type from
// its fixed header. It returns the size of the packet (4), 0 and a nil error
// if b does not yet hold all of it, or an *Error wrapping ErrMalformed for
// another packet type, wrong flags (PUBREL's must be 0010 [MQTT-3.6.1-1]) or a
// remaining length other than 2. It does not allocate.
func (p *Ack) Decode(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	t := PacketType(b)
	if ackFlags[t] == 0xff {
		if _, err := Frame(b, 0); err != nil {
			return 0, err
		}
		return 0, malformed(t, "packet type", 0,
			fmt.Sprintf("%v packet, want PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK", t), "")
	}
	flags, hdr, n, err := header(b, t)
	if n == 0 {
		return 0, err
	}
	if flags != ackFlags[t] {
		rule := ruleFlags // [MQTT-2.2.2-2]
		if t == TypePubrel {
			rule = "MQTT-3.6.1-1" // [MQTT-3.6.1-1]
		}
		return 0, badFlags(t, flags, ackFlags[t], rule)
	}
	if n-hdr != 2 { // [MQTT-2.2.3]
		return 0, remainingWant(t, n-hdr, 2)
	}
	p.Type = t
	p.PacketID = uint16(b[hdr])<<8 | uint16(b[hdr+1])
	return n, nil
}

// Append appends p encoded to dst. It does not allocate when dst has room for
// 4 bytes.
func (p *Ack) Append(dst []byte) []byte {
	return appendAck(dst, p.Type, p.PacketID)
}

// AppendPuback appends a PUBACK for packet identifier id to dst. It does not
// allocate when dst has room for 4 bytes.
func AppendPuback(dst []byte, id uint16) []byte { return appendAck(dst, TypePuback, id) }

// AppendPubrec appends a PUBREC for packet identifier id to dst. It does not
// allocate when dst has room for 4 bytes.
func AppendPubrec(dst []byte, id uint16) []byte { return appendAck(dst, TypePubrec, id) }

// AppendPubrel appends a PUBREL, flags 0010 [MQTT-3.6.1-1], for packet
// identifier id to dst. It does not allocate when dst has room for 4 bytes.
func AppendPubrel(dst []byte, id uint16) []byte { return appendAck(dst, TypePubrel, id) }

// AppendPubcomp appends a PUBCOMP for packet identifier id to dst. It does not
// allocate when dst has room for 4 bytes.
func AppendPubcomp(dst []byte, id uint16) []byte { return appendAck(dst, TypePubcomp, id) }

// AppendUnsuback appends an UNSUBACK for packet identifier id to dst. It does
// not allocate when dst has room for 4 bytes.
func AppendUnsuback(dst []byte, id uint16) []byte { return appendAck(dst, TypeUnsuback, id) }

func appendAck(dst []byte, t Type, id uint16) []byte {
	return append(dst, byte(t)<<4|ackFlags[t&0x0f]&0x0f, 2, byte(id>>8), byte(id))
}

// remainingWant reports a remaining length other than the one a packet type
// always has.
func remainingWant(t Type, got, want int) error {
	return malformed(t, "remaining length", 1, fmt.Sprintf("%d, want %d", got, want), ruleRemaining)
}
