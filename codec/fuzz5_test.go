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

// The MQTT 5.0 fuzzers, beside FuzzDecode (fuzz_test.go) and with the same
// properties: no panic, never past the input, the same packets whole or
// split, accepted packets survive a round trip. Errors cite 5.0 rules.

func allDecode5Cases() [][]decodeCase {
	return [][]decodeCase{publish5Cases, connect5Cases, connack5Cases, ack5Cases, subscribe5Cases,
		suback5Cases, unsubscribe5Cases, unsuback5Cases, disconnect5Cases, auth5Cases}
}

func FuzzDecodeV5(f *testing.F) {
	var valid [][]byte
	for _, cases := range allDecode5Cases() {
		for _, tc := range cases {
			b := unhex(f, tc.frame)
			f.Add(b)
			if tc.err == nil {
				valid = append(valid, b)
			}
		}
	}
	for i := 0; i+2 < len(valid); i += 3 {
		f.Add(slices.Concat(valid[i], valid[i+1], valid[i+2]))
	}
	f.Add(slices.Concat(valid...))
	f.Fuzz(func(t *testing.T, b []byte) {
		whole, err := decodeAll5(t, b, 0)
		for cut := 1; cut < len(b) && cut <= 256; cut++ {
			got, err2 := decodeAll5(t, b, cut)
			if !slices.Equal(got, whole) || errText(err2) != errText(err) {
				t.Fatalf("split at %d: got %q, %v; want %q, %v", cut, got, err2, whole, err)
			}
		}
	})
}

// decodeAll5 feeds b to a level 5 connection in one read (cut 0) or two,
// b[:cut] and b[cut:], framing and decoding every whole packet.
func decodeAll5(t *testing.T, b []byte, cut int) ([]string, error) {
	reads := [][]byte{b}
	if cut > 0 {
		reads = [][]byte{b[:cut], b[cut:]}
	}
	var out []string
	var buf []byte
	for _, read := range reads {
		buf = append(buf, read...)
		for {
			n, err := codec.FrameV(buf, 0, 5)
			if err != nil {
				checkRule5(t, buf, err)
				return out, err
			}
			if n == 0 {
				break
			}
			if n > len(buf) {
				t.Fatalf("FrameV: got n %d past the %d bytes buffered", n, len(buf))
			}
			// Decode from the whole buffer: the decoder must stop where FrameV said.
			s, m, err := decodeOne5(t, buf)
			if err != nil {
				return out, err
			}
			if m != n {
				t.Fatalf("decode %v: got n %d, FrameV said %d", codec.PacketType(buf), m, n)
			}
			out = append(out, s)
			buf = buf[n:]
		}
	}
	return out, nil
}

// checkRule5 checks that a rejection is a *codec.Error citing a 5.0 rule
// (a CONNECT of another level is the 3.1.1 decoder's).
func checkRule5(t *testing.T, b []byte, err error) {
	var e *codec.Error
	if !errors.As(err, &e) || !(errors.Is(err, codec.ErrMalformed) || errors.Is(err, codec.ErrProtocol)) {
		t.Fatalf("got %T %v, want a *codec.Error wrapping ErrMalformed or ErrProtocol", err, err)
	}
	if e.Rule != "" && !strings.HasPrefix(e.Rule, "MQTT5-") && codec.PacketType(b) != codec.TypeConnect {
		t.Fatalf("got rule %q in %v, want an MQTT 5.0 rule", e.Rule, err)
	}
	if r := codec.ReasonFor(err); r < 0x80 {
		t.Fatalf("ReasonFor(%v): got %#02x, want a failure", err, byte(r))
	}
}

func decodeOne5(t *testing.T, b []byte) (string, int, error) {
	s, enc, n, err := decodeEncode5(b)
	if err != nil || n == 0 {
		if n != 0 || err == nil {
			t.Fatalf("decode %v: got n %d, err %v for a whole packet", codec.PacketType(b), n, err)
		}
		checkRule5(t, b, err)
		return "", 0, err
	}
	if n > len(b) {
		t.Fatalf("decode %v: got n %d past the %d bytes given", codec.PacketType(b), n, len(b))
	}
	s2, enc2, n2, err := decodeEncode5(enc)
	if err != nil || n2 != len(enc) || s2 != s || !bytes.Equal(enc2, enc) {
		t.Fatalf("round trip of % x: encoded % x, decoded %q, n %d, %v; want %q, n %d, nil",
			b[:n], enc, s2, n2, err, s, len(enc))
	}
	return s, n, nil
}

