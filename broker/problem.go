package broker

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/glassmq/glassmq/codec"
)

// Reason strings tell a 5.0 client, in words, why the server refused or
// closed something [MQTT5-3.2.2.3.9]. They go on a failed CONNACK, a
// server DISCONNECT and a SUBACK with a refused filter; a client whose
// CONNECT said Request Problem Information 0 gets them on CONNACK and
// DISCONNECT only [MQTT5-3.1.2-29]. A reason string that would take a
// packet past the client's Maximum Packet Size is left out
// [MQTT5-3.2.2-19], [MQTT5-3.9.2-1], [MQTT5-3.14.2-3].

// maxReason is the longest reason string sent, in bytes: enough for a
// sentence, short enough for a small device's buffer.
const maxReason = 128

// reasonText returns a short sentence for a reason code the server sends,
// "" for success and codes it has none for.
func reasonText(rc codec.ReasonCode) string {
	switch rc {
	case codec.ReasonUnspecifiedError:
		return "unspecified error"
	case codec.ReasonMalformedPacket:
		return "malformed packet"
	case codec.ReasonProtocolError:
		return "protocol error"
	case codec.ReasonUnsupportedProtocolVersion:
		return "unsupported protocol version"
	case codec.ReasonClientIdentifierNotValid:
		return "client identifier longer than this server accepts"
	case codec.ReasonBadUserNameOrPassword:
		return "bad user name or password"
	case codec.ReasonNotAuthorized:
		return "not authorized"
	case codec.ReasonServerUnavailable:
		return "server unavailable, try again later"
	case codec.ReasonServerShuttingDown:
		return "server shutting down"
	case codec.ReasonKeepAliveTimeout:
		return "no packet within 1.5 times the keep-alive"
	case codec.ReasonSessionTakenOver:
		return "another connection took over the session"
	case codec.ReasonTopicFilterInvalid:
		return "topic filter invalid"
	case codec.ReasonReceiveMaximumExceeded:
		return "more unacknowledged QoS 2 PUBLISHes than Receive Maximum"
	case codec.ReasonTopicAliasInvalid:
		return "topic alias invalid"
	case codec.ReasonQuotaExceeded:
		return "quota exceeded"
	case codec.ReasonAdministrativeAction:
		return "disconnected by an administrator"
	case codec.ReasonPacketTooLarge:
		return "packet larger than the Maximum Packet Size"
	case codec.ReasonTopicNameInvalid:
		return "topic name invalid"
	case codec.ReasonPayloadFormatInvalid:
		return "payload is not the UTF-8 its format indicator says"
	}
	return ""
}

// problemDetail returns the reason string for closing a connection with
// err: the detail of a codec error, which names the field and rule.
func problemDetail(err error) string {
	var ce *codec.Error
	if errors.As(err, &ce) && ce.Detail != "" {
		return ce.Detail
	}
	return ""
}

// clipUTF8 cuts s to at most n bytes without splitting a character, so the
// reason string stays valid UTF-8 [MQTT5-1.5.4-1].
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// problemAllowed reports whether c may get a reason string on a packet of
// type t [MQTT5-3.1.2-29]. Loop-only.
func (c *Conn) problemAllowed(t codec.Type) bool {
	return t == codec.TypeConnack || t == codec.TypeDisconnect || c.v5&v5Quiet == 0
}

// peerMaxPacket returns the client's Maximum Packet Size, 0 for none. Before
// c.meta exists, the CONNECT being handled on this loop is c's. Loop-only.
func (c *Conn) peerMaxPacket() uint32 {
	if c.meta != nil {
		return c.meta.MaxPacketSize
	}
	if pr := &c.ls.connect.Props; c.state == stateNew && pr.Has(codec.PropMaximumPacketSize) {
		return pr.MaximumPacketSize
	}
	return 0
}

// appendWithReason appends with enc a packet of type t carrying why as its
// Reason String, or without one when why is empty, the client asked for no
// problem information, or the string would take the packet past the
// client's Maximum Packet Size. Error paths only: it allocates. Loop-only.
func (c *Conn) appendWithReason(dst []byte, t codec.Type, why string, enc func([]byte, *codec.Properties) []byte) []byte {
	if why == "" || !c.problemAllowed(t) {
		return enc(dst, nil)
	}
	var pr codec.Properties
	pr.ReasonString = []byte(clipUTF8(why, maxReason))
	pr.Set(codec.PropReasonString)
	n := len(dst)
	dst = enc(dst, &pr)
	if max := c.peerMaxPacket(); max != 0 && len(dst)-n > int(max) {
		dst = enc(dst[:n], nil) // too large with it: left out
	}
	return dst
}

// subackReason returns the reason string of a SUBACK with codes: which
// filter was refused first and why, "" when none was. Loop-only.
func subackReason(codes []byte) string {
	for i, rc := range codes {
		if rc >= 0x80 {
			return fmt.Sprintf("filter %d of %d refused: %s", i+1, len(codes), reasonText(codec.ReasonCode(rc)))
		}
	}
	return ""
}

// appendSubackV5 appends a 5.0 SUBACK for packet id with codes, and a
// reason string when a filter was refused. Loop-only.
func (c *Conn) appendSubackV5(dst []byte, id uint16, codes []byte) []byte {
	why := subackReason(codes)
	if why == "" {
		return codec.AppendSubackV5(dst, id, codes, nil)
	}
	return c.appendWithReason(dst, codec.TypeSuback, why, func(dst []byte, pr *codec.Properties) []byte {
		return codec.AppendSubackV5(dst, id, codes, pr)
	})
}

// refusePublish answers a 5.0 client's QoS 1/2 PUBLISH p that the broker
// will not deliver (a $-topic, which belongs to the server, or an ACL
// denial) with PUBACK or PUBREC 0x87 Not authorized and a reason string
// [MQTT5-3.4.2.1], [MQTT5-3.5.2.1], instead of the success a 3.1.1 client
// gets. After a PUBREC of 0x80 or more the packet identifier is free: a
// later PUBLISH with it is a new message, and no PUBREL is awaited
// [MQTT5-4.3.3-9]. Error path: it allocates. Loop-only.
func (c *Conn) refusePublish(p *codec.Publish, before uint64) {
	t := codec.TypePuback
	if p.QoS == 2 {
		t = codec.TypePubrec
		c.ls.noteTicket(c.sess.Release(p.PacketID))
	}
	why := "not authorized to publish to this topic"
	if len(p.TopicName) > 0 && p.TopicName[0] == '$' {
		why = "topics starting with $ belong to the server"
	}
	var pkt []byte
	if c.problemAllowed(t) {
		pkt = codec.AppendAckV5(nil, t, p.PacketID, codec.ReasonNotAuthorized, []byte(why))
	}
	if max := c.peerMaxPacket(); pkt == nil || max != 0 && len(pkt) > int(max) { // [MQTT5-3.4.2-2], [MQTT5-3.5.2-2]
		pkt = codec.AppendAckV5(pkt[:0], t, p.PacketID, codec.ReasonNotAuthorized, nil)
	}
	c.writeAck(pkt, before)
	c.countSent(t, 0, len(pkt))
}
