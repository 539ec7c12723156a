package codec

import (
	"fmt"
	"slices"
)

// DecodeV decodes the acknowledgement at the start of b on a connection of
// protocol level level. Below level 5 it is Decode. At level 5 it takes
// PUBACK, PUBREC, PUBREL and PUBCOMP only (UNSUBACK has a payload there:
// Unsuback.DecodeV) and reads the reason code and properties, which may be
// left out: a remaining length of 2 means reason code 0x00 and no
// properties, 3 means no properties [MQTT5-3.4.2.1]. The reason code must be
// one of the packet's [MQTT5-3.4.2-1]. It does not allocate once
// p.Props.User has grown.
func (p *Ack) DecodeV(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 {
		return p.Decode(b)
	}
	n, err := p.decode5(b)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

func (p *Ack) decode5(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	t := PacketType(b)
	if t < TypePuback || t > TypePubcomp {
		if _, err := frame(b, 0, true); err != nil {
			return 0, err
		}
		return 0, malformed(t, "packet type", 0, fmt.Sprintf("%v packet, want PUBACK, PUBREC, PUBREL or PUBCOMP", t), "")
	}
	flags, hdr, n, err := header(b, t)
	if n == 0 {
		return 0, err
	}
	if flags != ackFlags[t] {
		rule := ruleFlags // [MQTT5-2.1.3-1]
		if t == TypePubrel {
			rule = "MQTT-3.6.1-1" // [MQTT5-3.6.1-1]
		}
		return 0, badFlags(t, flags, ackFlags[t], rule)
	}
	if n-hdr < 2 {
		r := reader{b: b[:n], off: hdr, t: t}
		_, err = r.u16("packet identifier")
		return 0, err
	}
	p.Type, p.ReasonCode = t, ReasonSuccess
	p.PacketID = uint16(b[hdr])<<8 | uint16(b[hdr+1])
	if !p.Props.Empty() || p.Props.Raw != nil { // else already clear: most acks have no properties, and clearing writes ~300 bytes
		p.Props.Reset()
	}
	if n-hdr == 2 { // success, no properties [MQTT5-3.4.2.1]
		return n, nil
	}
	r := reader{b: b[:n], off: hdr + 2, t: t}
	if err = p.decodeReason(&r); err != nil {
		return 0, err
	}
	return n, nil
}

// decodeReason reads the optional reason code and properties of an
// acknowledgement after its packet identifier.
func (p *Ack) decodeReason(r *reader) error {
	off := r.off
	c, _ := r.u8("reason code")
	if !ValidReason(r.t, ReasonCode(c)) { // [MQTT5-3.4.2-1] and the like
		return badReason(r.t, off, ReasonCode(c))
	}
	p.ReasonCode = ReasonCode(c)
	if r.left() == 0 {
		return nil
	}
	if err := p.Props.decodeProps(r, propsDecoder{field: "properties", where: 1 << r.t}); err != nil {
		return err
	}
	return r.end("", "")
}

// AppendV5 appends p as an MQTT 5.0 PUBACK, PUBREC, PUBREL or PUBCOMP, with
// p.ReasonCode and p.Props, in the shortest form: remaining length 2 for
// success without properties, 3 for a reason code alone. It does not
// allocate when dst has room.
func (p *Ack) AppendV5(dst []byte) []byte {
	n := p.Props.Size()
	if n == 0 {
		return AppendAckV5(dst, p.Type, p.PacketID, p.ReasonCode, nil)
	}
	rem := 3 + varIntSize(n) + n
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, byte(p.Type)<<4|ackFlags[p.Type&0x0f]&0x0f, rem)
	dst = append(dst, byte(p.PacketID>>8), byte(p.PacketID), byte(p.ReasonCode))
	dst = appendVarInt(dst, n)
	return p.Props.appendRecords(dst)
}

