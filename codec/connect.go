package codec

import (
	"bytes"
	"fmt"
	"slices"
)

// Protocol names and levels accepted in CONNECT: MQTT 3.1.1 and MQTT 3.1.
const (
	ProtocolName311   = "MQTT"
	ProtocolLevel311  = 4
	ProtocolName31    = "MQIsdp"
	ProtocolLevel31   = 3
	connectFixedFlags = 0x00
)

// Connect is a CONNECT packet [MQTT-3.1]. After Decode its byte slices are
// views into the decoded buffer, valid as long as that buffer; Clone what
// must outlive it.
type Connect struct {
	ProtocolName  []byte // "MQTT" (level 4) or "MQIsdp" (level 3)
	ProtocolLevel byte   // 4 for MQTT 3.1.1, 3 for MQTT 3.1, 5 for MQTT 5.0
	CleanSession  bool   // Clean Start in MQTT 5.0
	WillFlag      bool
	WillQoS       byte // 0, 1 or 2; 0 unless WillFlag
	WillRetain    bool // false unless WillFlag
	UsernameFlag  bool
	PasswordFlag  bool   // never set without UsernameFlag, except in MQTT 5.0
	KeepAlive     uint16 // seconds; 0 turns keep-alive off
	ClientID      []byte // may be empty or long: the broker decides [MQTT-3.1.3-6]
	WillTopic     []byte // a valid topic name when WillFlag, else nil
	WillMessage   []byte // binary, when WillFlag
	Username      []byte // when UsernameFlag
	Password      []byte // binary, when PasswordFlag; never log it
	// Props and WillProps hold the MQTT 5.0 properties and will properties,
	// filled by DecodeV for a level 5 CONNECT and written by AppendConnect
	// when ProtocolLevel is 5.
	Props, WillProps Properties
}

// Decode decodes the CONNECT packet at the start of b. It returns the size of
// the packet, 0 and a nil error if b does not yet hold all of it, or an *Error:
//
//   - ErrProtocol with Rule "MQTT-3.1.2-1" for a protocol name other than
//     "MQTT" and "MQIsdp": close without CONNACK;
//   - ErrProtocol with Rule "MQTT-3.1.2-2" for level other than 4 with "MQTT"
//     or 3 with "MQIsdp": answer CONNACK 0x01, then close. Decode stops there,
//     but p.ProtocolName and p.ProtocolLevel are set;
//   - ErrMalformed or ErrProtocol for anything else: close without CONNACK
//     [MQTT-3.1.4-1].
//
// An empty or long client ID is not an error: the broker answers CONNACK 0x02
// [MQTT-3.1.3-8]. For MQTT 3.1, a username or password whose flag is set but
// that is missing at the end of the packet counts as absent, as old clients
// send that (Mosquitto accepts it too). Decode does not allocate.
func (p *Connect) Decode(b []byte) (int, error) {
	flags, hdr, n, err := header(b, TypeConnect)
	if n == 0 {
		return 0, err
	}
	if flags != connectFixedFlags { // [MQTT-2.2.2-1] [MQTT-2.2.2-2]
		return 0, badFlags(TypeConnect, flags, connectFixedFlags, ruleFlags)
	}
	*p = Connect{}
	r := reader{b: b[:n], off: hdr, t: TypeConnect}
	if p.ProtocolName, err = r.binary("protocol name", ""); err != nil {
		return 0, err
	}
	nameOff := hdr
	var want byte
	switch string(p.ProtocolName) {
	case ProtocolName311:
		want = ProtocolLevel311
	case ProtocolName31:
		want = ProtocolLevel31
	default: // [MQTT-3.1.2-1]
		return 0, protocol(TypeConnect, "protocol name", nameOff,
			fmt.Sprintf("%s, want \"MQTT\" or \"MQIsdp\"", quote(p.ProtocolName)), "MQTT-3.1.2-1")
	}
	levelOff := r.off
	if p.ProtocolLevel, err = r.u8("protocol level"); err != nil {
		return 0, err
	}
	if p.ProtocolLevel != want { // [MQTT-3.1.2-2]
		return 0, protocol(TypeConnect, "protocol level", levelOff,
			fmt.Sprintf("level %d with protocol name %q, want %d", p.ProtocolLevel, p.ProtocolName, want), "MQTT-3.1.2-2")
	}
	if err = p.decodeFlags(&r); err != nil {
		return 0, err
	}
	if p.KeepAlive, err = r.u16("keep alive"); err != nil {
		return 0, err
	}
	if err = p.decodePayload(&r); err != nil {
		return 0, err
	}
	return n, nil
}

// decodeFlags reads and checks the connect flags byte [MQTT-3.1.2.3].
func (p *Connect) decodeFlags(r *reader) error {
	off := r.off
	f, err := r.u8("connect flags")
	if err != nil {
		return err
	}
	const field = "connect flags"
	p.CleanSession = f&0x02 != 0
	p.WillFlag = f&0x04 != 0
	p.WillQoS = f >> 3 & 0x03
	p.WillRetain = f&0x20 != 0
	p.PasswordFlag = f&0x40 != 0
	p.UsernameFlag = f&0x80 != 0
	switch {
	case f&0x01 != 0: // [MQTT-3.1.2-3]
		return malformed(TypeConnect, field, off, "reserved bit is 1, want 0", "MQTT-3.1.2-3")
	case !p.WillFlag && p.WillQoS != 0: // [MQTT-3.1.2-13] (and -11)
		return malformed(TypeConnect, field, off,
			fmt.Sprintf("will QoS %d with will flag 0, want 0", p.WillQoS), "MQTT-3.1.2-13")
	case !p.WillFlag && p.WillRetain: // [MQTT-3.1.2-15] (and -11)
		return malformed(TypeConnect, field, off, "will retain 1 with will flag 0, want 0", "MQTT-3.1.2-15")
	case p.WillQoS == 3: // [MQTT-3.1.2-14]
		return malformed(TypeConnect, field, off, "will QoS 3, want 0, 1 or 2", "MQTT-3.1.2-14")
	case p.PasswordFlag && !p.UsernameFlag: // [MQTT-3.1.2-22]
		return malformed(TypeConnect, field, off, "password flag 1 with user name flag 0, want 0", "MQTT-3.1.2-22")
	}
	return nil
}

