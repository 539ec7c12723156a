package codec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// propTable is the property table of the 5.0 standard (section 2.2.2.2),
// typed out again here so that the codec's own table is checked against it:
// identifier, a valid value in hex, where the property may appear ("WILL" for
// the will properties), and its value rule.
var propTable = []struct {
	id      byte
	value   string
	in      string
	flag    bool // 0 or 1 only
	nonZero bool // 0 is a protocol error
}{
	{0x01, "01", "PUBLISH WILL", true, false},
	{0x02, "0000003c", "PUBLISH WILL", false, false},
	{0x03, "0001 74", "PUBLISH WILL", false, false},
	{0x08, "0001 72", "PUBLISH WILL", false, false},
	{0x09, "0001 ff", "PUBLISH WILL", false, false},
	{0x0B, "7f", "PUBLISH SUBSCRIBE", false, true},
	{0x11, "0000003c", "CONNECT CONNACK DISCONNECT", false, false},
	{0x12, "0001 63", "CONNACK", false, false},
	{0x13, "003c", "CONNACK", false, false},
	{0x15, "0001 6d", "CONNECT CONNACK AUTH", false, false},
	{0x16, "0001 ff", "CONNECT CONNACK AUTH", false, false},
	{0x17, "01", "CONNECT", true, false},
	{0x18, "0000003c", "WILL", false, false},
	{0x19, "01", "CONNECT", true, false},
	{0x1A, "0001 69", "CONNACK", false, false},
	{0x1C, "0001 73", "CONNACK DISCONNECT", false, false},
	{0x1F, "0001 72", "CONNACK PUBACK PUBREC PUBREL PUBCOMP SUBACK UNSUBACK DISCONNECT AUTH", false, false},
	{0x21, "000a", "CONNECT CONNACK", false, true},
	{0x22, "000a", "CONNECT CONNACK", false, false},
	{0x23, "0001", "PUBLISH", false, true},
	{0x24, "01", "CONNACK", true, false},
	{0x25, "01", "CONNACK", true, false},
	{0x26, "0001 6b 0001 76", "CONNECT CONNACK PUBLISH WILL PUBACK PUBREC PUBREL PUBCOMP SUBSCRIBE SUBACK UNSUBSCRIBE UNSUBACK DISCONNECT AUTH", false, false},
	{0x27, "00001000", "CONNECT CONNACK", false, true},
	{0x28, "01", "CONNACK", true, false},
	{0x29, "01", "CONNACK", true, false},
	{0x2A, "01", "CONNACK", true, false},
}

// propPackets wrap a property block (length and records, hex) in a whole
// packet of each kind, and decode it as the receiver of that packet would.
var propPackets = []struct {
	name   string
	wrap   func(props string) string
	decode func([]byte) (int, error)
}{
	{"CONNECT", func(p string) string { return pkt("10", "0004 4d515454 05 02 003c", p, "0001 61") }, func(b []byte) (int, error) { var p codec.Connect; return p.DecodeV(b, 5) }},
	{"WILL", func(p string) string { return pkt("10", "0004 4d515454 05 06 003c 00 0001 61", p, "0001 61 0000") }, func(b []byte) (int, error) { var p codec.Connect; return p.DecodeV(b, 5) }},
	{"CONNACK", func(p string) string { return pkt("20", "00 00", p, "") }, func(b []byte) (int, error) { var p codec.Connack; return p.DecodeV(b, 5) }},
	{"PUBLISH", func(p string) string { return pkt("30", "0001 61", p, "6869") }, func(b []byte) (int, error) { var p codec.Publish; return p.DecodeFromServer(b, 5) }},
	{"PUBACK", func(p string) string { return pkt("40", "0001 00", p, "") }, decodeAck5},
	{"PUBREC", func(p string) string { return pkt("50", "0001 00", p, "") }, decodeAck5},
	{"PUBREL", func(p string) string { return pkt("62", "0001 00", p, "") }, decodeAck5},
	{"PUBCOMP", func(p string) string { return pkt("70", "0001 00", p, "") }, decodeAck5},
	{"SUBSCRIBE", func(p string) string { return pkt("82", "0001", p, "0001 61 00") }, func(b []byte) (int, error) { var p codec.Subscribe; return p.DecodeV(b, 5) }},
	{"SUBACK", func(p string) string { return pkt("90", "0001", p, "00") }, func(b []byte) (int, error) { var p codec.Suback; return p.DecodeV(b, 5) }},
	{"UNSUBSCRIBE", func(p string) string { return pkt("a2", "0001", p, "0001 61") }, func(b []byte) (int, error) { var p codec.Unsubscribe; return p.DecodeV(b, 5) }},
	{"UNSUBACK", func(p string) string { return pkt("b0", "0001", p, "00") }, func(b []byte) (int, error) { var p codec.Unsuback; return p.DecodeV(b, 5) }},
	{"DISCONNECT", func(p string) string { return pkt("e0", "00", p, "") }, func(b []byte) (int, error) { var p codec.Disconnect; return p.DecodeV(b, 5) }},
	{"AUTH", func(p string) string { return pkt("f0", "18", p, "") }, func(b []byte) (int, error) { var p codec.Auth; return p.Decode(b) }},
}

