package codec

import "fmt"

// Protocol limits [MQTT-2.2.3].
const (
	// MaxRemainingLength is the largest remaining length a 4-byte variable
	// length integer can carry.
	MaxRemainingLength = 268_435_455
	// MaxPacketSize is the size of the largest packet: a fixed header of 5
	// bytes and MaxRemainingLength bytes.
	MaxPacketSize = 1 + 4 + MaxRemainingLength
)

// PacketType returns the type of the packet starting at b[0]; b must not be
// empty. It does not check the type: Frame rejects the reserved ones.
func PacketType(b []byte) Type { return Type(b[0] >> 4) }

// Frame finds the first packet in buf, the bytes buffered so far from a
// connection, which start at a fixed header. It returns n == 0, err == nil
// when buf does not yet hold the whole packet, n > 0 when buf[:n] is one whole
// packet, and an *Error when the frame is bad whatever follows: a reserved
// packet type [MQTT-2.2.1], a remaining length longer than 4 bytes
// [MQTT-2.2.3], or a packet larger than maxSize bytes, fixed header included
// (ErrTooLarge). maxSize <= 0 means MaxPacketSize. Frame reads at most the
// first 5 bytes of buf and does not allocate; it does not look at the flags or
// the content, which the decoders check.
func Frame(buf []byte, maxSize int) (n int, err error) { return frame(buf, maxSize, false) }

// frame is Frame, accepting type 15 (AUTH) when auth is true.
func frame(buf []byte, maxSize int, auth bool) (n int, err error) {
	if len(buf) == 0 {
		return 0, nil
	}
	t := PacketType(buf)
	if t == TypeReserved || (t == TypeReserved15 && !auth) {
		return 0, reservedType(t)
	}
	rem, hdr, err := remainingLength(buf)
	if hdr == 0 {
		return 0, err
	}
	n = hdr + rem
	if maxSize > 0 && n > maxSize {
		return 0, tooLarge(t, n, maxSize)
	}
	if n > len(buf) {
		return 0, nil
	}
	return n, nil
}

// remainingLength decodes the variable length integer at buf[1:]. It returns
// the remaining length and the size of the fixed header, hdr == 0 with a nil
// error when buf ends inside the integer, and an *Error for a fifth byte.
func remainingLength(buf []byte) (rem, hdr int, err error) {
	for i := 1; i <= 4; i++ {
		if i >= len(buf) {
			return 0, 0, nil
		}
		c := buf[i]
		rem |= int(c&0x7f) << (7 * (i - 1))
		if c&0x80 == 0 {
			return rem, i + 1, nil
		}
	}
	// The fourth byte has its continuation bit set.
	return 0, 0, malformed(PacketType(buf), "remaining length", 1,
		"continuation bit set in byte 4, want at most 4 bytes", ruleRemaining) // [MQTT-2.2.3]
}

// header frames the packet at b, which must be of type t, and returns its
// fixed-header flags, the size of the fixed header and the size of the packet.
// n == 0 with a nil error means b does not yet hold the whole packet.
func header(b []byte, t Type) (flags byte, hdr, n int, err error) {
	n, err = Frame(b, 0)
	if n == 0 {
		return 0, 0, 0, err
	}
	if got := PacketType(b); got != t {
		return 0, 0, 0, wrongType(got, t)
	}
	_, hdr, _ = remainingLength(b)
	return b[0] & 0x0f, hdr, n, nil
}

// appendHeader appends a fixed header: the first byte and the remaining length.
// It panics if rem is more than MaxRemainingLength, a broken invariant of the
// caller.
func appendHeader(dst []byte, first byte, rem int) []byte {
	if rem < 0 || rem > MaxRemainingLength {
		panic(fmt.Sprintf("codec: remaining length %d out of range [0, %d]", rem, MaxRemainingLength))
	}
	dst = append(dst, first)
	for rem >= 0x80 {
		dst = append(dst, byte(rem)|0x80)
		rem >>= 7
	}
	return append(dst, byte(rem))
}

// headerSize returns the size of the fixed header of a packet whose remaining
// length is rem.
func headerSize(rem int) int {
	switch {
	case rem < 1<<7:
		return 2
	case rem < 1<<14:
		return 3
	case rem < 1<<21:
		return 4
	}
	return 5
}

func reservedType(t Type) error {
	return malformed(t, "packet type", 0, fmt.Sprintf("reserved type %d, want 1 to 14", byte(t)), ruleType) // [MQTT-2.2.1]
}

func tooLarge(t Type, n, maxSize int) error {
	return &Error{Type: t, Field: "remaining length", Offset: 1,
		Detail: fmt.Sprintf("packet is %d bytes, want at most %d", n, maxSize), Err: ErrTooLarge}
}

func wrongType(got, want Type) error {
	return malformed(got, "packet type", 0, fmt.Sprintf("%v packet, want %v", got, want), "")
}

// badFlags reports fixed-header flags other than want, citing rule.
func badFlags(t Type, flags, want byte, rule string) error {
	return malformed(t, "fixed header flags", 0, fmt.Sprintf("flags are %04b, want %04b", flags, want), rule)
}
