package session

import (
	"encoding/binary"

	"github.com/glassmq/glassmq/codec"
)

// MaxConnectUserProps bounds the user properties of a CONNECT kept for the
// admin API: their records, each a name and a value with two length bytes
// apiece, in bytes. A client sending more keeps the first ones that fit.
const MaxConnectUserProps = 1024

// ConnV5 is what a 5.0 client said in its CONNECT beyond ConnMeta's fields,
// kept only to show it: nothing in the broker reads it per message. It is
// built once at CONNECT (NewConnV5) and immutable; ConnMeta.V5 is nil for
// 3.1.1 and 3.1 clients, so they pay one pointer.
type ConnV5 struct {
	TopicAliasMax uint16 // the client's Topic Alias Maximum [MQTT5-3.1.2.11.5]; 0: none
	cut           bool   // user properties past MaxConnectUserProps were left out
	AuthMethod    string // Authentication Method [MQTT5-3.1.2.11.9], "" for none
	// userProps holds the kept user properties in one string, each as a
	// two-byte big-endian length and the name, then the same for the value.
	userProps string
}

// NewConnV5 copies from the decoded CONNECT properties p what ConnV5
// keeps: one allocation for the user properties, however many. Loop-only
// (p is a view into the loop's input).
func NewConnV5(p *codec.Properties) *ConnV5 {
	v := &ConnV5{}
	if p.Has(codec.PropTopicAliasMaximum) {
		v.TopicAliasMax = p.TopicAliasMaximum
	}
	if p.Has(codec.PropAuthMethod) {
		v.AuthMethod = string(p.AuthMethod)
	}
	size := 0
	kept := 0
	for _, u := range p.User {
		n := 4 + len(u.Key) + len(u.Value)
		if size+n > MaxConnectUserProps {
			v.cut = true
			break
		}
		size += n
		kept++
	}
	if kept > 0 {
		b := make([]byte, 0, size)
		for _, u := range p.User[:kept] {
			b = binary.BigEndian.AppendUint16(b, uint16(len(u.Key)))
			b = append(b, u.Key...)
			b = binary.BigEndian.AppendUint16(b, uint16(len(u.Value)))
			b = append(b, u.Value...)
		}
		v.userProps = string(b)
	}
	return v
}

// UserProperty is one user property of a CONNECT, as the admin API shows it.
type UserProperty struct {
	Name, Value string
}

// UserProperties appends the kept user properties to dst in the order the
// client sent them and returns it. Safe for concurrent use.
func (v *ConnV5) UserProperties(dst []UserProperty) []UserProperty {
	s := v.userProps
	for len(s) >= 2 {
		n := int(s[0])<<8 | int(s[1])
		name := s[2 : 2+n]
		s = s[2+n:]
		n = int(s[0])<<8 | int(s[1])
		dst = append(dst, UserProperty{Name: name, Value: s[2 : 2+n]})
		s = s[2+n:]
	}
	return dst
}

// info fills dst's 5.0 fields from v and the connection's m.
func (v *ConnV5) info(m *ConnMeta, dst *Info) {
	dst.ReceiveMaximum = int(m.ReceiveMaximum)
	dst.MaxPacketSize = int(m.MaxPacketSize)
	dst.TopicAliasMax = int(v.TopicAliasMax)
	dst.AuthMethod = v.AuthMethod
	dst.UserProperties = v.UserProperties(dst.UserProperties[:0])
	dst.UserPropsCut = v.cut
}

// Sender says who sent the DISCONNECT that ended a 5.0 connection.
type Sender uint8

// Senders of a DISCONNECT.
const (
	SentByNobody Sender = iota // no DISCONNECT with a reason code: 3.1.1, or the network ended it
	SentByClient
	SentByServer
)

// String returns "client", "server" or "" for SentByNobody.
func (s Sender) String() string {
	switch s {
	case SentByClient:
		return "client"
	case SentByServer:
		return "server"
	}
	return ""
}

// DisconnectCode is the MQTT 5.0 DISCONNECT that ended a connection: who
// sent it and its reason code [MQTT5-3.14.2.1]. The zero value means none
// was exchanged.
type DisconnectCode struct {
	By   Sender
	Code codec.ReasonCode
}

// Name returns the standard's name of the code as a DISCONNECT carries it
// ("Normal disconnection" for 0x00), "" for the zero DisconnectCode.
func (d DisconnectCode) Name() string {
	switch {
	case d.By == SentByNobody:
		return ""
	case d.Code == codec.ReasonNormalDisconnection:
		return "Normal disconnection"
	}
	return d.Code.String()
}

// takenOverCode returns the DISCONNECT a connection described by m gets
// when another CONNECT takes its session over: 0x8E from the server for a
// 5.0 client [MQTT5-3.1.4-3], none for the others.
func takenOverCode(m *ConnMeta) DisconnectCode {
	if m != nil && m.ProtocolVersion == codec.ProtocolLevel5 {
		return DisconnectCode{By: SentByServer, Code: codec.ReasonSessionTakenOver}
	}
	return DisconnectCode{}
}