func decodeAck5(b []byte) (int, error) { var p codec.Ack; return p.DecodeV(b, 5) }

// pkt builds a packet in hex: the first byte, the remaining length, then
// the fields before the properties, the property block and the rest.
func pkt(first, before, props, after string) string {
	body := strings.ReplaceAll(before+props+after, " ", "")
	return first + hex.EncodeToString(varInt(len(body)/2)) + body
}

func varInt(n int) []byte {
	var b []byte
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

// block makes a property block from records in hex.
func block(records ...string) string {
	r := strings.ReplaceAll(strings.Join(records, ""), " ", "")
	return hex.EncodeToString(varInt(len(r)/2)) + r
}

// record is one property record in hex.
func record(id byte, value string) string { return fmt.Sprintf("%02x", id) + value }

// Every property in every packet: accepted where the table allows it,
// malformed elsewhere [MQTT5-2.2.2.2].
func TestPropertyPlacement(t *testing.T) {
	for _, pr := range propTable {
		for _, pk := range propPackets {
			allowed := strings.Contains(" "+pr.in+" ", " "+pk.name+" ")
			recs := []string{record(pr.id, pr.value)}
			if pr.id == 0x16 && allowed && pk.name == "CONNECT" { // [MQTT5-3.1.2.11.10] data needs its method
				recs = append(recs, record(0x15, "0001 6d"))
			}
			name := fmt.Sprintf("%v in %s", codec.PropID(pr.id), pk.name)
			t.Run(name, func(t *testing.T) {
				b := unhex(t, pk.wrap(block(recs...)))
				n, err := pk.decode(b)
				if allowed {
					if err != nil || n != len(b) {
						t.Fatalf("got %d, %v; want %d, nil", n, err, len(b))
					}
				} else {
					checkErr(t, err, malformed, "MQTT5-2.2.2.2")
				}
				if got := codec.PropID(pr.id).Allowed(typeOf(pk.name), pk.name == "WILL"); got != allowed {
					t.Fatalf("Allowed: got %v, want %v", got, allowed)
				}
			})
		}
	}
}

func typeOf(name string) codec.Type {
	if name == "WILL" {
		return codec.TypeConnect
	}
	for t := codec.Type(0); t < 16; t++ {
		if t.String() == name {
			return t
		}
	}
	panic(name)
}

// A single-valued property twice is a protocol error; user properties repeat,
// and so do subscription identifiers in a PUBLISH from the server.
func TestPropertyDuplicates(t *testing.T) {
	for _, pr := range propTable {
		for _, pk := range propPackets {
			if !strings.Contains(" "+pr.in+" ", " "+pk.name+" ") {
				continue
			}
			rec := record(pr.id, pr.value)
			recs := []string{rec, rec}
			if pr.id == 0x16 && pk.name == "CONNECT" {
				recs = append(recs, record(0x15, "0001 6d"))
			}
			repeat := pr.id == 0x26 || (pr.id == 0x0B && pk.name == "PUBLISH")
			t.Run(fmt.Sprintf("%v twice in %s", codec.PropID(pr.id), pk.name), func(t *testing.T) {
				b := unhex(t, pk.wrap(block(recs...)))
				_, err := pk.decode(b)
				if repeat {
					checkErr(t, err, nil, "")
				} else {
					checkErr(t, err, protocol, "MQTT5-2.2.2.2")
				}
			})
		}
	}
}

// Value rules: flags are 0 or 1, and some values may not be 0.
func TestPropertyValues(t *testing.T) {
	for _, pr := range propTable {
		pk := propPackets[0]
		for _, p := range propPackets {
			if strings.HasPrefix(pr.in, p.name) {
				pk = p
				break
			}
		}
		var bad []string
		if pr.flag {
			bad = append(bad, "02", "ff")
		}
		if pr.nonZero {
			bad = append(bad, strings.Repeat("0", len(strings.ReplaceAll(pr.value, " ", ""))))
		}
		for _, v := range bad {
			rule := "MQTT5-2.2.2.2"
			if pr.id == 0x23 {
				rule = "MQTT5-3.3.2-8"
			}
			t.Run(fmt.Sprintf("%v %s in %s", codec.PropID(pr.id), v, pk.name), func(t *testing.T) {
				_, err := pk.decode(unhex(t, pk.wrap(block(record(pr.id, v)))))
				checkErr(t, err, protocol, rule)
			})
		}
		if pr.flag {
			t.Run(fmt.Sprintf("%v 0 in %s", codec.PropID(pr.id), pk.name), func(t *testing.T) {
				_, err := pk.decode(unhex(t, pk.wrap(block(record(pr.id, "00")))))
				checkErr(t, err, nil, "")
			})
		}
	}
	// Identifiers the standard does not define are malformed.
	for id := 0; id < 0x100; id++ {
		known := false
		for _, pr := range propTable {
			known = known || int(pr.id) == id
		}
		if known {
			continue
		}
		_, err := decodeAck5(unhex(t, pkt("40", "0001 00", block(record(byte(id), "00")), "")))
		checkErr(t, err, malformed, "MQTT5-2.2.2.2")
	}
}

// allProps sets every property allowed in packet t (or the will), with
// distinct values.
func allProps(t codec.Type, will bool) codec.Properties {
	var p codec.Properties
	set := func(id codec.PropID) bool {
		if id.Allowed(t, will) {
			p.Set(id)
			return true
		}
		return false
	}
	if set(codec.PropPayloadFormat) {
		p.PayloadFormat = 1
	}
	if set(codec.PropMessageExpiry) {
		p.MessageExpiry = 3600
	}
	if set(codec.PropContentType) {
		p.ContentType = []byte("text/plain")
	}
	if set(codec.PropResponseTopic) {
		p.ResponseTopic = []byte("reply/here")
	}
	if set(codec.PropCorrelationData) {
		p.CorrelationData = []byte{0, 1, 2}
	}
	if codec.PropSubscriptionID.Allowed(t, will) {
		p.SubscriptionIDs = []uint32{1}
		if t == codec.TypePublish {
			p.SubscriptionIDs = []uint32{1, 200, codec.MaxVarInt}
		}
	}
	if set(codec.PropSessionExpiry) {
		p.SessionExpiry = 0xffffffff
	}
	if set(codec.PropAssignedClientID) {
		p.AssignedClientID = []byte("auto-1")
	}
	if set(codec.PropServerKeepAlive) {
		p.ServerKeepAlive = 30
	}
	if set(codec.PropAuthMethod) {
		p.AuthMethod = []byte("SCRAM-SHA-256")
	}
	if set(codec.PropAuthData) {
		p.AuthData = []byte{0xde, 0xad}
	}
	if set(codec.PropRequestProblemInfo) {
		p.RequestProblemInfo = 0
	}
	if set(codec.PropWillDelay) {
		p.WillDelay = 5
	}
	if set(codec.PropRequestResponseInfo) {
		p.RequestResponseInfo = 1
	}
	if set(codec.PropResponseInfo) {
		p.ResponseInfo = []byte("resp/")
	}
	if set(codec.PropServerReference) {
		p.ServerReference = []byte("other:1883")
	}
	if set(codec.PropReasonString) {
		p.ReasonString = []byte("because")
	}
	if set(codec.PropReceiveMaximum) {
		p.ReceiveMaximum = 20
	}
	if set(codec.PropTopicAliasMaximum) {
		p.TopicAliasMaximum = 10
	}
	if set(codec.PropTopicAlias) {
		p.TopicAlias = 3
	}
	if set(codec.PropMaximumQoS) {
		p.MaximumQoS = 1
	}
	if set(codec.PropRetainAvailable) {
		p.RetainAvailable = 0
	}
	if codec.PropUser.Allowed(t, will) {
		p.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v1")}, {Key: []byte("k"), Value: []byte("v2")}, {Key: []byte(""), Value: []byte("")}}
	}
	if set(codec.PropMaximumPacketSize) {
		p.MaximumPacketSize = 1 << 20
	}
	if set(codec.PropWildcardSubAvailable) {
		p.WildcardSubAvailable = 1
	}
	if set(codec.PropSubIDAvailable) {
		p.SubIDAvailable = 0
	}
	if set(codec.PropSharedSubAvailable) {
		p.SharedSubAvailable = 1
	}
	return p
}

// Every packet with every property it may carry survives encode and decode.
func TestRoundTripV5(t *testing.T) {
	check := func(t *testing.T, name string, b []byte, n int, err error, eq bool) {
		t.Helper()
		if err != nil || n != len(b) || !eq {
			t.Fatalf("%s: got %d, %v, equal %v; want %d, nil, true (% x)", name, n, err, eq, len(b), b)
		}
	}
	t.Run("CONNECT", func(t *testing.T) {
		c := codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, WillFlag: true, WillQoS: 2, WillRetain: true,
			PasswordFlag: true, KeepAlive: 60, ClientID: []byte("c1"), WillTopic: []byte("w/t"),
			WillMessage: []byte("bye"), Password: []byte{0, 1}, Props: allProps(codec.TypeConnect, false),
			WillProps: allProps(codec.TypeConnect, true)}
		b := codec.AppendConnect(nil, &c)
		var d codec.Connect
		n, err := d.DecodeV(b, 5)
		check(t, "CONNECT", b, n, err, d.Equal(&c) && string(d.ProtocolName) == "MQTT" && d.ProtocolLevel == 5)
	})
	t.Run("CONNACK", func(t *testing.T) {
		props := allProps(codec.TypeConnack, false)
		b := codec.AppendConnackV5(nil, true, codec.ReasonSuccess, &props)
		var d codec.Connack
		n, err := d.DecodeV(b, 5)
		check(t, "CONNACK", b, n, err, d.SessionPresent && d.ReturnCode == 0 && d.Props.Equal(&props))
		b = codec.AppendConnackV5(nil, true, codec.ReasonNotAuthorized, nil)
		n, err = d.DecodeV(b, 5)
		check(t, "CONNACK refused", b, n, err, !d.SessionPresent && d.ReturnCode == 0x87 && d.Props.Empty())
	})
	t.Run("PUBLISH", func(t *testing.T) {
		p := codec.Publish{QoS: 2, Dup: true, Retain: true, PacketID: 9, TopicName: []byte("a/b"),
			Payload: []byte("payload"), Props: allProps(codec.TypePublish, false)}
		b := codec.AppendPublishV5(nil, &p)
		if got, want := len(b), codec.PublishSizeV5(p.QoS, len(p.TopicName), p.Props.Size(), len(p.Payload)); got != want {
			t.Fatalf("PublishSizeV5: got %d, want %d", want, got)
		}
		var d codec.Publish
		n, err := d.DecodeFromServer(b, 5)
		check(t, "PUBLISH", b, n, err, d.Equal(&p))
		c := d.Clone()
		clear(b)
		check(t, "PUBLISH clone", b, n, nil, c.Equal(&p))
	})
	for _, typ := range []codec.Type{codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp} {
		t.Run(typ.String(), func(t *testing.T) {
			code := codec.ReasonCode(0x92)
			if typ == codec.TypePuback || typ == codec.TypePubrec {
				code = codec.ReasonNoMatchingSubscribers
			}
			for _, a := range []codec.Ack{{Type: typ, PacketID: 7}, {Type: typ, PacketID: 7, ReasonCode: code},
				{Type: typ, PacketID: 7, ReasonCode: code, Props: allProps(typ, false)}} {
				b := a.AppendV5(nil)
				var d codec.Ack
				n, err := d.DecodeV(b, 5)
				check(t, typ.String(), b, n, err, d.Type == typ && d.PacketID == 7 && d.ReasonCode == a.ReasonCode && d.Props.Equal(&a.Props))
			}
			b := codec.AppendAckV5(nil, typ, 8, code, []byte("why"))
			var d codec.Ack
			n, err := d.DecodeV(b, 5)
			check(t, "AppendAckV5", b, n, err, d.ReasonCode == code && string(d.Props.ReasonString) == "why" && d.PacketID == 8)
		})
	}
	t.Run("SUBSCRIBE", func(t *testing.T) {
		props := allProps(codec.TypeSubscribe, false)
		f := []codec.Subscription{{TopicFilter: []byte("a/#"), QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
			{TopicFilter: []byte("$share/g/x"), QoS: 2, RetainHandling: 1}}
		b := codec.AppendSubscribeV5(nil, 3, &props, f)
		var d codec.Subscribe
		n, err := d.DecodeV(b, 5)
		eq := d.PacketID == 3 && d.Props.Equal(&props) && len(d.Filters) == 2
		for i := range f {
			eq = eq && bytes.Equal(d.Filters[i].TopicFilter, f[i].TopicFilter) && d.Filters[i].Options() == f[i].Options() &&
				d.Filters[i].NoLocal == f[i].NoLocal && d.Filters[i].RetainAsPublished == f[i].RetainAsPublished &&
				d.Filters[i].RetainHandling == f[i].RetainHandling && d.Filters[i].QoS == f[i].QoS
		}
		check(t, "SUBSCRIBE", b, n, err, eq)
	})
	t.Run("SUBACK UNSUBACK UNSUBSCRIBE", func(t *testing.T) {
		sp, up := allProps(codec.TypeSuback, false), allProps(codec.TypeUnsuback, false)
		b := codec.AppendSubackV5(nil, 4, []byte{0, 1, 2, 0x80, 0xa1}, &sp)
		var s codec.Suback
		n, err := s.DecodeV(b, 5)
		check(t, "SUBACK", b, n, err, s.PacketID == 4 && string(s.ReturnCodes) == "\x00\x01\x02\x80\xa1" && s.Props.Equal(&sp))
		b = codec.AppendUnsubackV5(nil, 5, []byte{0, 0x11}, &up)
		var u codec.Unsuback
		n, err = u.DecodeV(b, 5)
		check(t, "UNSUBACK", b, n, err, u.PacketID == 5 && string(u.ReasonCodes) == "\x00\x11" && u.Props.Equal(&up))
		b = codec.AppendUnsuback(nil, 6)
		n, err = u.DecodeV(b, 4)
		check(t, "UNSUBACK 3.1.1", b, n, err, u.PacketID == 6 && u.ReasonCodes == nil)
		usp := allProps(codec.TypeUnsubscribe, false)
		b = codec.AppendUnsubscribeV5(nil, 6, &usp, [][]byte{[]byte("a"), []byte("b/+")})
		var us codec.Unsubscribe
		n, err = us.DecodeV(b, 5)
		check(t, "UNSUBSCRIBE", b, n, err, us.PacketID == 6 && len(us.TopicFilters) == 2 && string(us.TopicFilters[1]) == "b/+" && us.Props.Equal(&usp))
	})
	t.Run("DISCONNECT AUTH", func(t *testing.T) {
		dp, ap := allProps(codec.TypeDisconnect, false), allProps(codec.TypeAuth, false)
		for _, tc := range []struct {
			code  codec.ReasonCode
			props *codec.Properties
			size  int
		}{{0, nil, 2}, {0x8e, nil, 3}, {0x98, &dp, 0}} {
			b := codec.AppendDisconnectV5(nil, tc.code, tc.props)
			var d codec.Disconnect
			n, err := d.DecodeV(b, 5)
			want := tc.props
			if want == nil {
				want = &codec.Properties{}
			}
			check(t, "DISCONNECT", b, n, err, d.ReasonCode == tc.code && d.Props.Equal(want) && (tc.size == 0 || tc.size == len(b)))
		}
		b := codec.AppendAuth(nil, codec.ReasonContinueAuthentication, &ap)
		var a codec.Auth
		n, err := a.Decode(b)
		check(t, "AUTH", b, n, err, a.ReasonCode == 0x18 && a.Props.Equal(&ap))
		if b := codec.AppendAuth(nil, 0, nil); string(b) != "\xf0\x00" {
			t.Fatalf("AppendAuth success: got % x, want f0 00", b)
		}
	})
}

// The forward path: what a server received goes out byte for byte, with the
// topic alias, message expiry and subscription identifiers of the delivery.
func TestPublishForward(t *testing.T) {
	in := unhex(t, pkt("32", "0003 612f62 0001", block(
		"26 0001 61 0001 31", "23 0004", "02 00000e10", "01 01", "26 0001 61 0001 32", "09 0002 abcd"), "6869"))
	var p codec.Publish
	if _, err := p.DecodeV(in, 5); err != nil {
		t.Fatal(err)
	}
	keep := codec.AppendPropsWithout(nil, p.Props.Raw, codec.SetOf(codec.PropTopicAlias, codec.PropMessageExpiry, codec.PropSubscriptionID))
	if want := unhex(t, "26 0001 61 0001 31 01 01 26 0001 61 0001 32 09 0002 abcd"); !bytes.Equal(keep, want) {
		t.Fatalf("AppendPropsWithout: got % x, want % x", keep, want)
	}
	f := codec.Forward{TopicAlias: 2, HasExpiry: true, MessageExpiry: 3000, SubscriptionIDs: []uint32{5, 300}}
	out := codec.AppendPublishForward(nil, &codec.Publish{QoS: 1, PacketID: 77, TopicName: p.TopicName, Payload: p.Payload}, &f, keep)
	if got, want := len(out), codec.PublishForwardSize(1, len(p.TopicName), &f, len(keep), len(p.Payload)); got != want {
		t.Fatalf("PublishForwardSize: got %d, want %d", want, got)
	}
	var d codec.Publish
	if _, err := d.DecodeFromServer(out, 5); err != nil {
		t.Fatal(err)
	}
	if d.PacketID != 77 || string(d.TopicName) != "a/b" || string(d.Payload) != "hi" || d.Props.TopicAlias != 2 ||
		d.Props.MessageExpiry != 3000 || fmt.Sprint(d.Props.SubscriptionIDs) != "[5 300]" || d.Props.PayloadFormat != 1 ||
		len(d.Props.User) != 2 || string(d.Props.User[1].Value) != "2" || string(d.Props.CorrelationData) != "\xab\xcd" {
		t.Fatalf("got %+v", d)
	}
	// A client receiving it as a server would rejects the identifiers [MQTT5-3.3.4-6].
	_, err := d.DecodeV(out, 5)
	checkErr(t, err, protocol, "MQTT5-3.3.4-6")
	// An alias the subscriber knows: empty topic.
	out = codec.AppendPublishForward(out[:0], &codec.Publish{Payload: p.Payload}, &codec.Forward{TopicAlias: 2}, nil)
	if _, err := d.DecodeV(out, 5); err != nil || len(d.TopicName) != 0 || d.Props.TopicAlias != 2 {
		t.Fatalf("alias only: got %+v, %v", d, err)
	}
}

// Properties.Decode reads a block by itself, and reports a cut one as an
// error, not as "wait for more".
func TestPropertiesDecode(t *testing.T) {
	var p codec.Properties
	b := unhex(t, block("21 000a", "26 0001 6b 0001 76")+"ff")
	n, err := p.Decode(b, codec.TypeConnect, false)
	if err != nil || n != len(b)-1 || p.ReceiveMaximum != 10 || !p.Has(codec.PropReceiveMaximum) || !p.Has(codec.PropUser) {
		t.Fatalf("got %d, %v, %+v", n, err, p)
	}
	if _, err := p.Decode(b[:4], codec.TypeConnect, false); !errors.Is(err, codec.ErrMalformed) {
		t.Fatalf("cut block: got %v, want ErrMalformed", err)
	}
	if _, err := p.Decode(b, codec.TypeConnect, true); !errors.Is(err, codec.ErrMalformed) {
		t.Fatalf("receive maximum in will properties: got %v, want ErrMalformed", err)
	}
	if got := codec.AppendProperties(nil, nil); !bytes.Equal(got, []byte{0}) {
		t.Fatalf("AppendProperties(nil): got % x, want 00 [MQTT5-2.2.2-1]", got)
	}
}

// AppendPublishForwardParts writes what AppendPublishForward writes from a
// Publish with the same fields, and with no Forward and no properties a
// PUBLISH whose property length is 0 [MQTT5-3.3.2.3.1].
func TestPublishForwardParts(t *testing.T) {
	keep := unhex(t, "26 0001 61 0001 31 01 01")
	f := codec.Forward{TopicAlias: 2, HasExpiry: true, MessageExpiry: 60, SubscriptionIDs: []uint32{1, 200}}
	for _, tc := range []struct {
		name  string
		p     codec.Publish
		f     *codec.Forward
		props []byte
	}{
		{"QoS 0 bare", codec.Publish{TopicName: []byte("a/b"), Payload: []byte("hi")}, nil, nil},
		{"QoS 1 dup retain", codec.Publish{Dup: true, QoS: 1, Retain: true, TopicName: []byte("a/b"), PacketID: 7, Payload: []byte("hi")}, nil, keep},
		{"QoS 2 forward", codec.Publish{QoS: 2, TopicName: []byte("a/b"), PacketID: 9, Payload: []byte("hi")}, &f, keep},
		{"alias only", codec.Publish{Payload: []byte("hi")}, &codec.Forward{TopicAlias: 2}, nil},
		{"long properties", codec.Publish{TopicName: []byte("a/b")}, nil, bytes.Repeat(unhex(t, "26 0001 6b 0001 76"), 20)}, // length in two bytes
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			want := codec.AppendPublishForward(nil, &p, tc.f, tc.props)
			got := codec.AppendPublishForwardParts(nil, p.Dup, p.QoS, p.Retain, p.TopicName, p.PacketID, tc.f, tc.props, p.Payload)
			if !bytes.Equal(got, want) {
				t.Fatalf("got % x, want % x", got, want)
			}
			if n := codec.PublishForwardSize(p.QoS, len(p.TopicName), tc.f, len(tc.props), len(p.Payload)); n != len(got) {
				t.Fatalf("PublishForwardSize: got %d, want %d", n, len(got))
			}
			var d codec.Publish
			if _, err := d.DecodeFromServer(got, 5); err != nil {
				t.Fatal(err)
			}
			if d.Dup != p.Dup || d.QoS != p.QoS || d.Retain != p.Retain || d.PacketID != p.PacketID ||
				!bytes.Equal(d.TopicName, p.TopicName) || !bytes.Equal(d.Payload, p.Payload) {
				t.Fatalf("decoded %+v, want the fields of %+v", d, p)
			}
		})
	}
	bare := codec.AppendPublishForwardParts(nil, false, 0, false, []byte("a/b"), 0, nil, nil, []byte("hi"))
	if want := unhex(t, "30 08 0003 612f62 00 6869"); !bytes.Equal(bare, want) {
		t.Fatalf("bare: got % x, want % x", bare, want)
	}
}

