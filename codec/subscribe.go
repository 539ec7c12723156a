package codec

import (
	"fmt"
	"slices"
)

// subscribeFlags are the fixed-header flags of SUBSCRIBE [MQTT-3.8.1-1] and
// UNSUBSCRIBE [MQTT-3.10.1-1].
const subscribeFlags = 0x02

// Subscription is one topic filter of a SUBSCRIBE and its requested QoS.
type Subscription struct {
	TopicFilter []byte // not empty, well-formed UTF-8; its syntax is unchecked
	QoS         byte   // 0, 1 or 2
	// The other subscription options are MQTT 5.0 only [MQTT5-3.8.3.1]:
	// false and 0 at level 4.
	NoLocal           bool // never deliver the subscriber's own messages
	RetainAsPublished bool // keep the RETAIN flag of forwarded messages
	RetainHandling    byte // 0 send retained, 1 only for a new subscription, 2 never
}

// Subscribe is a SUBSCRIBE packet [MQTT-3.8]. After Decode the topic filters
// are views into the decoded buffer, valid as long as that buffer; copy those
// that are stored.
type Subscribe struct {
	PacketID uint16         // non-zero
	Filters  []Subscription // at least one after Decode
	Props    Properties     // MQTT 5.0 only: DecodeV fills it at level 5
}

// Decode decodes the SUBSCRIBE packet at the start of b, truncating p.Filters
// and appending to it, so a reused Subscribe stops allocating once Filters has
// grown. It returns the size of the packet, 0 and a nil error if b does not
// yet hold all of it, or an *Error wrapping ErrMalformed (flags, lengths, bad
// UTF-8 or U+0000, a requested QoS of 3 or reserved bits) or ErrProtocol
// (packet identifier 0, no filters, an empty filter).
//
// Decode does not judge the syntax of a filter ("a/#/b", "sport+"): the broker
// answers SUBACK 0x80 for that one filter, using ValidTopicFilter.
func (p *Subscribe) Decode(b []byte) (int, error) {
	flags, hdr, n, err := header(b, TypeSubscribe)
	if n == 0 {
		return 0, err
	}
	if flags != subscribeFlags { // [MQTT-3.8.1-1]
		return 0, badFlags(TypeSubscribe, flags, subscribeFlags, "MQTT-3.8.1-1")
	}
	p.Filters = p.Filters[:0]
	r := reader{b: b[:n], off: hdr, t: TypeSubscribe}
	if p.PacketID, err = r.u16("packet identifier"); err != nil {
		return 0, err
	}
	if p.PacketID == 0 { // [MQTT-2.3.1-1]
		return 0, zeroPacketID(TypeSubscribe, hdr)
	}
	if r.left() == 0 { // [MQTT-3.8.3-3]
		return 0, protocol(TypeSubscribe, "payload", r.off, "no topic filter, want at least one", "MQTT-3.8.3-3")
	}
	for r.left() > 0 {
		off := r.off
		// [MQTT-3.8.3-1] UTF-8; [MQTT-4.7.3-2] no U+0000.
		f, err := r.str("topic filter", "", nulTopic)
		if err != nil {
			return 0, err
		}
		if err = checkTopicFilter(TypeSubscribe, off, f); err != nil {
			return 0, err
		}
		qosOff := r.off
		qos, err := r.u8("requested QoS")
		if err != nil {
			return 0, err
		}
		if qos > 2 { // [MQTT-3.8.3-4] QoS 3 or reserved bits 7-2
			return 0, malformed(TypeSubscribe, "requested QoS", qosOff,
				fmt.Sprintf("byte %#02x for %s, want 0, 1 or 2", qos, quote(f)), "MQTT-3.8.3-4")
		}
		p.Filters = append(p.Filters, Subscription{TopicFilter: f, QoS: qos})
	}
	return n, nil
}

// AppendSubscribe appends a SUBSCRIBE with packet identifier id and filters to
// dst. It does not validate them, and panics if a filter is longer than 65535
// bytes or the packet larger than MaxPacketSize.
func AppendSubscribe(dst []byte, id uint16, filters []Subscription) []byte {
	rem := 2
	for _, s := range filters {
		rem += 2 + len(s.TopicFilter) + 1
	}
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, byte(TypeSubscribe)<<4|subscribeFlags, rem)
	dst = appendUint16(dst, id)
	for _, s := range filters {
		dst = appendString(dst, s.TopicFilter)
		dst = append(dst, s.QoS)
	}
	return dst
}
