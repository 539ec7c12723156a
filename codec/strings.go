package codec

import (
	"fmt"
	"unicode/utf8"
)

// Rules cited for a U+0000 in a string: in general, and in topic names and
// topic filters.
const (
	nulString = "MQTT-1.5.3-2"
	nulTopic  = "MQTT-4.7.3-2"
)

// reader walks the variable header and payload of one framed packet, b[:n].
// Every value it returns is a view into b whose capacity ends with the value,
// so appending to one cannot overwrite the packet.
type reader struct {
	b   []byte // the whole packet, fixed header included
	off int    // next byte to read
	t   Type   // for errors
}

func (r *reader) left() int { return len(r.b) - r.off }

// u8 reads one byte.
func (r *reader) u8(field string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.short(field, r.off, 1)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// u16 reads a big-endian two-byte integer [MQTT-1.5.2].
func (r *reader) u16(field string) (uint16, error) {
	if r.left() < 2 {
		return 0, r.short(field, r.off, 2)
	}
	v := uint16(r.b[r.off])<<8 | uint16(r.b[r.off+1])
	r.off += 2
	return v, nil
}

// binary reads a field of two length bytes and that many bytes of data
// [MQTT-1.5.3]. When the packet ends right where the field should start it
// cites missingRule if that is not empty (the rule that says the field must
// be present); a length running past the end is always [MQTT-2.2.3].
func (r *reader) binary(field, missingRule string) ([]byte, error) {
	start := r.off
	if start == len(r.b) && missingRule != "" {
		return nil, malformed(r.t, field, start, "missing, want it present", missingRule)
	}
	if r.left() < 2 {
		return nil, r.short(field, start, 2)
	}
	n := int(r.b[start])<<8 | int(r.b[start+1])
	if r.left()-2 < n {
		return nil, r.short(field, start, 2+n)
	}
	end := start + 2 + n
	r.off = end
	return r.b[start+2 : end : end], nil
}

// str reads a UTF-8 encoded string [MQTT-1.5.3]: binary, then well-formed
// UTF-8 [MQTT-1.5.3-1] without U+0000 (nulRule). The Error's Offset is the
// start of the field.
func (r *reader) str(field, missingRule, nulRule string) ([]byte, error) {
	start := r.off
	s, err := r.binary(field, missingRule)
	if err != nil {
		return nil, err
	}
	if i := checkUTF8(s); i >= 0 {
		return nil, badUTF8(r.t, field, start, s, i, nulRule)
	}
	return s, nil
}

// short reports a field of want bytes at off running past the end of the
// packet: the remaining length disagrees with the content.
func (r *reader) short(field string, off, want int) error {
	return malformed(r.t, field, off,
		fmt.Sprintf("needs %s, packet has %d left", bytesCount(want), len(r.b)-off), ruleRemaining) // [MQTT-2.2.3]
}

// end reports bytes after the last field, as the field named when rule, the
// one that says that field must be absent, is not empty, else as [MQTT-2.2.3].
func (r *reader) end(field, rule string) error {
	if r.off == len(r.b) {
		return nil
	}
	if rule == "" {
		field, rule = "payload", ruleRemaining
	}
	return malformed(r.t, field, r.off,
		fmt.Sprintf("%s after the last field, want none", bytesCount(len(r.b)-r.off)), rule)
}

// checkUTF8 returns the index in s of the first byte that starts ill-formed
// UTF-8 (overlong forms, surrogates U+D800..U+DFFF, beyond U+10FFFF) or
// encodes U+0000, or -1 if there is none. A byte order mark is kept as it is
// [MQTT-1.5.3-3].
func checkUTF8(s []byte) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// badUTF8 reports the byte at s[i], which checkUTF8 found.
func badUTF8(t Type, field string, off int, s []byte, i int, nulRule string) error {
	if s[i] == 0 {
		return malformed(t, field, off, fmt.Sprintf("U+0000 at string byte %d in %s", i, quote(s)), nulRule)
	}
	return malformed(t, field, off,
		fmt.Sprintf("ill-formed UTF-8 at string byte %d in %s", i, quote(s)), "MQTT-1.5.3-1") // [MQTT-1.5.3-1]
}

// appendString appends a two-byte length and s. It panics if s is longer than
// 65535 bytes, a broken invariant of the caller.
func appendString(dst, s []byte) []byte {
	if len(s) > 0xffff {
		panic(fmt.Sprintf("codec: string of %d bytes, want at most 65535", len(s)))
	}
	dst = append(dst, byte(len(s)>>8), byte(len(s)))
	return append(dst, s...)
}

func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

// bytesCount renders "1 byte" or "n bytes".
func bytesCount(n int) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// u32 reads a big-endian four-byte integer [MQTT5-1.5.3].
func (r *reader) u32(field string) (uint32, error) {
	if r.left() < 4 {
		return 0, r.short(field, r.off, 4)
	}
	b := r.b[r.off:]
	r.off += 4
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// varInt reads a variable byte integer of at most 4 bytes [MQTT5-1.5.5]. A
// longer one is malformed; a non-minimal one is accepted, as Frame accepts
// it in the remaining length.
func (r *reader) varInt(field string) (int, error) {
	v, size, ok := varIntAt(r.b[r.off:])
	if !ok {
		if r.left() >= 4 {
			return 0, malformed(r.t, field, r.off, "continuation bit set in byte 4, want at most 4 bytes", "MQTT5-1.5.5")
		}
		return 0, r.short(field, r.off, r.left()+1)
	}
	r.off += size
	return v, nil
}