// decodePayload reads the fields the flags announce, in the order of
// [MQTT-3.1.3-1], and nothing after them.
func (p *Connect) decodePayload(r *reader) (err error) {
	// [MQTT-3.1.3-3] present and first; [MQTT-3.1.3-4] UTF-8.
	if p.ClientID, err = r.str("client identifier", "MQTT-3.1.3-3", nulString); err != nil {
		return err
	}
	if p.WillFlag {
		off := r.off
		// [MQTT-3.1.2-9] present; [MQTT-3.1.3-10] UTF-8.
		if p.WillTopic, err = r.str("will topic", "MQTT-3.1.2-9", nulTopic); err != nil {
			return err
		}
		if err = checkTopicName(TypeConnect, "will topic", off, p.WillTopic, "MQTT-4.7.1-1"); err != nil {
			return err
		}
		if p.WillMessage, err = r.binary("will message", "MQTT-3.1.2-9"); err != nil { // [MQTT-3.1.2-9]
			return err
		}
	}
	mqtt31 := p.ProtocolLevel == ProtocolLevel31
	if p.UsernameFlag {
		if mqtt31 && r.left() == 0 {
			p.UsernameFlag, p.PasswordFlag = false, false
		} else if p.Username, err = r.str("user name", "MQTT-3.1.2-19", nulString); err != nil { // [MQTT-3.1.2-19] [MQTT-3.1.3-11]
			return err
		}
	}
	if p.PasswordFlag {
		if mqtt31 && r.left() == 0 {
			p.PasswordFlag = false
		} else if p.Password, err = r.binary("password", "MQTT-3.1.2-21"); err != nil { // [MQTT-3.1.2-21]
			return err
		}
	}
	// Bytes left over are a field whose flag is 0: name the first such field.
	switch {
	case !p.WillFlag && !p.UsernameFlag && !p.PasswordFlag:
		return r.end("will topic", "MQTT-3.1.2-11") // [MQTT-3.1.2-11]
	case !p.UsernameFlag:
		return r.end("user name", "MQTT-3.1.2-18") // [MQTT-3.1.2-18]
	case !p.PasswordFlag:
		return r.end("password", "MQTT-3.1.2-20") // [MQTT-3.1.2-20]
	}
	return r.end("password", "")
}

// AppendConnect appends p encoded as a CONNECT packet to dst and returns the
// extended buffer. The flags come from p's boolean fields and WillQoS, and
// decide which payload fields are written. An empty ProtocolName means "MQTT";
// a ProtocolLevel of 0 means 4 for "MQTT" and 3 for "MQIsdp". A
// ProtocolLevel of 5 writes an MQTT 5.0 CONNECT named "MQTT", with Props and,
// with a will, WillProps. It does not validate p, and panics if a field is
// longer than 65535 bytes.
func AppendConnect(dst []byte, p *Connect) []byte {
	if p.ProtocolLevel == ProtocolLevel5 {
		return appendConnect5(dst, p)
	}
	name := p.ProtocolName
	if len(name) == 0 {
		name = []byte(ProtocolName311)
	}
	level := p.ProtocolLevel
	if level == 0 {
		level = ProtocolLevel311
		if string(name) == ProtocolName31 {
			level = ProtocolLevel31
		}
	}
	var f byte
	rem := 2 + len(name) + 1 + 1 + 2 + 2 + len(p.ClientID)
	if p.CleanSession {
		f |= 0x02
	}
	if p.WillFlag {
		f |= 0x04 | (p.WillQoS&0x03)<<3
		if p.WillRetain {
			f |= 0x20
		}
		rem += 4 + len(p.WillTopic) + len(p.WillMessage)
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
	dst = appendString(dst, name)
	dst = append(dst, level, f)
	dst = appendUint16(dst, p.KeepAlive)
	dst = appendString(dst, p.ClientID)
	if p.WillFlag {
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

// Equal reports whether p and q hold the same fields, comparing bytes.
func (p *Connect) Equal(q *Connect) bool {
	return bytes.Equal(p.ProtocolName, q.ProtocolName) && p.ProtocolLevel == q.ProtocolLevel &&
		p.CleanSession == q.CleanSession && p.WillFlag == q.WillFlag && p.WillQoS == q.WillQoS &&
		p.WillRetain == q.WillRetain && p.UsernameFlag == q.UsernameFlag &&
		p.PasswordFlag == q.PasswordFlag && p.KeepAlive == q.KeepAlive &&
		bytes.Equal(p.ClientID, q.ClientID) && bytes.Equal(p.WillTopic, q.WillTopic) &&
		bytes.Equal(p.WillMessage, q.WillMessage) && bytes.Equal(p.Username, q.Username) &&
		bytes.Equal(p.Password, q.Password) && p.Props.Equal(&q.Props) && p.WillProps.Equal(&q.WillProps)
}
