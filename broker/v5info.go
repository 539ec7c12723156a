package broker

import (
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// What the admin API shows of a 5.0 connection beyond 3.1.1's fields is
// captured at two moments only, off the per-message path: CONNECT, whose
// properties go into ConnMeta.V5 (session.NewConnV5), and the close, whose
// DISCONNECT (who sent it, its reason code) goes into the session's last
// disconnect through loopState.closeCode. closeCode is set just before the
// connection closes (by the client's DISCONNECT, or by serverDisconnect)
// and cleared by closeWith, which reads it through detach; a loop closes
// one connection at a time, so one field per loop serves them all.

// serverDisconnect sends a 5.0 client the server DISCONNECT rc (with the
// reason string why, when the client allows one) before the
// connection closes [MQTT5-4.13.1-1] and notes it for the session's
// introspection; it does nothing on a 3.1.1 connection or one not yet
// connected, which get no DISCONNECT. Loop-only.
func (c *Conn) serverDisconnect(rc codec.ReasonCode, why string) {
	if c.v5&v5On != 0 && c.state == stateConnected {
		c.ls.closeCode = session.DisconnectCode{By: session.SentByServer, Code: rc}
	}
	c.disconnectV5(rc, why)
}

// clientDisconnectCode returns the reason code of the client's 5.0
// DISCONNECT frame: the byte after the remaining length, or 0x00 (Normal
// disconnection) when the remaining length is 0 [MQTT5-3.14.2.1]. The frame
// is whole (Frame accepted it); a malformed one is refused by its decoder,
// whose server DISCONNECT then replaces this code.
func clientDisconnectCode(frame []byte) session.DisconnectCode {
	i := 1
	for i < len(frame) && i < 5 && frame[i]&0x80 != 0 { // remaining length [MQTT5-1.5.5]
		i++
	}
	i++
	rc := codec.ReasonNormalDisconnection
	if i < len(frame) {
		rc = codec.ReasonCode(frame[i])
	}
	return session.DisconnectCode{By: session.SentByClient, Code: rc}
}
