package codec

import (
	"errors"
	"fmt"
	"slices"
)

// DecodeV decodes the CONNECT packet at the start of b for a server that
// accepts protocol levels up to level. Below level 5 it is Decode. At level
// 5 a CONNECT with protocol name "MQTT" and level 5 is decoded with the MQTT
// 5.0 rules: properties into p.Props and, with a will, will properties into
// p.WillProps; CleanSession is then the Clean Start flag and a password may
// come without a user name. Levels 3 and 4 are decoded by Decode. Another
// level is the *Error of Decode (Rule "MQTT-3.1.2-2", so the broker can
// still answer CONNACK 0x01 in 3.1.1 form) with Reason 0x84 Unsupported
// Protocol Version. Errors of a level 5 CONNECT cite MQTT 5.0 rules; the
// broker sends CONNACK with ReasonFor(err) and closes [MQTT5-3.1.4-2]. A
// reused p does not allocate once its user property slices have grown.
func (p *Connect) DecodeV(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 || !isConnect5(b) {
		n, err := p.Decode(b)
		var e *Error
		if level >= ProtocolLevel5 && errors.As(err, &e) && e.Rule == "MQTT-3.1.2-2" {
			e.Reason = ReasonUnsupportedProtocolVersion
		}
		return n, err
	}
	n, err := p.decode5(b)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

// isConnect5 reports whether b starts a whole CONNECT naming "MQTT" level 5.
func isConnect5(b []byte) bool {
	n, err := Frame(b, 0)
	if n == 0 || err != nil || PacketType(b) != TypeConnect {
		return false
	}
	_, hdr, _ := remainingLength(b)
	v := b[hdr:n]
	return len(v) >= 7 && string(v[:6]) == "\x00\x04MQTT" && v[6] == ProtocolLevel5
}

func (p *Connect) decode5(b []byte) (int, error) {
	flags, hdr, n, err := header(b, TypeConnect)
	if n == 0 {
		return 0, err
	}
	if flags != connectFixedFlags { // [MQTT5-2.1.3-1]
		return 0, badFlags(TypeConnect, flags, connectFixedFlags, ruleFlags)
	}
	props, will := p.Props, p.WillProps
	*p = Connect{Props: props, WillProps: will}
	r := reader{b: b[:n], off: hdr + 7, t: TypeConnect}
	p.ProtocolName, p.ProtocolLevel = b[hdr+2:hdr+6:hdr+6], ProtocolLevel5
	off := r.off
	f, err := r.u8("connect flags")
	if err != nil {
		return 0, err
	}
	p.CleanSession = f&0x02 != 0
	p.WillFlag = f&0x04 != 0
	p.WillQoS = f >> 3 & 0x03
	p.WillRetain = f&0x20 != 0
	p.PasswordFlag = f&0x40 != 0
	p.UsernameFlag = f&0x80 != 0
	const field = "connect flags"
	switch {
	case f&0x01 != 0: // [MQTT5-3.1.2-3]
		return 0, malformed(TypeConnect, field, off, "reserved bit is 1, want 0", "MQTT5-3.1.2-3")
	case !p.WillFlag && p.WillQoS != 0: // [MQTT5-3.1.2-11]
		return 0, malformed(TypeConnect, field, off, fmt.Sprintf("will QoS %d with will flag 0, want 0", p.WillQoS), "MQTT5-3.1.2-11")
	case p.WillQoS == 3: // [MQTT5-3.1.2-12]
		return 0, malformed(TypeConnect, field, off, "will QoS 3, want 0, 1 or 2", "MQTT5-3.1.2-12")
	case !p.WillFlag && p.WillRetain: // [MQTT5-3.1.2-13]
		return 0, malformed(TypeConnect, field, off, "will retain 1 with will flag 0, want 0", "MQTT5-3.1.2-13")
	}
	if p.KeepAlive, err = r.u16("keep alive"); err != nil {
		return 0, err
	}
	propsOff := r.off
	if err = p.Props.decodeProps(&r, propsDecoder{field: "properties", where: 1 << TypeConnect}); err != nil {
		return 0, err
	}
	if p.Props.Has(PropAuthData) && !p.Props.Has(PropAuthMethod) { // [MQTT5-3.1.2.11.10]
		return 0, protocol(TypeConnect, "properties", propsOff,
			"authentication data without authentication method", "MQTT5-3.1.2.11.10")
	}
	if err = p.decodePayload5(&r); err != nil {
		return 0, err
	}
	return n, nil
}

// decodePayload5 reads the payload fields the flags announce, in the order
// of [MQTT5-3.1.3-1], and nothing after them.
func (p *Connect) decodePayload5(r *reader) (err error) {
	// [MQTT5-3.1.3-3] present and first; [MQTT5-3.1.3-4] UTF-8.
	if p.ClientID, err = r.str("client identifier", "MQTT5-3.1.3-3", nulString); err != nil {
		return err
	}
	if p.WillFlag {
		if r.left() == 0 { // [MQTT5-3.1.2-9]
			return malformed(TypeConnect, "will properties", r.off, "missing, want it present", "MQTT5-3.1.2-9")
		}
		if err = p.WillProps.decodeProps(r, propsDecoder{field: "will properties", where: inWill}); err != nil {
			return err
		}
		off := r.off
		// [MQTT5-3.1.2-9] present; [MQTT5-3.1.3-11] UTF-8.
		if p.WillTopic, err = r.str("will topic", "MQTT5-3.1.2-9", nulTopic); err != nil {
			return err
		}
		if err = checkTopicName(TypeConnect, "will topic", off, p.WillTopic, "MQTT-4.7.1-1"); err != nil {
			return err
		}
		if p.WillMessage, err = r.binary("will payload", "MQTT5-3.1.2-9"); err != nil { // [MQTT5-3.1.2-9]
			return err
		}
	}
	if p.UsernameFlag { // [MQTT5-3.1.2-17] present; [MQTT5-3.1.3-12] UTF-8
		if p.Username, err = r.str("user name", "MQTT5-3.1.2-17", nulString); err != nil {
			return err
		}
	}
	if p.PasswordFlag { // [MQTT5-3.1.2-19]
		if p.Password, err = r.binary("password", "MQTT5-3.1.2-19"); err != nil {
			return err
		}
	}
	switch {
	case !p.UsernameFlag && !p.PasswordFlag:
		return r.end("user name", "MQTT5-3.1.2-16") // [MQTT5-3.1.2-16]
	case !p.PasswordFlag:
		return r.end("password", "MQTT5-3.1.2-18") // [MQTT5-3.1.2-18]
	}
	return r.end("password", "")
}

// appendConnect5 is AppendConnect for protocol level 5.
func appendConnect5(dst []byte, p *Connect) []byte {
	var f byte
	props, will := p.Props.Size(), p.WillProps.Size()
	rem := 6 + 1 + 1 + 2 + varIntSize(props) + props + 2 + len(p.ClientID)
	if p.CleanSession {
		f |= 0x02
	}
	if p.WillFlag {
		f |= 0x04 | (p.WillQoS&0x03)<<3
		if p.WillRetain {
			f |= 0x20
		}
		rem += varIntSize(will) + will + 4 + len(p.WillTopic) + len(p.WillMessage)
	}
	if p.UsernameFlag {
		f |= 0x80
		rem += 2 + len(p.Username)
	}
	if p.PasswordFlag {
		f |= 0x40
		rem += 2 + len(p.Password)
	}
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, byte(TypeConnect)<<4, rem)
	dst = append(dst, 0, 4, 'M', 'Q', 'T', 'T', ProtocolLevel5, f)
	dst = appendUint16(dst, p.KeepAlive)
	dst = AppendProperties(dst, &p.Props)
	dst = appendString(dst, p.ClientID)
	if p.WillFlag {
		dst = AppendProperties(dst, &p.WillProps)
		dst = appendString(dst, p.WillTopic)
		dst = appendString(dst, p.WillMessage)
	}
	if p.UsernameFlag {
		dst = appendString(dst, p.Username)
	}
	if p.PasswordFlag {
		dst = appendString(dst, p.Password)
	}
	return dst
}