// AppendAckV5 appends an MQTT 5.0 PUBACK, PUBREC, PUBREL or PUBCOMP (t)
// for packet identifier id with reason code code and, when reason is not
// nil, a reason string, in the shortest form [MQTT5-3.4.2.1]. The caller
// leaves the reason string out when the client asked for no problem
// information [MQTT5-3.1.2-29] or the packet would exceed its maximum packet
// size [MQTT5-3.4.2-2]. It does not allocate when dst has room and panics
// on a reason longer than 65535 bytes.
func AppendAckV5(dst []byte, t Type, id uint16, code ReasonCode, reason []byte) []byte {
	first := byte(t)<<4 | ackFlags[t&0x0f]&0x0f
	switch {
	case reason != nil:
		n := 3 + len(reason)
		rem := 3 + varIntSize(n) + n
		dst = slices.Grow(dst, headerSize(rem)+rem)
		dst = appendHeader(dst, first, rem)
		dst = append(dst, byte(id>>8), byte(id), byte(code))
		dst = appendVarInt(dst, n)
		return appendString(append(dst, byte(PropReasonString)), reason)
	case code != ReasonSuccess:
		return append(dst, first, 3, byte(id>>8), byte(id), byte(code))
	}
	return append(dst, first, 2, byte(id>>8), byte(id))
}

// shareName is the prefix of a shared subscription's filter [MQTT5-4.8.2].
const shareName = "$share/"

// DecodeV decodes the SUBSCRIBE packet at the start of b on a connection of
// protocol level level. Below level 5 it is Decode. At level 5 it reads
// p.Props (one subscription identifier at most, user properties) and each
// filter's subscription options: QoS, No Local, Retain As Published and
// Retain Handling. Reserved option bits are malformed [MQTT5-3.8.3-5]; QoS 3
// and Retain Handling 3 are protocol errors [MQTT5-3.8.3.1], and so is No
// Local on a shared subscription [MQTT5-3.8.3-4]. Like Decode it leaves each
// filter's syntax to the broker (SUBACK 0x8F) and reuses p.Filters.
func (p *Subscribe) DecodeV(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 {
		return p.Decode(b)
	}
	n, err := p.decode5(b)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

func (p *Subscribe) decode5(b []byte) (int, error) {
	r, n, err := idAndProps(b, TypeSubscribe, subscribeFlags, "MQTT-3.8.1-1", &p.PacketID, &p.Props)
	if n == 0 {
		return 0, err
	}
	p.Filters = p.Filters[:0]
	if r.left() == 0 { // [MQTT5-3.8.3-2]
		return 0, protocol(TypeSubscribe, "payload", r.off, "no topic filter, want at least one", "MQTT5-3.8.3-2")
	}
	for r.left() > 0 {
		off := r.off
		// [MQTT5-3.8.3-1] UTF-8; [MQTT5-4.7.3-2] no U+0000.
		f, err := r.str("topic filter", "", nulTopic)
		if err != nil {
			return 0, err
		}
		if err = checkTopicFilter(TypeSubscribe, off, f); err != nil {
			return 0, err
		}
		optOff := r.off
		o, err := r.u8("subscription options")
		if err != nil {
			return 0, err
		}
		s := Subscription{TopicFilter: f, QoS: o & 0x03, NoLocal: o&0x04 != 0,
			RetainAsPublished: o&0x08 != 0, RetainHandling: o >> 4 & 0x03}
		switch {
		case o&0xc0 != 0: // [MQTT5-3.8.3-5]
			return 0, malformed(TypeSubscribe, "subscription options", optOff,
				fmt.Sprintf("reserved bits are %02b for %s, want 0", o>>6, quote(f)), "MQTT5-3.8.3-5")
		case s.QoS == 3: // [MQTT5-3.8.3.1]
			return 0, protocol(TypeSubscribe, "subscription options", optOff,
				fmt.Sprintf("QoS 3 for %s, want 0, 1 or 2", quote(f)), "MQTT5-3.8.3.1")
		case s.RetainHandling == 3: // [MQTT5-3.8.3.1]
			return 0, protocol(TypeSubscribe, "subscription options", optOff,
				fmt.Sprintf("retain handling 3 for %s, want 0, 1 or 2", quote(f)), "MQTT5-3.8.3.1")
		case s.NoLocal && len(f) >= len(shareName) && string(f[:len(shareName)]) == shareName: // [MQTT5-3.8.3-4]
			return 0, protocol(TypeSubscribe, "subscription options", optOff,
				fmt.Sprintf("no local on shared subscription %s", quote(f)), "MQTT5-3.8.3-4")
		}
		p.Filters = append(p.Filters, s)
	}
	return n, nil
}

// idAndProps frames the packet at b, of type t with fixed-header flags want
// (flagRule otherwise), and reads its packet identifier, which must not be 0
// for SUBSCRIBE and UNSUBSCRIBE, and its properties. n == 0 with a nil error
// means b does not yet hold the whole packet.
func idAndProps(b []byte, t Type, want byte, flagRule string, id *uint16, props *Properties) (r reader, n int, err error) {
	flags, hdr, n, err := header(b, t)
	if n == 0 {
		return r, 0, err
	}
	if flags != want {
		return r, 0, badFlags(t, flags, want, flagRule)
	}
	r = reader{b: b[:n], off: hdr, t: t}
	if *id, err = r.u16("packet identifier"); err != nil {
		return r, 0, err
	}
	if *id == 0 && (t == TypeSubscribe || t == TypeUnsubscribe) { // [MQTT5-2.2.1-3]
		return r, 0, zeroPacketID(t, hdr)
	}
	if err = props.decodeProps(&r, propsDecoder{field: "properties", where: 1 << t}); err != nil {
		return r, 0, err
	}
	return r, n, nil
}

// AppendSubscribeV5 appends an MQTT 5.0 SUBSCRIBE with packet identifier id,
// the properties of props (nil for none) and filters with their
// subscription options to dst. It does not validate them, and panics as
// AppendSubscribe.
func AppendSubscribeV5(dst []byte, id uint16, props *Properties, filters []Subscription) []byte {
	n := props.Size()
	rem := 2 + varIntSize(n) + n
	for _, s := range filters {
		rem += 2 + len(s.TopicFilter) + 1
	}
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, byte(TypeSubscribe)<<4|subscribeFlags, rem)
	dst = appendUint16(dst, id)
	dst = appendVarInt(dst, n)
	if n > 0 {
		dst = props.appendRecords(dst)
	}
	for _, s := range filters {
		dst = appendString(dst, s.TopicFilter)
		dst = append(dst, s.Options())
	}
	return dst
}

