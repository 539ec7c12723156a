package codec

import (
	"bytes"
	"fmt"
	"slices"
)

// Publish is a PUBLISH packet [MQTT-3.3]. After Decode TopicName and Payload
// are views into the decoded buffer, valid as long as that buffer; Clone a
// Publish that must outlive it (a queued QoS 1/2 message, a retained one).
type Publish struct {
	Dup       bool   // redelivery; never with QoS 0
	QoS       byte   // 0, 1 or 2
	Retain    bool   // stored as the topic's retained message; live forwards clear it
	TopicName []byte // valid topic name: no wildcards, not empty
	PacketID  uint16 // non-zero for QoS 1 and 2, 0 for QoS 0
	Payload   []byte // application message, may be empty; never log it
	// Props holds the MQTT 5.0 properties; DecodeV fills it at level 5,
	// Decode leaves it alone and AppendPublish ignores it.
	Props Properties
}

// Decode decodes the PUBLISH packet at the start of b. It returns the size of
// the packet, 0 and a nil error if b does not yet hold all of it, or an *Error
// wrapping ErrMalformed (QoS 3, DUP with QoS 0, bad UTF-8, bad lengths) or
// ErrProtocol (empty topic, wildcard in the topic, packet identifier 0). It
// does not allocate.
func (p *Publish) Decode(b []byte) (int, error) {
	flags, hdr, n, err := header(b, TypePublish)
	if n == 0 {
		return 0, err
	}
	p.Dup = flags&0x08 != 0
	p.QoS = flags >> 1 & 0x03
	p.Retain = flags&0x01 != 0
	if p.QoS == 3 { // [MQTT-3.3.1-4]
		return 0, malformed(TypePublish, "fixed header flags", 0, "QoS 3, want 0, 1 or 2", "MQTT-3.3.1-4")
	}
	if p.Dup && p.QoS == 0 { // [MQTT-3.3.1-2]
		return 0, malformed(TypePublish, "fixed header flags", 0, "DUP 1 with QoS 0, want 0", "MQTT-3.3.1-2")
	}
	r := reader{b: b[:n], off: hdr, t: TypePublish}
	// [MQTT-3.3.2-1] present, UTF-8; [MQTT-4.7.3-2] no U+0000.
	if p.TopicName, err = r.str("topic name", "MQTT-3.3.2-1", nulTopic); err != nil {
		return 0, err
	}
	if err = checkTopicName(TypePublish, "topic name", hdr, p.TopicName, "MQTT-3.3.2-2"); err != nil {
		return 0, err
	}
	p.PacketID = 0
	if p.QoS > 0 {
		off := r.off
		if p.PacketID, err = r.u16("packet identifier"); err != nil {
			return 0, err
		}
		if p.PacketID == 0 { // [MQTT-2.3.1-1]
			return 0, zeroPacketID(TypePublish, off)
		}
	}
	p.Payload = r.b[r.off:n:n]
	return n, nil
}

// AppendPublish appends p encoded as a PUBLISH packet to dst and returns the
// extended buffer; the packet identifier is written only for QoS 1 and 2.
// It does not validate p and does not allocate when dst has room for
// PublishSize bytes. It panics if the topic is longer than 65535 bytes or the
// packet larger than MaxPacketSize.
func AppendPublish(dst []byte, p *Publish) []byte {
	return AppendPublishParts(dst, p.Dup, p.QoS, p.Retain, p.TopicName, p.PacketID, p.Payload)
}

// AppendPublishParts is AppendPublish from the packet's parts, for callers
// that have them at hand (the broker's delivery path): filling a Publish
// first would zero its MQTT 5.0 properties for nothing on every delivery.
func AppendPublishParts(dst []byte, dup bool, qos byte, retain bool, topic []byte, id uint16, payload []byte) []byte {
	rem := 2 + len(topic) + len(payload)
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
	return append(dst, payload...)
}

// PublishSize returns the size in bytes of a PUBLISH packet with QoS qos, a
// topic name of topicLen bytes and a payload of payloadLen bytes, fixed
// header included, as AppendPublish writes it.
func PublishSize(qos byte, topicLen, payloadLen int) int {
	rem := 2 + topicLen + payloadLen
	if qos > 0 {
		rem += 2
	}
	return headerSize(rem) + rem
}

// Clone returns a copy of p whose TopicName and Payload share one new
// allocation instead of the decoded buffer; non-empty Props are cloned too.
func (p *Publish) Clone() Publish {
	q := *p
	if !p.Props.Empty() || len(p.Props.Raw) > 0 {
		q.Props = p.Props.Clone()
	}
	buf := make([]byte, 0, len(p.TopicName)+len(p.Payload))
	buf = append(buf, p.TopicName...)
	buf = append(buf, p.Payload...)
	q.TopicName = buf[:len(p.TopicName):len(p.TopicName)]
	q.Payload = buf[len(p.TopicName):]
	return q
}

// Equal reports whether p and q hold the same fields, comparing bytes and
// properties (Properties.Equal).
func (p *Publish) Equal(q *Publish) bool {
	return p.Dup == q.Dup && p.QoS == q.QoS && p.Retain == q.Retain && p.PacketID == q.PacketID &&
		bytes.Equal(p.TopicName, q.TopicName) && bytes.Equal(p.Payload, q.Payload) && p.Props.Equal(&q.Props)
}

func zeroPacketID(t Type, off int) error {
	return protocol(t, "packet identifier", off, fmt.Sprintf("0 in %v, want 1 to 65535", t), "MQTT-2.3.1-1") // [MQTT-2.3.1-1]
}