// DecodeV decodes the CONNACK packet at the start of b on a connection of
// protocol level level. Below level 5 it is Decode. At level 5 ReturnCode
// holds the reason code, which must be one of CONNACK's [MQTT5-3.2.2-8], and
// p.Props the properties. It does not allocate once p.Props.User has grown.
func (p *Connack) DecodeV(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 {
		return p.Decode(b)
	}
	n, err := p.decode5(b)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

func (p *Connack) decode5(b []byte) (int, error) {
	flags, hdr, n, err := header(b, TypeConnack)
	if n == 0 {
		return 0, err
	}
	if flags != 0 { // [MQTT5-2.1.3-1]
		return 0, badFlags(TypeConnack, flags, 0, ruleFlags)
	}
	r := reader{b: b[:n], off: hdr, t: TypeConnack}
	ack, err := r.u8("connect acknowledge flags")
	if err != nil {
		return 0, err
	}
	code, err := r.u8("reason code")
	if err != nil {
		return 0, err
	}
	if ack&0xfe != 0 { // [MQTT5-3.2.2-1]
		return 0, malformed(TypeConnack, "connect acknowledge flags", hdr,
			fmt.Sprintf("reserved bits are %07b, want 0", ack>>1), "MQTT5-3.2.2-1")
	}
	if !ValidReason(TypeConnack, ReasonCode(code)) { // [MQTT5-3.2.2-8]
		return 0, badReason(TypeConnack, hdr+1, ReasonCode(code))
	}
	if ack != 0 && code != 0 { // [MQTT5-3.2.2-6]
		return 0, protocol(TypeConnack, "connect acknowledge flags", hdr,
			fmt.Sprintf("session present 1 with reason code %#02x, want 0", code), "MQTT5-3.2.2-6")
	}
	if err = p.Props.decodeProps(&r, propsDecoder{field: "properties", where: 1 << TypeConnack}); err != nil {
		return 0, err
	}
	if err = r.end("", ""); err != nil {
		return 0, err
	}
	p.SessionPresent = ack != 0
	p.ReturnCode = code
	return n, nil
}

// AppendConnackV5 appends an MQTT 5.0 CONNACK with reason code code and the
// properties of props (nil for none) to dst. sessionPresent is cleared with a
// reason code other than 0 [MQTT5-3.2.2-6]. It does not allocate when dst
// has room.
func AppendConnackV5(dst []byte, sessionPresent bool, code ReasonCode, props *Properties) []byte {
	var ack byte
	if sessionPresent && code == ReasonSuccess { // [MQTT5-3.2.2-6]
		ack = 1
	}
	n := props.Size()
	rem := 2 + varIntSize(n) + n
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, byte(TypeConnack)<<4, rem)
	dst = append(dst, ack, byte(code))
	dst = appendVarInt(dst, n)
	if n > 0 {
		dst = props.appendRecords(dst)
	}
	return dst
}
