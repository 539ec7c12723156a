package codec

import "slices"

// Disconnect is a DISCONNECT packet. In MQTT 3.1.1 it is a fixed header
// alone (DecodeEmpty); in MQTT 5.0 either side sends it, with a reason code
// and properties [MQTT5-3.14].
type Disconnect struct {
	ReasonCode ReasonCode // 0x00 Normal disconnection when left out
	Props      Properties // session expiry (from a client), reason string, server reference, user properties
}

// DecodeV decodes the DISCONNECT packet at the start of b on a connection
// of protocol level level. Below level 5 it is DecodeEmpty and sets
// ReasonCode 0. At level 5 a remaining length of 0 means 0x00 and no
// properties, 1 a reason code alone [MQTT5-3.14.2.1]; the reason code must
// be one of DISCONNECT's [MQTT5-3.14.2-1]. A server closing with its own
// DISCONNECT leaves out the session expiry interval [MQTT5-3.14.2-2]; the
// decoder, which does not know the direction, does not check that. It does
// not allocate once p.Props.User has grown.
func (p *Disconnect) DecodeV(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 {
		n, err := DecodeEmpty(b, TypeDisconnect)
		if n > 0 {
			p.ReasonCode = ReasonNormalDisconnection
			p.Props.Reset()
		}
		return n, err
	}
	n, err := decodeCoded(b, TypeDisconnect, "MQTT5-3.14.1-1", &p.ReasonCode, &p.Props)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

// AppendDisconnectV5 appends an MQTT 5.0 DISCONNECT with reason code code
// and the properties of props (nil for none) to dst, in the shortest form.
// It does not allocate when dst has room.
func AppendDisconnectV5(dst []byte, code ReasonCode, props *Properties) []byte {
	return appendCoded(dst, TypeDisconnect, code, props)
}

// Auth is an MQTT 5.0 AUTH packet, a step of enhanced authentication
// [MQTT5-3.15]: a reason code (0x00 Success, 0x18 Continue authentication,
// 0x19 Re-authenticate) and properties, among them the authentication method
// and data.
type Auth struct {
	ReasonCode ReasonCode
	Props      Properties
}

// Decode decodes the AUTH packet at the start of b; AUTH exists only in MQTT
// 5.0, so frame its connection with FrameV. A remaining length of 0 means
// 0x00 Success and no properties [MQTT5-3.15.2.1]. It returns the size of
// the packet, 0 and a nil error if b does not yet hold all of it, or an
// *Error citing MQTT 5.0 rules: flags other than 0000 [MQTT5-3.15.1-1], a
// reason code that is not AUTH's [MQTT5-3.15.2-1], bad properties. It does
// not allocate once p.Props.User has grown.
func (p *Auth) Decode(b []byte) (int, error) {
	n, err := decodeCoded(b, TypeAuth, "MQTT5-3.15.1-1", &p.ReasonCode, &p.Props)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

// AppendAuth appends an AUTH with reason code code and the properties of
// props (nil for none) to dst, in the shortest form. It does not allocate
// when dst has room.
func AppendAuth(dst []byte, code ReasonCode, props *Properties) []byte {
	return appendCoded(dst, TypeAuth, code, props)
}

// decodeCoded decodes a DISCONNECT or AUTH: fixed header with flags 0000
// (flagRule), then an optional reason code and optional properties.
func decodeCoded(b []byte, t Type, flagRule string, code *ReasonCode, props *Properties) (int, error) {
	flags, hdr, n, err := header5(b, t)
	if n == 0 {
		return 0, err
	}
	if flags != 0 {
		return 0, badFlags(t, flags, 0, flagRule)
	}
	*code = ReasonSuccess
	props.Reset()
	if n == hdr {
		return n, nil
	}
	r := reader{b: b[:n], off: hdr, t: t}
	c, _ := r.u8("reason code")
	if !ValidReason(t, ReasonCode(c)) {
		return 0, badReason(t, hdr, ReasonCode(c))
	}
	*code = ReasonCode(c)
	if r.left() == 0 {
		return n, nil
	}
	if err = props.decodeProps(&r, propsDecoder{field: "properties", where: 1 << t}); err != nil {
		return 0, err
	}
	if err = r.end("", ""); err != nil {
		return 0, err
	}
	return n, nil
}

// appendCoded appends a DISCONNECT or AUTH in the shortest form: nothing
// after the fixed header for 0x00 without properties, the reason code alone
// without properties.
func appendCoded(dst []byte, t Type, code ReasonCode, props *Properties) []byte {
	n := props.Size()
	first := byte(t) << 4
	switch {
	case n == 0 && code == ReasonSuccess:
		return append(dst, first, 0)
	case n == 0:
		return append(dst, first, 1, byte(code))
	}
	rem := 1 + varIntSize(n) + n
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, first, rem)
	dst = appendVarInt(append(dst, byte(code)), n)
	return props.appendRecords(dst)
}

// DecodeEmptyV is DecodeEmpty on a connection of protocol level level: at
// level 5 it takes PINGREQ and PINGRESP only (DISCONNECT has a reason code
// there: Disconnect.DecodeV) and its errors cite MQTT 5.0 rules.
func DecodeEmptyV(b []byte, t Type, level byte) (int, error) {
	if level < ProtocolLevel5 {
		return DecodeEmpty(b, t)
	}
	if t == TypeDisconnect {
		return 0, malformed(t, "packet type", 0, "DecodeEmptyV called for DISCONNECT at level 5, want Disconnect.DecodeV", "")
	}
	n, err := DecodeEmpty(b, t)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}