// decodeEncode5 decodes the packet at the start of b as a level 5
// connection does, renders it without the Raw views, and encodes it again.
func decodeEncode5(b []byte) (s string, enc []byte, n int, err error) {
	render := func(v func() any, props ...*codec.Properties) string {
		for _, p := range props {
			p.Raw = nil
		}
		return fmt.Sprintf("%+v", v())
	}
	switch t := codec.PacketType(b); t {
	case codec.TypeConnect:
		var p codec.Connect
		if n, err = p.DecodeV(b, 5); n > 0 {
			enc, s = codec.AppendConnect(nil, &p), render(func() any { return p }, &p.Props, &p.WillProps)
		}
	case codec.TypeConnack:
		var p codec.Connack
		if n, err = p.DecodeV(b, 5); n > 0 {
			enc = codec.AppendConnackV5(nil, p.SessionPresent, codec.ReasonCode(p.ReturnCode), &p.Props)
			s = render(func() any { return p }, &p.Props)
		}
	case codec.TypePublish:
		var p codec.Publish
		if n, err = p.DecodeV(b, 5); n > 0 {
			enc = codec.AppendPublishV5(nil, &p)
			if got := codec.PublishSizeV5(p.QoS, len(p.TopicName), p.Props.Size(), len(p.Payload)); got != len(enc) {
				panic(fmt.Sprintf("PublishSizeV5: got %d, want %d", got, len(enc)))
			}
			s = render(func() any { return p }, &p.Props)
		}
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		var p codec.Ack
		if n, err = p.DecodeV(b, 5); n > 0 {
			enc, s = p.AppendV5(nil), render(func() any { return p }, &p.Props)
		}
	case codec.TypeSubscribe:
		var p codec.Subscribe
		if n, err = p.DecodeV(b, 5); n > 0 {
			enc, s = codec.AppendSubscribeV5(nil, p.PacketID, &p.Props, p.Filters), render(func() any { return p }, &p.Props)
		}
	case codec.TypeSuback:
		var p codec.Suback
		if n, err = p.DecodeV(b, 5); n > 0 {
			enc, s = codec.AppendSubackV5(nil, p.PacketID, p.ReturnCodes, &p.Props), render(func() any { return p }, &p.Props)
		}
	case codec.TypeUnsubscribe:
		var p codec.Unsubscribe
		if n, err = p.DecodeV(b, 5); n > 0 {
			enc, s = codec.AppendUnsubscribeV5(nil, p.PacketID, &p.Props, p.TopicFilters), render(func() any { return p }, &p.Props)
		}
	case codec.TypeUnsuback:
		var p codec.Unsuback
		if n, err = p.DecodeV(b, 5); n > 0 {
			enc, s = codec.AppendUnsubackV5(nil, p.PacketID, p.ReasonCodes, &p.Props), render(func() any { return p }, &p.Props)
		}
	case codec.TypePingreq, codec.TypePingresp:
		if n, err = codec.DecodeEmptyV(b, t, 5); n > 0 {
			s, enc = t.String(), b[:n:n]
			if n != 2 {
				enc = []byte{b[0], 0}
			}
		}
	case codec.TypeDisconnect:
		var p codec.Disconnect
		if n, err = p.DecodeV(b, 5); n > 0 {
			enc, s = codec.AppendDisconnectV5(nil, p.ReasonCode, &p.Props), render(func() any { return p }, &p.Props)
		}
	case codec.TypeAuth:
		var p codec.Auth
		if n, err = p.Decode(b); n > 0 {
			enc, s = codec.AppendAuth(nil, p.ReasonCode, &p.Props), render(func() any { return p }, &p.Props)
		}
	default:
		panic(fmt.Sprintf("decodeEncode5 called for %v, which FrameV rejects", t))
	}
	return s, enc, n, err
}

// FuzzProperties decodes a property block as found in the packet (or will)
// that sel names, and checks that what it accepts re-encodes to a block that
// decodes to the same properties, and that AppendPropsWithout keeps every
// record of Raw.
func FuzzProperties(f *testing.F) {
	for _, pr := range propTable {
		t := typeOf(strings.Fields(pr.in)[0])
		sel := byte(t)
		if strings.HasPrefix(pr.in, "WILL") {
			sel |= 0x10
		}
		f.Add(unhex(f, block(record(pr.id, pr.value))), sel)
		f.Add(unhex(f, block(record(pr.id, pr.value), record(pr.id, pr.value))), sel)
	}
	for typ := codec.Type(1); typ < 16; typ++ {
		p := allProps(typ, false)
		f.Add(codec.AppendProperties(nil, &p), byte(typ))
	}
	w := allProps(codec.TypeConnect, true)
	f.Add(codec.AppendProperties(nil, &w), byte(0x11))
	f.Fuzz(func(t *testing.T, b []byte, sel byte) {
		typ, will := codec.Type(sel&0x0f), sel&0x10 != 0
		var p codec.Properties
		n, err := p.Decode(b, typ, will)
		if err != nil {
			if n != 0 {
				t.Fatalf("got n %d with %v", n, err)
			}
			checkRule5(t, []byte{byte(typ) << 4}, err)
			return
		}
		if n > len(b) || len(p.Raw) > n {
			t.Fatalf("got n %d, Raw %d bytes, from %d bytes", n, len(p.Raw), len(b))
		}
		if got := codec.AppendPropsWithout(nil, p.Raw, 0); !bytes.Equal(got, p.Raw) {
			t.Fatalf("AppendPropsWithout(Raw, none): got % x, want % x", got, p.Raw)
		}
		enc := codec.AppendProperties(nil, &p)
		var q codec.Properties
		m, err := q.Decode(enc, typ, will)
		if err != nil || m != len(enc) || !q.Equal(&p) || p.Size() != len(q.Raw) {
			t.Fatalf("round trip of % x: encoded % x, got %d, %v, %+v; want %+v", b[:n], enc, m, err, q, p)
		}
		c := p.Clone()
		clear(b)
		if !c.Equal(&q) {
			t.Fatalf("Clone: got %+v after clearing the input, want %+v", c, q)
		}
	})
}
