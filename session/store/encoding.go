package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/glassmq/glassmq/session"
)

// Bucket names and the record format version.
var (
	bucketSessions = []byte("sessions") // client ID -> record
	bucketMessages = []byte("messages") // client ID 0x00 seq(8) -> message
	bucketRel      = []byte("rel")      // client ID 0x00 packet ID(2) -> empty
	bucketRetained = []byte("retained") // topic -> message
	bucketMeta     = []byte("meta")     // "version" -> formatVersion
)

// formatVersion is the version of the file and of the records written
// now. Version 1 records (before MQTT 5.0) are still read: version 2 adds
// the user name and subscription options to a session record, and the
// expiry and 5.0 properties to a message.
const formatVersion = 2

var errShort = errors.New("record too short")

// Client IDs never contain U+0000 [MQTT-1.5.3-2], so a 0x00 separator keeps
// one session's keys together and in order.
func msgKey(dst []byte, clientID string, seq uint64) []byte {
	dst = append(dst[:0], clientID...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func relKey(dst []byte, clientID string, id uint16) []byte {
	dst = append(dst[:0], clientID...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint16(dst, id)
}

func prefix(clientID string) []byte { return append([]byte(clientID), 0) }

func encodeRecord(dst []byte, r *session.Record) []byte {
	dst = append(dst[:0], formatVersion)
	for _, v := range []int64{r.CreateTime, r.ConnectTime, r.DisconnectTime, r.Expiry} {
		dst = binary.BigEndian.AppendUint64(dst, uint64(v))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.Subscriptions)))
	for _, s := range r.Subscriptions {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s.TopicFilter)))
		dst = append(dst, s.TopicFilter...)
		dst = append(dst, s.QoS, subFlags(s))
		dst = binary.BigEndian.AppendUint32(dst, s.ID)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Username)))
	return append(dst, r.Username...)
}

// subFlags packs a subscription's 5.0 options: bit 0 No Local, bit 1 Retain
// As Published, bits 2-3 Retain Handling.
func subFlags(s session.Subscription) byte {
	var f byte
	if s.NoLocal {
		f |= 1
	}
	if s.RetainAsPublished {
		f |= 2
	}
	return f | (s.RetainHandling&3)<<2
}

func decodeRecord(clientID string, b []byte) (session.Record, error) {
	r := session.Record{ClientID: clientID}
	if len(b) < 1+32+4 || b[0] < 1 || b[0] > formatVersion {
		return r, fmt.Errorf("session record: %w or unknown version", errShort)
	}
	ver := b[0]
	v := func(i int) int64 { return int64(binary.BigEndian.Uint64(b[1+8*i:])) }
	r.CreateTime, r.ConnectTime, r.DisconnectTime, r.Expiry = v(0), v(1), v(2), v(3)
	n := int(binary.BigEndian.Uint32(b[33:]))
	b = b[37:]
	extra := 0 // bytes after a subscription's QoS: flags and identifier in version 2
	if ver >= 2 {
		extra = 5
	}
	for i := 0; i < n; i++ {
		if len(b) < 2 {
			return r, fmt.Errorf("subscription %d: %w", i, errShort)
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l+1+extra {
			return r, fmt.Errorf("subscription %d: %w", i, errShort)
		}
		s := session.Subscription{TopicFilter: string(b[2 : 2+l]), QoS: b[2+l]}
		if ver >= 2 {
			f := b[3+l]
			s.NoLocal, s.RetainAsPublished, s.RetainHandling = f&1 != 0, f&2 != 0, (f>>2)&3
			s.ID = binary.BigEndian.Uint32(b[4+l:])
		}
		r.Subscriptions = append(r.Subscriptions, s)
		b = b[3+l+extra:]
	}
	if ver >= 2 {
		if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
			return r, fmt.Errorf("user name: %w", errShort)
		}
		r.Username = string(b[2 : 2+int(binary.BigEndian.Uint16(b))])
	}
	return r, nil
}

const (
	flagRetain   = 1 << 0
	flagReleased = 1 << 1
)

// message layout (version 2): version, qos, flags, packet ID(2), topic
// length(2), topic, expires(8), properties length(4), properties, payload.
// Version 1 has neither expires nor properties.
func encodeMessage(dst []byte, m *session.Message, qos byte, retain, released bool, id uint16) []byte {
	var flags byte
	if retain {
		flags |= flagRetain
	}
	if released {
		flags |= flagReleased
	}
	dst = append(dst[:0], formatVersion, qos, flags)
	dst = binary.BigEndian.AppendUint16(dst, id)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Topic)))
	dst = append(dst, m.Topic...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Expires))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.Props)))
	dst = append(dst, m.Props...)
	return append(dst, m.Payload...)
}

func decodeMessage(b []byte) (sm session.StoredMessage, err error) {
	if len(b) < 7 || b[0] < 1 || b[0] > formatVersion {
		return sm, fmt.Errorf("message: %w or unknown version", errShort)
	}
	tl := int(binary.BigEndian.Uint16(b[5:]))
	if len(b) < 7+tl {
		return sm, fmt.Errorf("message topic: %w", errShort)
	}
	sm.QoS, sm.Retain, sm.Released = b[1], b[2]&flagRetain != 0, b[2]&flagReleased != 0
	sm.PacketID = binary.BigEndian.Uint16(b[3:])
	topic, rest := b[7:7+tl], b[7+tl:]
	if b[0] == 1 {
		sm.Msg = session.NewMessage(topic, rest, sm.QoS, sm.Retain)
		return sm, nil
	}
	if len(rest) < 12 {
		return sm, fmt.Errorf("message expiry: %w", errShort)
	}
	expires := int64(binary.BigEndian.Uint64(rest))
	pl := int(binary.BigEndian.Uint32(rest[8:]))
	if len(rest) < 12+pl {
		return sm, fmt.Errorf("message properties: %w", errShort)
	}
	sm.Msg = session.NewMessageProps(topic, rest[12+pl:], rest[12:12+pl], sm.QoS, sm.Retain, expires)
	return sm, nil
}
