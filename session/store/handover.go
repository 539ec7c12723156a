package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/glassmq/glassmq/session"
)

// A session handed from one broker of a cluster to another travels in the
// store's own record and message formats, framed:
//
//	client ID length(2) client ID
//	record length(4) record
//	message count(4), each: seq(8) length(4) message
//	rel count(2), each: packet ID(2)
//
// so a format change reaches disk and wire together, and each part is
// checked by the same decoder that checks the file.

// EncodeSession appends r to dst in the hand-over format and returns the
// extended slice.
func EncodeSession(dst []byte, r *session.Restored) []byte {
	var scratch []byte
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Record.ClientID)))
	dst = append(dst, r.Record.ClientID...)
	scratch = encodeRecord(scratch, &r.Record)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(scratch)))
	dst = append(dst, scratch...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.Messages)))
	for i := range r.Messages {
		m := &r.Messages[i]
		scratch = encodeMessage(scratch, m.Msg, m.QoS, m.Retain, m.Released, m.PacketID)
		dst = binary.BigEndian.AppendUint64(dst, m.Seq)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(scratch)))
		dst = append(dst, scratch...)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Rel)))
	for _, id := range r.Rel {
		dst = binary.BigEndian.AppendUint16(dst, id)
	}
	return dst
}

// ErrHandover says a handed-over session did not decode.
var ErrHandover = errors.New("store: bad hand-over session")

// DecodeSession decodes what EncodeSession wrote. The result shares no
// memory with b. Errors wrap ErrHandover.
func DecodeSession(b []byte) (r session.Restored, err error) {
	bad := func(what string, err error) (session.Restored, error) {
		if err == nil {
			err = errShort
		}
		return session.Restored{}, fmt.Errorf("%w: %s: %w", ErrHandover, what, err)
	}
	if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
		return bad("client ID", nil)
	}
	n := int(binary.BigEndian.Uint16(b))
	id := string(b[2 : 2+n])
	b = b[2+n:]
	if len(b) < 4 || uint64(len(b)) < 4+uint64(binary.BigEndian.Uint32(b)) {
		return bad("record", nil)
	}
	n = int(binary.BigEndian.Uint32(b))
	if r.Record, err = decodeRecord(id, b[4:4+n]); err != nil {
		return bad("record", err)
	}
	b = b[4+n:]
	if len(b) < 4 {
		return bad("message count", nil)
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	for i := uint32(0); i < count; i++ {
		if len(b) < 12 || uint64(len(b)) < 12+uint64(binary.BigEndian.Uint32(b[8:])) {
			return bad(fmt.Sprintf("message %d", i), nil)
		}
		seq, l := binary.BigEndian.Uint64(b), int(binary.BigEndian.Uint32(b[8:]))
		sm, err := decodeMessage(b[12 : 12+l])
		if err != nil {
			return bad(fmt.Sprintf("message %d", i), err)
		}
		sm.Seq = seq
		r.Messages = append(r.Messages, sm)
		b = b[12+l:]
	}
	if len(b) < 2 || len(b) != 2+2*int(binary.BigEndian.Uint16(b)) {
		return bad("QoS 2 packet IDs", nil)
	}
	for i := 2; i < len(b); i += 2 {
		r.Rel = append(r.Rel, binary.BigEndian.Uint16(b[i:]))
	}
	return r, nil
}
