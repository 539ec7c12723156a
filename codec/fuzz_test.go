package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// allDecodeCases are the tables that seed FuzzDecode.
func allDecodeCases() [][]decodeCase {
	return [][]decodeCase{connectCases, publishCases, ackCases, connackCases, emptyCases,
		subscribeCases, subackCases, unsubscribeCases}
}

func FuzzDecode(f *testing.F) {
	var valid [][]byte
	for _, cases := range allDecodeCases() {
		for _, tc := range cases {
			b := unhex(f, tc.frame)
			f.Add(b)
			if tc.err == nil {
				valid = append(valid, b)
			}
		}
	}
	for _, tc := range frameCases {
		f.Add(unhex(f, tc.frame))
	}
	// Streams of several packets, as a connection sends them.
	for i := 0; i+2 < len(valid); i += 3 {
		f.Add(slices.Concat(valid[i], valid[i+1], valid[i+2]))
	}
	f.Add(slices.Concat(valid...))
	f.Fuzz(func(t *testing.T, b []byte) {
		whole, err := decodeAll(t, b)
		for cut := 1; cut < len(b) && cut <= 256; cut++ {
			got, err2 := decodeInTwo(t, b, cut)
			if !slices.Equal(got, whole) || errText(err2) != errText(err) {
				t.Fatalf("split at %d: got %q, %v; want %q, %v", cut, got, err2, whole, err)
			}
		}
	})
}

// decodeAll decodes the packets in b as one read would give them: it frames
// and decodes each in turn, and stops at the first error or incomplete packet.
func decodeAll(t *testing.T, b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		n, err := codec.Frame(b, 0)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, nil
		}
		if n > len(b) {
			t.Fatalf("Frame: got n %d past the %d bytes buffered", n, len(b))
		}
		// Decode from the whole buffer: it must stop where Frame said.
		s, m, err := decodeOne(t, b)
		if err != nil {
			return out, err
		}
		if m != n {
			t.Fatalf("decode %v: got n %d, Frame said %d", codec.PacketType(b), m, n)
		}
		out = append(out, s)
		b = b[n:]
	}
	return out, nil
}

// decodeInTwo feeds b to an event loop in two reads, b[:cut] and b[cut:]: each
// appends to the connection's buffer, then frames and decodes every whole
// packet in it, and keeps the rest for the next read.
func decodeInTwo(t *testing.T, b []byte, cut int) ([]string, error) {
	var out []string
	var buf []byte
	for _, read := range [][]byte{b[:cut], b[cut:]} {
		buf = append(buf, read...)
		for {
			n, err := codec.Frame(buf, 0)
			if err != nil {
				return out, err
			}
			if n == 0 {
				break
			}
			s, m, err := decodeOne(t, buf[:n])
			if err != nil {
				return out, err
			}
			if m != n {
				t.Fatalf("decode %v: got n %d, Frame said %d", codec.PacketType(buf), m, n)
			}
			out = append(out, s)
			buf = buf[n:]
		}
	}
	return out, nil
}

// decodeOne decodes the packet at the start of b, which Frame found whole,
// checks that what it accepts survives a round trip, and renders it.
func decodeOne(t *testing.T, b []byte) (string, int, error) {
	s, enc, n, err := decodeEncode(b)
	if err != nil || n == 0 {
		if n != 0 {
			t.Fatalf("decode %v: got n %d with error %v, want 0", codec.PacketType(b), n, err)
		}
		if err == nil {
			t.Fatalf("decode %v: got 0, nil for a whole packet", codec.PacketType(b))
		}
		var e *codec.Error
		if !errors.As(err, &e) || !(errors.Is(err, codec.ErrMalformed) || errors.Is(err, codec.ErrProtocol)) {
			t.Fatalf("decode %v: got %T %v, want a *codec.Error wrapping ErrMalformed or ErrProtocol", codec.PacketType(b), err, err)
		}
		return "", 0, err
	}
	if n > len(b) {
		t.Fatalf("decode %v: got n %d past the %d bytes given", codec.PacketType(b), n, len(b))
	}
	s2, enc2, n2, err := decodeEncode(enc)
	if err != nil || n2 != len(enc) || s2 != s || !bytes.Equal(enc2, enc) {
		t.Fatalf("round trip of % x: encoded % x, decoded %q, n %d, %v; want %q, n %d, nil",
			b[:n], enc, s2, n2, err, s, len(enc))
	}
	if minimalLength(b) && !bytes.Equal(enc, b[:n]) && !mqtt31Lenient(s) {
		t.Fatalf("round trip: got % x, want % x", enc, b[:n])
	}
	return s, n, nil
}

