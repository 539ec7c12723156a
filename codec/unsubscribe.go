package codec

import "slices"

// Unsubscribe is an UNSUBSCRIBE packet [MQTT-3.10]. After Decode the topic
// filters are views into the decoded buffer, valid as long as that buffer.
type Unsubscribe struct {
	PacketID     uint16     // non-zero
	TopicFilters [][]byte   // at least one after Decode; not empty, well-formed UTF-8
	Props        Properties // MQTT 5.0 only: DecodeV fills it at level 5
}

// Decode decodes the UNSUBSCRIBE packet at the start of b, truncating
// p.TopicFilters and appending to it, so a reused Unsubscribe stops
// allocating once it has grown. It returns the size of the packet, 0 and a
// nil error if b does not yet hold all of it, or an *Error wrapping
// ErrMalformed (flags, lengths, bad UTF-8 or U+0000) or ErrProtocol (packet
// identifier 0, no filters, an empty filter). Like Subscribe.Decode, it leaves
// the syntax of each filter to the broker.
func (p *Unsubscribe) Decode(b []byte) (int, error) {
	flags, hdr, n, err := header(b, TypeUnsubscribe)
	if n == 0 {
		return 0, err
	}
	if flags != subscribeFlags { // [MQTT-3.10.1-1]
		return 0, badFlags(TypeUnsubscribe, flags, subscribeFlags, "MQTT-3.10.1-1")
	}
	p.TopicFilters = p.TopicFilters[:0]
	r := reader{b: b[:n], off: hdr, t: TypeUnsubscribe}
	if p.PacketID, err = r.u16("packet identifier"); err != nil {
		return 0, err
	}
	if p.PacketID == 0 { // [MQTT-2.3.1-1]
		return 0, zeroPacketID(TypeUnsubscribe, hdr)
	}
	if r.left() == 0 { // [MQTT-3.10.3-2]
		return 0, protocol(TypeUnsubscribe, "payload", r.off, "no topic filter, want at least one", "MQTT-3.10.3-2")
	}
	for r.left() > 0 {
		off := r.off
		// [MQTT-3.10.3-1] UTF-8; [MQTT-4.7.3-2] no U+0000.
		f, err := r.str("topic filter", "", nulTopic)
		if err != nil {
			return 0, err
		}
		if err = checkTopicFilter(TypeUnsubscribe, off, f); err != nil {
			return 0, err
		}
		p.TopicFilters = append(p.TopicFilters, f)
	}
	return n, nil
}

// AppendUnsubscribe appends an UNSUBSCRIBE with packet identifier id and
// filters to dst. It does not validate them, and panics if a filter is longer
// than 65535 bytes or the packet larger than MaxPacketSize.
func AppendUnsubscribe(dst []byte, id uint16, filters [][]byte) []byte {
	rem := 2
	for _, f := range filters {
		rem += 2 + len(f)
	}
	dst = slices.Grow(dst, headerSize(rem)+rem)
	dst = appendHeader(dst, byte(TypeUnsubscribe)<<4|subscribeFlags, rem)
	dst = appendUint16(dst, id)
	for _, f := range filters {
		dst = appendString(dst, f)
	}
	return dst
}