// A reused Publish or Ack keeps nothing of the properties of the packet
// decoded before it when the next has none: the decoders skip clearing
// properties that are already clear, and must not skip clearing others.
func TestDecodeV5ReuseClears(t *testing.T) {
	var p codec.Publish
	if _, err := p.DecodeV(unhex(t, pkt("30", "0003 612f62", block("01 01", "26 0001 6b 0001 76", "03 0001 74"), "6869")), 5); err != nil {
		t.Fatal(err)
	}
	if !p.Props.Has(codec.PropPayloadFormat) || len(p.Props.User) != 1 || len(p.Props.Raw) == 0 {
		t.Fatalf("with properties: got %+v", p.Props)
	}
	if _, err := p.DecodeV(unhex(t, "30 08 0003 612f62 00 6869"), 5); err != nil {
		t.Fatal(err)
	}
	if !p.Props.Empty() || len(p.Props.Raw) != 0 || p.Props.ContentType != nil || string(p.Payload) != "hi" {
		t.Fatalf("without properties: got %+v, payload %q; want no properties, \"hi\"", p.Props, p.Payload)
	}
	// [MQTT5-3.3.2.3.4] an empty topic needs an alias, also when the property length is 0.
	_, err := p.DecodeV(unhex(t, "30 03 0000 00"), 5)
	checkErr(t, err, protocol, "MQTT5-3.3.2.3.4")

	var a codec.Ack
	if _, err := a.DecodeV(unhex(t, "40 0a 0001 80 06 1f0003626164"), 5); err != nil {
		t.Fatal(err)
	}
	if a.ReasonCode != 0x80 || len(a.Props.ReasonString) == 0 {
		t.Fatalf("with a reason string: got %+v", a)
	}
	if _, err := a.DecodeV(unhex(t, "40 02 0002"), 5); err != nil {
		t.Fatal(err)
	}
	if a.PacketID != 2 || a.ReasonCode != codec.ReasonSuccess || !a.Props.Empty() || a.Props.ReasonString != nil || a.Props.Raw != nil {
		t.Fatalf("bare: got %+v; want packet identifier 2, success, no properties", a)
	}
	// [MQTT5-2.2.1-3] and the remaining length: one byte is not a packet identifier.
	if _, err := a.DecodeV(unhex(t, "40 01 00"), 5); !errors.Is(err, codec.ErrMalformed) {
		t.Fatalf("remaining length 1: got %v, want ErrMalformed", err)
	}
}