// Options returns the subscription options byte of s [MQTT5-3.8.3.1].
func (s *Subscription) Options() byte {
	o := s.QoS&0x03 | (s.RetainHandling&0x03)<<4
	if s.NoLocal {
		o |= 0x04
	}
	if s.RetainAsPublished {
		o |= 0x08
	}
	return o
}

// DecodeV decodes the SUBACK packet at the start of b on a connection of
// protocol level level. Below level 5 it is Decode. At level 5 it reads
// p.Props, then one reason code per filter into p.ReturnCodes, each one of
// SUBACK's [MQTT5-3.9.3-2]. It does not allocate once p.Props.User has
// grown.
func (p *Suback) DecodeV(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 {
		return p.Decode(b)
	}
	r, n, err := idAndProps(b, TypeSuback, 0, ruleFlags, &p.PacketID, &p.Props)
	if n == 0 {
		return 0, v5Error(err)
	}
	if p.ReturnCodes, err = reasonCodes(&r); err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

// reasonCodes reads the payload of SUBACK or UNSUBACK: at least one reason
// code, each valid for the packet.
func reasonCodes(r *reader) ([]byte, error) {
	if r.left() == 0 { // one code per filter, and there is at least one filter
		return nil, protocol(r.t, "payload", r.off, "no reason code, want at least one", reasonRules[r.t])
	}
	codes := r.b[r.off:len(r.b):len(r.b)]
	for i, c := range codes {
		if !ValidReason(r.t, ReasonCode(c)) {
			return nil, badReason(r.t, r.off+i, ReasonCode(c))
		}
	}
	return codes, nil
}

// AppendSubackV5 appends an MQTT 5.0 SUBACK with packet identifier id, the
// properties of props (nil for none) and one reason code per filter to dst.
// It does not allocate when dst has room.
func AppendSubackV5(dst []byte, id uint16, codes []byte, props *Properties) []byte {
	return appendIDPropsCodes(dst, byte(TypeSuback)<<4, id, props, codes)
}

// AppendUnsubackV5 appends an MQTT 5.0 UNSUBACK with packet identifier id,
// the properties of props (nil for none) and one reason code per filter
// (0x00 Success, 0x11 No subscription existed, ...) to dst. It does not
// allocate when dst has room.
func AppendUnsubackV5(dst []byte, id uint16, codes []byte, props *Properties) []byte {
	return appendIDPropsCodes(dst, byte(TypeUnsuback)<<4, id, props, codes)
}

func appendIDPropsCodes(dst []byte, first byte, id uint16, props *Properties, codes []byte) []byte {
	n := props.Size()
	rem := 2 + varIntSize(n) + n + len(codes)
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, first, rem)
	dst = appendUint16(dst, id)
	dst = appendVarInt(dst, n)
	if n > 0 {
		dst = props.appendRecords(dst)
	}
	return append(dst, codes...)
}

