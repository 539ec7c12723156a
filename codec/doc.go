// Package codec frames, decodes and encodes MQTT 3.1.1 control packets (and
// the MQTT 3.1 CONNECT) in caller-owned byte slices. It knows nothing of
// connections. Every [MQTT-x.y.z-n] in this repository refers to the
// [MQTT 3.1.1 OASIS Standard].
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
// Goroutines: codec has no state of its own. Its functions are safe for
// concurrent use; a packet value (Publish, Subscribe, ...) belongs to one
// goroutine at a time, as does the buffer its views point into.
//
// codec imports only the standard library.
//
// [MQTT 3.1.1 OASIS Standard]: https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html
package codec