// decodeEncode decodes the packet at the start of b by its type, renders it,
// and encodes it again.
func decodeEncode(b []byte) (s string, enc []byte, n int, err error) {
	switch t := codec.PacketType(b); t {
	case codec.TypeConnect:
		var p codec.Connect
		if n, err = p.Decode(b); n > 0 {
			s, enc = fmt.Sprintf("%+v", p), codec.AppendConnect(nil, &p)
		}
	case codec.TypeConnack:
		var p codec.Connack
		if n, err = p.Decode(b); n > 0 {
			s, enc = fmt.Sprintf("%+v", p), codec.AppendConnack(nil, p.SessionPresent, p.ReturnCode)
		}
	case codec.TypePublish:
		var p codec.Publish
		if n, err = p.Decode(b); n > 0 {
			s, enc = fmt.Sprintf("%+v", p), codec.AppendPublish(nil, &p)
			if got := codec.PublishSize(p.QoS, len(p.TopicName), len(p.Payload)); got != len(enc) {
				panic(fmt.Sprintf("PublishSize: got %d, want %d", got, len(enc)))
			}
		}
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp, codec.TypeUnsuback:
		var p codec.Ack
		if n, err = p.Decode(b); n > 0 {
			s, enc = fmt.Sprintf("%+v", p), p.Append(nil)
		}
	case codec.TypeSubscribe:
		var p codec.Subscribe
		if n, err = p.Decode(b); n > 0 {
			s, enc = fmt.Sprintf("%+v", p), codec.AppendSubscribe(nil, p.PacketID, p.Filters)
		}
	case codec.TypeSuback:
		var p codec.Suback
		if n, err = p.Decode(b); n > 0 {
			s, enc = fmt.Sprintf("%+v", p), codec.AppendSuback(nil, p.PacketID, p.ReturnCodes)
		}
	case codec.TypeUnsubscribe:
		var p codec.Unsubscribe
		if n, err = p.Decode(b); n > 0 {
			s, enc = fmt.Sprintf("%+v", p), codec.AppendUnsubscribe(nil, p.PacketID, p.TopicFilters)
		}
	case codec.TypePingreq, codec.TypePingresp, codec.TypeDisconnect:
		if n, err = codec.DecodeEmpty(b, t); n > 0 {
			s = t.String()
			enc = map[codec.Type]func([]byte) []byte{codec.TypePingreq: codec.AppendPingreq,
				codec.TypePingresp: codec.AppendPingresp, codec.TypeDisconnect: codec.AppendDisconnect}[t](nil)
		}
	default:
		panic(fmt.Sprintf("decodeEncode called for %v, which Frame rejects", t))
	}
	return s, enc, n, err
}

// minimalLength reports whether the remaining length of the packet at b is
// encoded in as few bytes as it can be, as the encoders write it.
func minimalLength(b []byte) bool {
	i := 1
	for i < len(b) && b[i]&0x80 != 0 {
		i++
	}
	return i == 1 || b[i] != 0
}

// mqtt31Lenient reports a rendered MQTT 3.1 CONNECT, whose missing user name
// or password Decode drops with its flag, so that it encodes shorter.
func mqtt31Lenient(s string) bool {
	return strings.HasPrefix(s, "{ProtocolName:[77 81 73 115 100 112]")
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// FuzzMatchTopic checks MatchTopic and ValidTopicFilter against plain
// implementations on split levels.
func FuzzMatchTopic(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.filter, tc.topic)
	}
	for _, tc := range topicFilterCases {
		f.Add(tc.filter, "sport/tennis")
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		valid := codec.ValidTopicFilter(filter)
		if want := validFilterReference(filter); valid != want {
			t.Fatalf("ValidTopicFilter(%q): got %v, want %v", filter, valid, want)
		}
		if !valid || !codec.ValidTopicName(topic) {
			return
		}
		if got, want := codec.MatchTopic(filter, topic), matchReference(filter, topic); got != want {
			t.Fatalf("MatchTopic(%q, %q): got %v, want %v", filter, topic, got, want)
		}
	})
}

// validFilterReference is ValidTopicFilter written on split levels.
func validFilterReference(filter string) bool {
	if filter == "" || strings.ContainsRune(filter, 0) {
		return false
	}
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
	}
	return true
}

// matchReference is MatchTopic written on split levels.
func matchReference(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, l := range fl {
		if l == "#" {
			return true
		}
		if i >= len(tl) || (l != "+" && l != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}
