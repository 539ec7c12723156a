package codec

import "slices"

// DecodeV decodes the PUBLISH packet at the start of b as a server receives
// it from a client of protocol level level. Below level 5 it is Decode. At
// level 5 it also reads the properties into p.Props [MQTT5-3.3.2.3], accepts
// an empty topic name when a topic alias is present (the broker resolves the
// alias), and rejects a subscription identifier [MQTT5-3.3.4-6], a topic
// alias of 0 [MQTT5-3.3.2-8] (Reason 0x94) and a wildcard in the topic name
// [MQTT5-3.3.2-2] (Reason 0x90). Errors cite MQTT 5.0 rules. A reused p does
// not allocate once p.Props.User has grown.
func (p *Publish) DecodeV(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 {
		return p.Decode(b)
	}
	n, err := p.decode5(b, false)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

// DecodeFromServer is DecodeV for a client receiving a PUBLISH from a
// server: at level 5 subscription identifiers are allowed, several of them
// [MQTT5-3.3.4-4].
func (p *Publish) DecodeFromServer(b []byte, level byte) (int, error) {
	if level < ProtocolLevel5 {
		return p.Decode(b)
	}
	n, err := p.decode5(b, true)
	if err != nil {
		return 0, v5Error(err)
	}
	return n, nil
}

func (p *Publish) decode5(b []byte, fromServer bool) (int, error) {
	flags, hdr, n, err := header(b, TypePublish)
	if n == 0 {
		return 0, err
	}
	p.Dup = flags&0x08 != 0
	p.QoS = flags >> 1 & 0x03
	p.Retain = flags&0x01 != 0
	if p.QoS == 3 { // [MQTT5-3.3.1-4]
		return 0, malformed(TypePublish, "fixed header flags", 0, "QoS 3, want 0, 1 or 2", "MQTT-3.3.1-4")
	}
	if p.Dup && p.QoS == 0 { // [MQTT5-3.3.1-2]
		return 0, malformed(TypePublish, "fixed header flags", 0, "DUP 1 with QoS 0, want 0", "MQTT-3.3.1-2")
	}
	r := reader{b: b[:n], off: hdr, t: TypePublish}
	// [MQTT5-3.3.2-1] present, UTF-8; [MQTT5-4.7.3-2] no U+0000.
	if p.TopicName, err = r.str("topic name", "MQTT-3.3.2-1", nulTopic); err != nil {
		return 0, err
	}
	if len(p.TopicName) > 0 {
		if err = checkTopicName(TypePublish, "topic name", hdr, p.TopicName, "MQTT-3.3.2-2"); err != nil {
			return 0, err
		}
	}
	p.PacketID = 0
	if p.QoS > 0 {
		off := r.off
		if p.PacketID, err = r.u16("packet identifier"); err != nil {
			return 0, err
		}
		if p.PacketID == 0 { // [MQTT5-2.2.1-3]
			return 0, zeroPacketID(TypePublish, off)
		}
	}
	propsOff := r.off
	if r.off < n && r.b[r.off] == 0 { // no properties, as most PUBLISHes: nothing to read or check
		if !p.Props.Empty() || p.Props.Raw != nil {
			p.Props.Reset() // Raw nil: no records
		}
		if len(p.TopicName) == 0 { // [MQTT5-3.3.2.3.4]
			return 0, protocol(TypePublish, "topic name", hdr, "empty without a topic alias", "MQTT5-3.3.2.3.4")
		}
		p.Payload = r.b[r.off+1 : n : n]
		return n, nil
	}
	d := propsDecoder{field: "properties", where: 1 << TypePublish, manySub: true}
	if err = p.Props.decodeProps(&r, d); err != nil {
		return 0, err
	}
	if !fromServer && len(p.Props.SubscriptionIDs) > 0 { // [MQTT5-3.3.4-6]
		return 0, protocol(TypePublish, "properties", propsOff,
			"subscription identifier from a client, want none", "MQTT5-3.3.4-6")
	}
	if len(p.TopicName) == 0 && !p.Props.Has(PropTopicAlias) { // [MQTT5-3.3.2.3.4]
		return 0, protocol(TypePublish, "topic name", hdr, "empty without a topic alias", "MQTT5-3.3.2.3.4")
	}
	p.Payload = r.b[r.off:n:n]
	return n, nil
}

// AppendPublishV5 appends p encoded as an MQTT 5.0 PUBLISH packet, with the
// properties of p.Props, to dst and returns the extended buffer. The topic
// name may be empty when p.Props carries a topic alias. It does not validate
// p and does not allocate when dst has room for PublishSizeV5 bytes. It
// panics if a string is longer than 65535 bytes or the packet larger than
// MaxPacketSize.
func AppendPublishV5(dst []byte, p *Publish) []byte {
	props := p.Props.Size()
	rem := 2 + len(p.TopicName) + varIntSize(props) + props + len(p.Payload)
	if p.QoS > 0 {
		rem += 2
	}
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, publishFirst(p), rem)
	dst = appendString(dst, p.TopicName)
	if p.QoS > 0 {
		dst = appendUint16(dst, p.PacketID)
	}
	dst = appendVarInt(dst, props)
	if props > 0 {
		dst = p.Props.appendRecords(dst)
	}
	return append(dst, p.Payload...)
}

