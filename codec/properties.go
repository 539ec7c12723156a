package codec

import (
	"bytes"
	"fmt"
	"slices"
)

// PropID identifies an MQTT 5.0 property [MQTT5-2.2.2.2].
type PropID byte

// The MQTT 5.0 properties, by identifier.
const (
	PropPayloadFormat        PropID = 0x01 // byte, 0 or 1: PUBLISH, will
	PropMessageExpiry        PropID = 0x02 // four-byte integer, seconds: PUBLISH, will
	PropContentType          PropID = 0x03 // UTF-8 string: PUBLISH, will
	PropResponseTopic        PropID = 0x08 // UTF-8 topic name: PUBLISH, will
	PropCorrelationData      PropID = 0x09 // binary: PUBLISH, will
	PropSubscriptionID       PropID = 0x0B // variable byte integer, 1..268435455: PUBLISH, SUBSCRIBE
	PropSessionExpiry        PropID = 0x11 // four-byte integer, seconds: CONNECT, CONNACK, DISCONNECT
	PropAssignedClientID     PropID = 0x12 // UTF-8 string: CONNACK
	PropServerKeepAlive      PropID = 0x13 // two-byte integer, seconds: CONNACK
	PropAuthMethod           PropID = 0x15 // UTF-8 string: CONNECT, CONNACK, AUTH
	PropAuthData             PropID = 0x16 // binary: CONNECT, CONNACK, AUTH
	PropRequestProblemInfo   PropID = 0x17 // byte, 0 or 1: CONNECT
	PropWillDelay            PropID = 0x18 // four-byte integer, seconds: will
	PropRequestResponseInfo  PropID = 0x19 // byte, 0 or 1: CONNECT
	PropResponseInfo         PropID = 0x1A // UTF-8 string: CONNACK
	PropServerReference      PropID = 0x1C // UTF-8 string: CONNACK, DISCONNECT
	PropReasonString         PropID = 0x1F // UTF-8 string: every packet with a reason code
	PropReceiveMaximum       PropID = 0x21 // two-byte integer, not 0: CONNECT, CONNACK
	PropTopicAliasMaximum    PropID = 0x22 // two-byte integer: CONNECT, CONNACK
	PropTopicAlias           PropID = 0x23 // two-byte integer, not 0: PUBLISH
	PropMaximumQoS           PropID = 0x24 // byte, 0 or 1: CONNACK
	PropRetainAvailable      PropID = 0x25 // byte, 0 or 1: CONNACK
	PropUser                 PropID = 0x26 // UTF-8 string pair, repeatable: every packet with properties
	PropMaximumPacketSize    PropID = 0x27 // four-byte integer, not 0: CONNECT, CONNACK
	PropWildcardSubAvailable PropID = 0x28 // byte, 0 or 1: CONNACK
	PropSubIDAvailable       PropID = 0x29 // byte, 0 or 1: CONNACK
	PropSharedSubAvailable   PropID = 0x2A // byte, 0 or 1: CONNACK
)

// propKind is the data type of a property's value [MQTT5-2.2.2.2].
type propKind byte

const (
	kindNone propKind = iota // not a property
	kindByte
	kindUint16
	kindUint32
	kindVarInt
	kindString
	kindBinary
	kindPair
)

// inWill is the bit of the will properties of CONNECT in propInfo.in; the
// other bits are 1<<Type.
const inWill = 1 << 16

