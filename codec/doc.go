// Package codec frames, decodes and encodes MQTT 5.0 and MQTT 3.1.1 control
// packets (and the MQTT 3.1 CONNECT) in caller-owned byte slices. It knows
// nothing of connections. Every [MQTT-x.y.z-n] in this repository refers to
// the [MQTT 3.1.1 OASIS Standard]; every [MQTT5-x.y.z-n] to the numbered
// statement of the [MQTT 5.0 OASIS Standard], whose numbers differ, and
// [MQTT5-x.y.z] to a section of it where the requirement has no number (the
// property table is [MQTT5-2.2.2.2]).
//
// A connection's read loop calls Frame on the bytes buffered so far: n == 0
// means wait for more, n > 0 means buf[:n] is one whole packet, to be decoded
// by the Decode method of the type PacketType names (DecodeEmpty for PINGREQ,
// PINGRESP and DISCONNECT). Decoders enforce the packet format the standard
// requires of a receiver, and return views into the buffer, valid until the
// caller reuses it: copy what must outlive it (Publish.Clone). Encoders
// append to a caller's buffer, like strconv.AppendInt. Framing, decoding,
// encoding PUBLISH and acknowledgements, and topic matching do not allocate.
//
// Every error is an *Error naming the packet, field, byte offset and rule; it
// unwraps to ErrMalformed or ErrProtocol, and means "close the connection"
// [MQTT-4.8.0-1], after a CONNACK 0x01 for Rule "MQTT-3.1.2-2". Checks the
// standard leaves to the server's policy (client ID length, topic filter
// syntax answered with SUBACK 0x80, '$' topics, authorisation) are the
// broker's.
//
// MQTT 5.0: the protocol level decides the rules, and the CONNECT carries it.
// A server decodes the CONNECT with Connect.DecodeV(b, 5), which takes levels
// 3, 4 and 5, then frames that connection with FrameV(buf, max, level) (type
// 15 is AUTH at level 5) and decodes each packet with the DecodeV(b, level)
// method of its type (DecodeEmptyV for PINGREQ, Disconnect.DecodeV, Auth.Decode,
// Unsuback.DecodeV); below level 5 each DecodeV is the 3.1.1 Decode, as fast
// and unchanged. At level 5 packets carry Properties (Props fields): typed
// fields, presence bits, views into the buffer, and Raw, the property bytes
// as received. Decoders enforce where each property may appear, single-valued
// ones at most once, value ranges and UTF-8. Acknowledgements and DISCONNECT
// carry a ReasonCode. Encoders append: AppendPublishV5, AppendConnackV5,
// AppendAckV5, AppendSubackV5, AppendUnsubackV5, AppendDisconnectV5,
// AppendAuth, AppendConnect at level 5; AppendPublishForward writes a
// delivery from property bytes encoded once per message (AppendPropsWithout)
// plus the per-delivery topic alias, message expiry and subscription
// identifiers (Forward). Errors of level 5 packets cite 5.0 rules and carry
// the reason code to send (Error.Reason, ReasonFor).
//
// Goroutines: codec has no state of its own. Its functions are safe for
// concurrent use; a packet value (Publish, Subscribe, ...) belongs to one
// goroutine at a time, as does the buffer its views point into.
//
// codec imports only the standard library.
//
// [MQTT 3.1.1 OASIS Standard]: https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html
// [MQTT 5.0 OASIS Standard]: https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html
package codec