// PublishSizeV5 returns the size in bytes of an MQTT 5.0 PUBLISH packet with
// QoS qos, a topic name of topicLen bytes, property records of propsLen
// bytes (Properties.Size, or the length of pre-encoded records) and a
// payload of payloadLen bytes, fixed header included.
func PublishSizeV5(qos byte, topicLen, propsLen, payloadLen int) int {
	rem := 2 + topicLen + varIntSize(propsLen) + propsLen + payloadLen
	if qos > 0 {
		rem += 2
	}
	return headerSize(rem) + rem
}

// Forward holds the PUBLISH properties that a server writes anew for each
// delivery of one message; AppendPublishForward puts them before the
// message's pre-encoded properties.
type Forward struct {
	TopicAlias      uint16   // 0: none; else the alias of the topic on this connection
	HasExpiry       bool     // write MessageExpiry
	MessageExpiry   uint32   // seconds left: the received interval minus the time waited [MQTT5-3.3.2-6]
	SubscriptionIDs []uint32 // of the matching subscriptions that have one [MQTT5-3.3.4-3]
}

// Size returns the size in bytes of the property records f adds.
func (f *Forward) Size() int {
	if f == nil {
		return 0
	}
	n := 0
	if f.TopicAlias != 0 {
		n += 3
	}
	if f.HasExpiry {
		n += 5
	}
	for _, v := range f.SubscriptionIDs {
		n += 1 + varIntSize(int(v))
	}
	return n
}

// AppendPublishForward appends an MQTT 5.0 PUBLISH to dst: the flags, topic
// name, packet identifier and payload of p (p.Props is ignored), the
// properties of f (nil for none), then props, property records encoded once
// for every delivery of the message (AppendPropsWithout of the received Raw,
// without topic alias, message expiry and subscription identifiers). A topic
// alias already known to the subscriber goes with an empty p.TopicName. It
// does not allocate when dst has room for PublishForwardSize bytes, and
// panics as AppendPublishV5.
func AppendPublishForward(dst []byte, p *Publish, f *Forward, props []byte) []byte {
	return AppendPublishForwardParts(dst, p.Dup, p.QoS, p.Retain, p.TopicName, p.PacketID, f, props, p.Payload)
}

// AppendPublishForwardParts is AppendPublishForward from the packet's parts,
// as AppendPublishParts is AppendPublish: a server forwarding a message has
// them at hand, and filling a Publish first would clear its Props, some
// 300 bytes, on every delivery.
func AppendPublishForwardParts(dst []byte, dup bool, qos byte, retain bool, topic []byte, id uint16, f *Forward, props, payload []byte) []byte {
	fn := f.Size()
	all := fn + len(props)
	rem := 2 + len(topic) + varIntSize(all) + all + len(payload)
	first := byte(TypePublish)<<4 | (qos&0x03)<<1
	if qos > 0 {
		rem += 2
	}
	if dup {
		first |= 0x08
	}
	if retain {
		first |= 0x01
	}
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, first, rem)
	dst = appendString(dst, topic)
	if qos > 0 {
		dst = appendUint16(dst, id)
	}
	if all < 0x80 { // one byte, as nearly always
		dst = append(dst, byte(all))
	} else {
		dst = appendVarInt(dst, all)
	}
	if fn > 0 {
		if f.HasExpiry {
			v := f.MessageExpiry
			dst = append(dst, byte(PropMessageExpiry), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		}
		for _, v := range f.SubscriptionIDs {
			dst = appendVarInt(append(dst, byte(PropSubscriptionID)), int(v))
		}
		if f.TopicAlias != 0 {
			dst = appendUint16(append(dst, byte(PropTopicAlias)), f.TopicAlias)
		}
	}
	if len(props) > 0 {
		dst = append(dst, props...)
	}
	return append(dst, payload...)
}

// PublishForwardSize returns the size in bytes of the PUBLISH that
// AppendPublishForward writes, so that a server can compare it with the
// subscriber's maximum packet size [MQTT5-3.1.2-24] before encoding.
func PublishForwardSize(qos byte, topicLen int, f *Forward, propsLen, payloadLen int) int {
	return PublishSizeV5(qos, topicLen, f.Size()+propsLen, payloadLen)
}

// publishFirst returns the first byte of the fixed header of p.
func publishFirst(p *Publish) byte {
	first := byte(TypePublish)<<4 | (p.QoS&0x03)<<1
	if p.Dup {
		first |= 0x08
	}
	if p.Retain {
		first |= 0x01
	}
	return first
}