func in(ts ...Type) (m uint32) {
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

// propInfo describes each property: its name, data type, where it may
// appear (the table of section 2.2.2.2 of the 5.0 standard) and its value
// rule.
var propInfo = [0x2B]struct {
	name    string
	kind    propKind
	in      uint32 // bit 1<<Type per packet, inWill for the will properties
	flag    bool   // value 0 or 1 only
	nonZero bool   // value 0 is a protocol error
}{
	PropPayloadFormat:        {"payload format indicator", kindByte, in(TypePublish) | inWill, true, false},
	PropMessageExpiry:        {"message expiry interval", kindUint32, in(TypePublish) | inWill, false, false},
	PropContentType:          {"content type", kindString, in(TypePublish) | inWill, false, false},
	PropResponseTopic:        {"response topic", kindString, in(TypePublish) | inWill, false, false},
	PropCorrelationData:      {"correlation data", kindBinary, in(TypePublish) | inWill, false, false},
	PropSubscriptionID:       {"subscription identifier", kindVarInt, in(TypePublish, TypeSubscribe), false, true},
	PropSessionExpiry:        {"session expiry interval", kindUint32, in(TypeConnect, TypeConnack, TypeDisconnect), false, false},
	PropAssignedClientID:     {"assigned client identifier", kindString, in(TypeConnack), false, false},
	PropServerKeepAlive:      {"server keep alive", kindUint16, in(TypeConnack), false, false},
	PropAuthMethod:           {"authentication method", kindString, in(TypeConnect, TypeConnack, TypeAuth), false, false},
	PropAuthData:             {"authentication data", kindBinary, in(TypeConnect, TypeConnack, TypeAuth), false, false},
	PropRequestProblemInfo:   {"request problem information", kindByte, in(TypeConnect), true, false},
	PropWillDelay:            {"will delay interval", kindUint32, inWill, false, false},
	PropRequestResponseInfo:  {"request response information", kindByte, in(TypeConnect), true, false},
	PropResponseInfo:         {"response information", kindString, in(TypeConnack), false, false},
	PropServerReference:      {"server reference", kindString, in(TypeConnack, TypeDisconnect), false, false},
	PropReasonString:         {"reason string", kindString, in(TypeConnack, TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSuback, TypeUnsuback, TypeDisconnect, TypeAuth), false, false},
	PropReceiveMaximum:       {"receive maximum", kindUint16, in(TypeConnect, TypeConnack), false, true},
	PropTopicAliasMaximum:    {"topic alias maximum", kindUint16, in(TypeConnect, TypeConnack), false, false},
	PropTopicAlias:           {"topic alias", kindUint16, in(TypePublish), false, true},
	PropMaximumQoS:           {"maximum QoS", kindByte, in(TypeConnack), true, false},
	PropRetainAvailable:      {"retain available", kindByte, in(TypeConnack), true, false},
	PropUser:                 {"user property", kindPair, in(TypeConnect, TypeConnack, TypePublish, TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSubscribe, TypeSuback, TypeUnsubscribe, TypeUnsuback, TypeDisconnect, TypeAuth) | inWill, false, false},
	PropMaximumPacketSize:    {"maximum packet size", kindUint32, in(TypeConnect, TypeConnack), false, true},
	PropWildcardSubAvailable: {"wildcard subscription available", kindByte, in(TypeConnack), true, false},
	PropSubIDAvailable:       {"subscription identifiers available", kindByte, in(TypeConnack), true, false},
	PropSharedSubAvailable:   {"shared subscription available", kindByte, in(TypeConnack), true, false},
}

// String returns the standard's name of the property in lower case, such as
// "topic alias", or "property 0xNN" for an identifier it does not define.
func (id PropID) String() string {
	if int(id) < len(propInfo) && propInfo[id].kind != kindNone {
		return propInfo[id].name
	}
	return fmt.Sprintf("property %#02x", byte(id))
}

// Allowed reports whether property id may appear in a packet of type t, or
// in the will properties of CONNECT when will is true [MQTT5-2.2.2.2].
func (id PropID) Allowed(t Type, will bool) bool {
	if int(id) >= len(propInfo) {
		return false
	}
	bit := uint32(1) << (t & 0x0f)
	if will {
		bit = inWill
	}
	return propInfo[id].in&bit != 0
}

// PropSet is a set of properties, one bit per identifier.
type PropSet uint64

// SetOf returns the set of ids.
func SetOf(ids ...PropID) PropSet {
	var s PropSet
	for _, id := range ids {
		s |= 1 << (id & 63)
	}
	return s
}

// Has reports whether id is in s.
func (s PropSet) Has(id PropID) bool { return id < 64 && s&(1<<id) != 0 }

// UserProperty is one user property, a name and a value [MQTT5-3.1.2.11.8].
// After a decode both are views into the decoded buffer.
type UserProperty struct {
	Key, Value []byte
}

// Properties holds the MQTT 5.0 properties of one packet (or the will
// properties of a CONNECT) [MQTT5-2.2.2].
//
// Single-valued properties are present when their bit is in Present (Has
// reports it, Set adds it): a field whose bit is clear is unset and its
// value meaningless, which matters where absence means something (no
// Maximum QoS means QoS 2). User properties and subscription identifiers are
// present when their slices are not empty; decoding also sets their bits.
//
// After a decode the byte-slice fields are views into the decoded buffer,
// valid as long as it; Raw is the whole property block as received, so a
// server forwards what it does not interpret byte for byte. User and
// SubscriptionIDs are truncated and appended to, so a reused Properties
// stops allocating once they have grown. Encoders write from the fields,
// in ascending identifier order, user properties in their order, and ignore
// Raw.
type Properties struct {
	Present PropSet

	PayloadFormat        byte   // 0 unspecified bytes, 1 UTF-8
	RequestProblemInfo   byte   // 0 or 1; absent means 1
	RequestResponseInfo  byte   // 0 or 1; absent means 0
	MaximumQoS           byte   // 0 or 1; absent means 2
	RetainAvailable      byte   // 0 or 1; absent means 1
	WildcardSubAvailable byte   // 0 or 1; absent means 1
	SubIDAvailable       byte   // 0 or 1; absent means 1
	SharedSubAvailable   byte   // 0 or 1; absent means 1
	ServerKeepAlive      uint16 // seconds
	ReceiveMaximum       uint16 // 1..65535; absent means 65535
	TopicAliasMaximum    uint16 // absent means 0: no aliases
	TopicAlias           uint16 // 1..the receiver's maximum
	MessageExpiry        uint32 // seconds; absent means no expiry
	SessionExpiry        uint32 // seconds; 0xFFFFFFFF never expires
	WillDelay            uint32 // seconds
	MaximumPacketSize    uint32 // bytes, not 0; absent means no limit

	ContentType      []byte // UTF-8
	ResponseTopic    []byte // UTF-8 topic name, no wildcards
	CorrelationData  []byte // binary
	AssignedClientID []byte // UTF-8
	AuthMethod       []byte // UTF-8
	AuthData         []byte // binary; only with AuthMethod
	ResponseInfo     []byte // UTF-8
	ServerReference  []byte // UTF-8
	ReasonString     []byte // UTF-8, for people, not for parsing

	SubscriptionIDs []uint32       // each 1..268435455; several only in a PUBLISH sent by a server
	User            []UserProperty // in the order received; names may repeat

	Raw []byte // after a decode: the property records as received, without their length
}

// Has reports whether property id is present in p.
func (p *Properties) Has(id PropID) bool { return p.Present.Has(id) }

// Set marks the single-valued property id present, so that encoders write
// the value of its field.
func (p *Properties) Set(id PropID) { p.Present |= 1 << (id & 63) }

// Reset empties p, keeping the capacity of User and SubscriptionIDs.
func (p *Properties) Reset() {
	*p = Properties{User: p.User[:0], SubscriptionIDs: p.SubscriptionIDs[:0]}
}

// Empty reports whether p holds no property.
func (p *Properties) Empty() bool {
	return p.Present == 0 && len(p.User) == 0 && len(p.SubscriptionIDs) == 0
}

// MaxVarInt is the largest value of a variable byte integer [MQTT5-1.5.5].
const MaxVarInt = MaxRemainingLength

// propsDecoder carries what decoding one property block needs.
type propsDecoder struct {
	field   string // "properties" or "will properties", for errors
	where   uint32 // 1<<Type, or inWill
	manySub bool   // subscription identifier may repeat (PUBLISH)
}

// decodeProps reads a property block at r.off: its length, then the
// properties, into p. Errors cite MQTT 5.0 rules.
func (p *Properties) decodeProps(r *reader, d propsDecoder) error {
	if p.Present != 0 || len(p.User) != 0 || len(p.SubscriptionIDs) != 0 {
		p.Reset() // else nothing was decoded into p: its fields are zero (a PUBLISH without properties skips clearing ~300 bytes)
	}
	lenOff := r.off
	var n int
	if r.off < len(r.b) && r.b[r.off] < 0x80 { // one byte, as nearly always: no call
		n = int(r.b[r.off])
		r.off++
	} else {
		var err error
		if n, err = r.varInt("property length"); err != nil {
			return err
		}
	}
	if n > r.left() {
		return r.short(d.field, lenOff, n)
	}
	end := r.off + n
	p.Raw = r.b[r.off:end:end]
	if n == 0 {
		return nil
	}
	sub := reader{b: r.b[:end], off: r.off, t: r.t}
	for sub.off < end {
		if err := p.decodeOne(&sub, d); err != nil {
			return err
		}
	}
	r.off = end
	return nil
}

// decodeOne reads one property record.
func (p *Properties) decodeOne(r *reader, d propsDecoder) error {
	off := r.off
	c, _ := r.u8(d.field)
	id := PropID(c)
	if int(id) >= len(propInfo) || propInfo[id].kind == kindNone { // [MQTT5-2.2.2.2]
		return malformed(r.t, d.field, off, fmt.Sprintf("unknown identifier %#02x", c), "MQTT5-2.2.2.2")
	}
	info := &propInfo[id]
	if info.in&d.where == 0 { // [MQTT5-2.2.2.2]
		where := r.t.String()
		if d.where == inWill {
			where = "will properties"
		}
		return malformed(r.t, d.field, off, fmt.Sprintf("%s (%#02x) not allowed in %s", info.name, c, where), "MQTT5-2.2.2.2")
	}
	if p.Present.Has(id) && id != PropUser && !(id == PropSubscriptionID && d.manySub) {
		return protocol(r.t, d.field, off, fmt.Sprintf("%s more than once, want at most one", info.name), "MQTT5-2.2.2.2")
	}
	p.Present |= 1 << id
	var v uint32
	var s, s2 []byte
	var err error
	switch info.kind {
	case kindByte:
		var b byte
		b, err = r.u8(info.name)
		v = uint32(b)
	case kindUint16:
		var u uint16
		u, err = r.u16(info.name)
		v = uint32(u)
	case kindUint32:
		v, err = r.u32(info.name)
	case kindVarInt:
		var n int
		n, err = r.varInt(info.name)
		v = uint32(n)
	case kindString:
		s, err = r.str(info.name, "", nulString)
	case kindBinary:
		s, err = r.binary(info.name, "")
	case kindPair:
		if s, err = r.str("user property name", "", nulString); err == nil {
			s2, err = r.str("user property value", "", nulString) // [MQTT5-1.5.7-1]
		}
	}
	if err != nil {
		return err
	}
	if info.flag && v > 1 {
		return protocol(r.t, d.field, off, fmt.Sprintf("%s %d, want 0 or 1", info.name, v), "MQTT5-2.2.2.2")
	}
	if info.nonZero && v == 0 {
		if id == PropTopicAlias { // [MQTT5-3.3.2-8]
			e := protocol(r.t, d.field, off, "topic alias 0, want 1 to the maximum", "MQTT5-3.3.2-8").(*Error)
			e.Reason = ReasonTopicAliasInvalid
			return e
		}
		return protocol(r.t, d.field, off, fmt.Sprintf("%s 0, want at least 1", info.name), "MQTT5-2.2.2.2")
	}
	switch id {
	case PropPayloadFormat:
		p.PayloadFormat = byte(v)
	case PropMessageExpiry:
		p.MessageExpiry = v
	case PropContentType:
		p.ContentType = s
	case PropResponseTopic:
		if err := checkTopicName(r.t, info.name, off+1, s, "MQTT5-3.3.2-14"); err != nil { // [MQTT5-3.3.2-14]
			return err
		}
		p.ResponseTopic = s
	case PropCorrelationData:
		p.CorrelationData = s
	case PropSubscriptionID:
		p.SubscriptionIDs = append(p.SubscriptionIDs, v)
	case PropSessionExpiry:
		p.SessionExpiry = v
	case PropAssignedClientID:
		p.AssignedClientID = s
	case PropServerKeepAlive:
		p.ServerKeepAlive = uint16(v)
	case PropAuthMethod:
		p.AuthMethod = s
	case PropAuthData:
		p.AuthData = s
	case PropRequestProblemInfo:
		p.RequestProblemInfo = byte(v)
	case PropWillDelay:
		p.WillDelay = v
	case PropRequestResponseInfo:
		p.RequestResponseInfo = byte(v)
	case PropResponseInfo:
		p.ResponseInfo = s
	case PropServerReference:
		p.ServerReference = s
	case PropReasonString:
		p.ReasonString = s
	case PropReceiveMaximum:
		p.ReceiveMaximum = uint16(v)
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = uint16(v)
	case PropTopicAlias:
		p.TopicAlias = uint16(v)
	case PropMaximumQoS:
		p.MaximumQoS = byte(v)
	case PropRetainAvailable:
		p.RetainAvailable = byte(v)
	case PropUser:
		p.User = append(p.User, UserProperty{Key: s, Value: s2})
	case PropMaximumPacketSize:
		p.MaximumPacketSize = v
	case PropWildcardSubAvailable:
		p.WildcardSubAvailable = byte(v)
	case PropSubIDAvailable:
		p.SubIDAvailable = byte(v)
	case PropSharedSubAvailable:
		p.SharedSubAvailable = byte(v)
	}
	return nil
}

// Decode decodes a property block at the start of b, a variable byte
// integer length and that many bytes of properties, as found in a packet of
// type t (in the will properties of a CONNECT when will is true). Several
// subscription identifiers are accepted only for PUBLISH. It returns the
// size of the block or an *Error; unlike the packet decoders it treats a
// short b as an error, since the packet around it is whole. A reused p does
// not allocate once User and SubscriptionIDs have grown.
func (p *Properties) Decode(b []byte, t Type, will bool) (int, error) {
	d := propsDecoder{field: "properties", where: 1 << (t & 0x0f), manySub: t == TypePublish}
	if will {
		d = propsDecoder{field: "will properties", where: inWill}
	}
	r := reader{b: b, t: t}
	if err := p.decodeProps(&r, d); err != nil {
		return 0, v5Error(err)
	}
	return r.off, nil
}

// valueSize returns the size of the value of a single-valued property id in
// p, identifier excluded.
func (p *Properties) valueSize(id PropID) int {
	switch propInfo[id].kind {
	case kindByte:
		return 1
	case kindUint16:
		return 2
	case kindUint32:
		return 4
	case kindString, kindBinary:
		return 2 + len(p.bytesOf(id))
	}
	return 0
}

// bytesOf returns the field of a string or binary property id.
func (p *Properties) bytesOf(id PropID) []byte {
	switch id {
	case PropContentType:
		return p.ContentType
	case PropResponseTopic:
		return p.ResponseTopic
	case PropCorrelationData:
		return p.CorrelationData
	case PropAssignedClientID:
		return p.AssignedClientID
	case PropAuthMethod:
		return p.AuthMethod
	case PropAuthData:
		return p.AuthData
	case PropResponseInfo:
		return p.ResponseInfo
	case PropServerReference:
		return p.ServerReference
	case PropReasonString:
		return p.ReasonString
	}
	return nil
}

// numberOf returns the field of an integer property id.
func (p *Properties) numberOf(id PropID) uint32 {
	switch id {
	case PropPayloadFormat:
		return uint32(p.PayloadFormat)
	case PropMessageExpiry:
		return p.MessageExpiry
	case PropSessionExpiry:
		return p.SessionExpiry
	case PropServerKeepAlive:
		return uint32(p.ServerKeepAlive)
	case PropRequestProblemInfo:
		return uint32(p.RequestProblemInfo)
	case PropWillDelay:
		return p.WillDelay
	case PropRequestResponseInfo:
		return uint32(p.RequestResponseInfo)
	case PropReceiveMaximum:
		return uint32(p.ReceiveMaximum)
	case PropTopicAliasMaximum:
		return uint32(p.TopicAliasMaximum)
	case PropTopicAlias:
		return uint32(p.TopicAlias)
	case PropMaximumQoS:
		return uint32(p.MaximumQoS)
	case PropRetainAvailable:
		return uint32(p.RetainAvailable)
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	case PropWildcardSubAvailable:
		return uint32(p.WildcardSubAvailable)
	case PropSubIDAvailable:
		return uint32(p.SubIDAvailable)
	case PropSharedSubAvailable:
		return uint32(p.SharedSubAvailable)
	}
	return 0
}

// single is the set of single-valued properties, those Present governs.
const single = ^PropSet(0) &^ (1<<PropUser | 1<<PropSubscriptionID)

// Size returns the size in bytes of the property records AppendProperties
// writes for p, without the length before them; 0 for a nil p.
func (p *Properties) Size() int {
	if p == nil {
		return 0
	}
	n := 0
	for set := p.Present & single; set != 0; set &= set - 1 {
		id := PropID(lowestBit(set))
		if int(id) < len(propInfo) && propInfo[id].kind != kindNone {
			n += 1 + p.valueSize(id)
		}
	}
	for _, v := range p.SubscriptionIDs {
		n += 1 + varIntSize(int(v))
	}
	for _, u := range p.User {
		n += 1 + 4 + len(u.Key) + len(u.Value)
	}
	return n
}

// AppendProperties appends the property block of p, a variable byte integer
// length and the records, to dst; a nil or empty p appends the single byte
// 0 [MQTT5-2.2.2-1]. Single-valued properties are written when present,
// then subscription identifiers and user properties, all in ascending
// identifier order. It does not validate p and does not allocate when dst
// has room; it panics on a string longer than 65535 bytes.
func AppendProperties(dst []byte, p *Properties) []byte {
	n := p.Size()
	dst = appendVarInt(dst, n)
	if n == 0 {
		return dst
	}
	return p.appendRecords(dst)
}

// appendRecords appends the records of p in ascending identifier order.
func (p *Properties) appendRecords(dst []byte) []byte {
	set := p.Present & single
	if len(p.SubscriptionIDs) > 0 {
		set |= 1 << PropSubscriptionID
	}
	if len(p.User) > 0 {
		set |= 1 << PropUser
	}
	for ; set != 0; set &= set - 1 {
		id := PropID(lowestBit(set))
		if int(id) >= len(propInfo) {
			continue
		}
		switch propInfo[id].kind {
		case kindByte:
			dst = append(dst, byte(id), byte(p.numberOf(id)))
		case kindUint16:
			dst = appendUint16(append(dst, byte(id)), uint16(p.numberOf(id)))
		case kindUint32:
			v := p.numberOf(id)
			dst = append(dst, byte(id), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		case kindString, kindBinary:
			dst = appendString(append(dst, byte(id)), p.bytesOf(id))
		case kindVarInt:
			for _, v := range p.SubscriptionIDs {
				dst = appendVarInt(append(dst, byte(id)), int(v))
			}
		case kindPair:
			for _, u := range p.User {
				dst = appendString(appendString(append(dst, byte(id)), u.Key), u.Value)
			}
		}
	}
	return dst
}

// lowestBit returns the index of the lowest set bit of a non-zero s.
func lowestBit(s PropSet) int {
	i := 0
	for s&1 == 0 {
		s >>= 1
		i++
	}
	return i
}

// AppendPropsWithout appends to dst the property records of props (such as
// Properties.Raw after a successful decode: records without their length)
// except those whose identifier is in drop, keeping their order and bytes.
// A server uses it once per received PUBLISH to keep what it forwards
// unchanged (user properties, response topic, correlation data, content
// type, payload format) and drop what it rewrites per delivery (topic alias,
// message expiry, subscription identifiers). Records that are not well
// formed end the copy. It does not allocate when dst has room.
func AppendPropsWithout(dst, props []byte, drop PropSet) []byte {
	for len(props) > 0 {
		n := recordSize(props)
		if n <= 0 {
			break
		}
		if !drop.Has(PropID(props[0])) {
			dst = append(dst, props[:n]...)
		}
		props = props[n:]
	}
	return dst
}

// recordSize returns the size of the property record at the start of b, or
// 0 if it is not a whole record of a known property.
func recordSize(b []byte) int {
	id := b[0]
	if int(id) >= len(propInfo) {
		return 0
	}
	var n int
	switch propInfo[id].kind {
	case kindByte:
		n = 2
	case kindUint16:
		n = 3
	case kindUint32:
		n = 5
	case kindVarInt:
		_, size, ok := varIntAt(b[1:])
		if !ok {
			return 0
		}
		n = 1 + size
	case kindString, kindBinary:
		if len(b) < 3 {
			return 0
		}
		n = 3 + (int(b[1])<<8 | int(b[2]))
	case kindPair:
		if len(b) < 3 {
			return 0
		}
		k := 3 + (int(b[1])<<8 | int(b[2]))
		if len(b) < k+2 {
			return 0
		}
		n = k + 2 + (int(b[k])<<8 | int(b[k+1]))
	default:
		return 0
	}
	if n > len(b) {
		return 0
	}
	return n
}

// varIntAt decodes the variable byte integer at the start of b [MQTT5-1.5.5]:
// its value and size, ok false if b ends inside it or it runs past 4 bytes.
func varIntAt(b []byte) (v, size int, ok bool) {
	for i := 0; i < 4 && i < len(b); i++ {
		v |= int(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// varIntSize returns the size of v as a variable byte integer.
func varIntSize(v int) int { return headerSize(v) - 1 }

// appendVarInt appends v as a variable byte integer. It panics if v is
// outside 0..MaxVarInt, a broken invariant of the caller.
func appendVarInt(dst []byte, v int) []byte {
	if v < 0 || v > MaxVarInt {
		panic(fmt.Sprintf("codec: variable byte integer %d out of range [0, %d]", v, MaxVarInt))
	}
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// Clone returns a copy of p whose byte slices share one new allocation
// instead of the decoded buffer, with User and SubscriptionIDs copied.
func (p *Properties) Clone() Properties {
	q := *p
	q.User, q.SubscriptionIDs, q.Raw = nil, nil, nil
	if p.Empty() && len(p.Raw) == 0 {
		return q
	}
	n := len(p.Raw)
	for _, f := range p.views() {
		n += len(*f)
	}
	for _, u := range p.User {
		n += len(u.Key) + len(u.Value)
	}
	buf := make([]byte, 0, n)
	take := func(s []byte) []byte {
		if s == nil {
			return nil
		}
		buf = append(buf, s...)
		return buf[len(buf)-len(s) : len(buf) : len(buf)]
	}
	q.Raw = take(p.Raw)
	for i, f := range q.views() {
		*f = take(*p.views()[i])
	}
	if len(p.User) > 0 {
		q.User = make([]UserProperty, len(p.User))
		for i, u := range p.User {
			q.User[i] = UserProperty{Key: take(u.Key), Value: take(u.Value)}
		}
	}
	q.SubscriptionIDs = slices.Clone(p.SubscriptionIDs)
	return q
}

// views returns pointers to the byte-slice fields of p, Raw and User apart.
func (p *Properties) views() [9]*[]byte {
	return [9]*[]byte{&p.ContentType, &p.ResponseTopic, &p.CorrelationData, &p.AssignedClientID,
		&p.AuthMethod, &p.AuthData, &p.ResponseInfo, &p.ServerReference, &p.ReasonString}
}

// Equal reports whether p and q hold the same properties, comparing the
// values of present single-valued ones, subscription identifiers and user
// properties in order. Raw is not compared.
func (p *Properties) Equal(q *Properties) bool {
	if p.Present&single != q.Present&single || !slices.Equal(p.SubscriptionIDs, q.SubscriptionIDs) ||
		len(p.User) != len(q.User) {
		return false
	}
	for i := range p.User {
		if !bytes.Equal(p.User[i].Key, q.User[i].Key) || !bytes.Equal(p.User[i].Value, q.User[i].Value) {
			return false
		}
	}
	for set := p.Present & single; set != 0; set &= set - 1 {
		id := PropID(lowestBit(set))
		if int(id) >= len(propInfo) {
			continue
		}
		if p.numberOf(id) != q.numberOf(id) || !bytes.Equal(p.bytesOf(id), q.bytesOf(id)) {
			return false
		}
	}
	return true
}