// DecodeV decodes the UNSUBSCRIBE packet at the start of b on a connection
// of protocol level level. Below level 5 it is Decode. At level 5 it reads
// p.Props (user properties only) before the filters.
func (p *Unsubscribe) DecodeV(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 {
		return p.Decode(b)
	}
	r, n, err := idAndProps(b, TypeUnsubscribe, subscribeFlags, "MQTT-3.10.1-1", &p.PacketID, &p.Props)
	if n == 0 {
		return 0, v5Error(err)
	}
	p.TopicFilters = p.TopicFilters[:0]
	if r.left() == 0 { // [MQTT5-3.10.3-2]
		return 0, v5Error(protocol(TypeUnsubscribe, "payload", r.off, "no topic filter, want at least one", "MQTT5-3.10.3-2"))
	}
	for r.left() > 0 {
		off := r.off
		// [MQTT5-3.10.3-1] UTF-8; [MQTT5-4.7.3-2] no U+0000.
		f, err := r.str("topic filter", "", nulTopic)
		if err == nil {
			err = checkTopicFilter(TypeUnsubscribe, off, f)
		}
		if err != nil {
			return 0, v5Error(err)
		}
		p.TopicFilters = append(p.TopicFilters, f)
	}
	return n, nil
}

// AppendUnsubscribeV5 appends an MQTT 5.0 UNSUBSCRIBE with packet identifier
// id, the properties of props (nil for none) and filters to dst. It does not
// validate them, and panics as AppendUnsubscribe.
func AppendUnsubscribeV5(dst []byte, id uint16, props *Properties, filters [][]byte) []byte {
	n := props.Size()
	rem := 2 + varIntSize(n) + n
	for _, f := range filters {
		rem += 2 + len(f)
	}
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, byte(TypeUnsubscribe)<<4|subscribeFlags, rem)
	dst = appendUint16(dst, id)
	dst = appendVarInt(dst, n)
	if n > 0 {
		dst = props.appendRecords(dst)
	}
	for _, f := range filters {
		dst = appendString(dst, f)
	}
	return dst
}

// Unsuback is an UNSUBACK packet [MQTT5-3.11]. In MQTT 3.1.1 it is a packet
// identifier alone (Ack decodes it too); in MQTT 5.0 it has properties and
// one reason code per filter of the UNSUBSCRIBE.
type Unsuback struct {
	PacketID uint16
	// ReasonCodes has one ReasonCode per filter, in order; nil at level 4.
	// After DecodeV it is a view into the decoded buffer.
	ReasonCodes []byte
	Props       Properties // MQTT 5.0 only
}

// DecodeV decodes the UNSUBACK packet at the start of b on a connection of
// protocol level level: below 5 a packet identifier alone, at 5 also
// properties and at least one reason code, each one of UNSUBACK's
// [MQTT5-3.11.3-2]. It does not allocate once p.Props.User has grown.
func (p *Unsuback) DecodeV(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 {
		var a Ack
		n, err := a.Decode(b)
		if n > 0 && a.Type != TypeUnsuback {
			return 0, wrongType(a.Type, TypeUnsuback)
		}
		p.PacketID, p.ReasonCodes = a.PacketID, nil
		p.Props.Reset()
		return n, err
	}
	r, n, err := idAndProps(b, TypeUnsuback, 0, ruleFlags, &p.PacketID, &p.Props)
	if n == 0 {
		return 0, v5Error(err)
	}
	if p.ReasonCodes, err = reasonCodes(&r); err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}
