package broker

import (
	"unicode/utf8"

	"github.com/glassmq/glassmq/codec"
)

// writePubcomp answers a PUBREL for id. A 5.0 client whose PUBREL names a
// packet identifier not awaiting release gets PUBCOMP 0x92 (Packet
// Identifier not found), which a client resuming a session after the
// broker completed the flow reads as "already done"; every other PUBREL
// gets PUBCOMP 0x00 [MQTT5-4.3.3-11], [MQTT5-3.7.2-1]. Loop-only.
func (c *Conn) writePubcomp(id uint16, found bool, before uint64) {
	var ack [8]byte
	pkt := codec.AppendPubcomp(ack[:0], id)
	if !found && c.v5&v5On != 0 {
		pkt = codec.AppendAckV5(ack[:0], codec.TypePubcomp, id, codec.ReasonPacketIdentifierNotFound, nil)
	}
	c.writeAck(pkt, before)
	c.countSent(codec.TypePubcomp, 0, len(pkt))
}

// payloadFormatOK checks the payload of a 5.0 PUBLISH whose Payload Format
// Indicator is 1 (UTF-8 text). When the payload is not valid UTF-8 the
// message is not forwarded: a QoS 1 or 2 PUBLISH is answered with PUBACK or
// PUBREC 0x99 (Payload format invalid), a QoS 0 PUBLISH, which has no
// acknowledgement to carry the reason, with DISCONNECT 0x99. It reports
// whether the PUBLISH may go on [MQTT5-3.3.2.3.2]. Loop-only.
func (c *Conn) payloadFormatOK(p *codec.Publish) bool {
	if !p.Props.Has(codec.PropPayloadFormat) || p.Props.PayloadFormat != 1 || utf8.Valid(p.Payload) {
		return true
	}
	c.ls.props5, c.ls.expires = c.ls.props5[:0], 0
	const why = "payload is not UTF-8 though its payload format indicator is 1"
	if p.QoS == 0 {
		c.fail(codec.TypePublish, &codec.Error{Type: codec.TypePublish, Field: "payload",
			Detail: why, Err: codec.ErrProtocol, Reason: codec.ReasonPayloadFormatInvalid})
		return false
	}
	t := codec.TypePuback
	if p.QoS == 2 {
		t = codec.TypePubrec // the identifier is not kept: a later PUBLISH with it is new [MQTT5-4.3.3-9]
	}
	var pkt []byte
	if c.problemAllowed(t) {
		pkt = codec.AppendAckV5(nil, t, p.PacketID, codec.ReasonPayloadFormatInvalid, []byte(why))
	}
	if max := c.peerMaxPacket(); pkt == nil || max != 0 && len(pkt) > int(max) { // [MQTT5-3.4.2-2], [MQTT5-3.5.2-2]
		pkt = codec.AppendAckV5(pkt[:0], t, p.PacketID, codec.ReasonPayloadFormatInvalid, nil)
	}
	c.writeAck(pkt, c.ls.ticket)
	c.countSent(t, 0, len(pkt))
	return false
}
