package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/glassmq/glassmq/auth"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// fuzzTransport hands the engine input the driver lets "arrive", through
// Peek and Discard as gnet's inbound buffer does, and records what the
// engine writes. After each callback the bytes it saw are overwritten, so
// an engine that keeps a view past the callback (a bug: views are valid
// only until the callback returns) reads
// garbage instead of passing by luck.
type fuzzTransport struct {
	pending []byte   // arrived and not yet discarded
	views   [][]byte // copies of pending handed out by Peek, scribbled over when they expire
	out     []byte   // written by the engine, not yet read by the driver
	closed  bool     // Close was called
	err     error    // the engine broke the Transport contract
}

func (t *fuzzTransport) Peek() []byte {
	v := append([]byte(nil), t.pending...)
	t.views = append(t.views, v)
	return v
}

func (t *fuzzTransport) Discard(n int) {
	if n < 0 || n > len(t.pending) {
		t.err = fmt.Errorf("Discard(%d) with %d bytes buffered", n, len(t.pending))
		return
	}
	t.pending = t.pending[n:]
	t.expire()
}

func (t *fuzzTransport) Write(b []byte) error {
	if t.closed {
		return nil // gnet drops writes to a closed connection too
	}
	t.out = append(t.out, b...)
	return nil
}

func (t *fuzzTransport) OutboundBuffered() int { return 0 }
func (t *fuzzTransport) Close()                { t.closed = true }
func (t *fuzzTransport) RemoteAddr() string    { return "192.0.2.1:1883" }

// expire scribbles over the bytes Peek handed out: they are valid only
// until Discard or the end of the callback.
func (t *fuzzTransport) expire() {
	for i, v := range t.views {
		for j := range v {
			v[j] = 0xa5
		}
		t.views[i] = nil
	}
	t.views = t.views[:0]
}

// fuzzLoop is an event loop run by the fuzz driver: Execute queues, drain
// runs the queue (and whatever it queues) on the driver's goroutine.
type fuzzLoop struct{ q []func() }

func (l *fuzzLoop) Execute(fn func()) { l.q = append(l.q, fn) }

func (l *fuzzLoop) drain() {
	for len(l.q) > 0 {
		fn := l.q[0]
		l.q = l.q[1:]
		fn()
	}
}

// fuzzConn is one connection of the fuzz engine with its transport.
type fuzzConn struct {
	t        *fuzzTransport
	c        *Conn
	reported bool // OnClose was called
}

// fuzzRig is an Engine on one fuzzLoop, with a well-behaved subscriber and
// publisher beside the connection under fuzz.
type fuzzRig struct {
	e         *Engine
	loop      *fuzzLoop
	h         *LoopHandle
	all       []*fuzzConn // every connection opened, for OnClose
	good, pub *fuzzConn
	goodID    string
	goodSeen  [][]byte // payloads the well-behaved subscriber received
}

const fuzzGoodTopic = "fz/well/behaved"

func newFuzzRig(tb testing.TB) *fuzzRig {
	cfg := DefaultConfig()
	cfg.Loops = 1
	cfg.LogInterval = time.Hour
	cfg.MaxPacketSize = 64 << 10
	cfg.MaxInflight = 4
	cfg.MaxQueued = 16
	cfg.MaxSubscriptions = 8
	r := &fuzzRig{e: NewEngine(cfg), loop: &fuzzLoop{}}
	r.h = r.e.BindLoop(r.loop)
	r.connectGood(tb, "fz-good-3c9a1e7d")
	r.pub = r.open()
	r.feed(r.pub, connectPacket("fz-pub-77b2d0c4", true, 0))
	if got := r.take(r.pub); string(got) != "\x20\x02\x00\x00" {
		tb.Fatalf("well-behaved publisher: got % x, want CONNACK 0", got)
	}
	return r
}

func (r *fuzzRig) connectGood(tb testing.TB, id string) {
	r.goodID = id
	r.good = r.open()
	r.feed(r.good, connectPacket(id, true, 0))
	r.feed(r.good, codec.AppendSubscribe(nil, 1, []codec.Subscription{{TopicFilter: []byte(fuzzGoodTopic), QoS: 1}}))
	if got := r.take(r.good); string(got) != "\x20\x02\x00\x00\x90\x03\x00\x01\x01" {
		tb.Fatalf("well-behaved subscriber: got % x, want CONNACK 0 and SUBACK 1", got)
	}
}

func (r *fuzzRig) open() *fuzzConn {
	t := &fuzzTransport{}
	r.e.Admit() // the slot its close gives back
	fc := &fuzzConn{t: t, c: r.e.Open(t, r.h)}
	r.all = append(r.all, fc)
	return fc
}

// feed lets b arrive on fc and runs the callbacks that follow, as gnet
// would: OnTraffic, queued loop work, OnClose once the transport closed.
func (r *fuzzRig) feed(fc *fuzzConn, b []byte) {
	if fc.t.closed {
		return
	}
	fc.t.pending = append(fc.t.pending, b...)
	if fc.c.OnTraffic() {
		fc.t.closed = true
	}
	fc.t.expire()
	r.settle()
}

// settle runs queued loop work and reports closes until nothing changes.
func (r *fuzzRig) settle() {
	for {
		r.loop.drain()
		progress := false
		for _, fc := range r.all {
			fc.t.expire()
			if fc.t.closed && !fc.reported {
				fc.reported = true
				fc.c.OnClose(nil)
				progress = true
			}
		}
		if !progress && len(r.loop.q) == 0 {
			return
		}
	}
}

// closeFuzzed ends the fuzzed connection as the network would, if the
// engine has not closed it.
func (r *fuzzRig) closeFuzzed(fc *fuzzConn, err error) {
	r.settle()
	if !fc.t.closed {
		fc.t.closed, fc.reported = true, true
		fc.c.OnClose(err)
	}
	r.settle()
}

// take returns and clears what the engine wrote to fc.
func (r *fuzzRig) take(fc *fuzzConn) []byte {
	b := fc.t.out
	fc.t.out = nil
	return b
}

// serveGood reads the well-behaved subscriber's output and acknowledges
// its QoS 1/2 deliveries, until the engine has nothing more for it.
func (r *fuzzRig) serveGood() error {
	for range 10000 {
		out := r.take(r.good)
		if len(out) == 0 {
			return nil
		}
		var reply []byte
		err := eachServerPacket(out, 4, func(typ codec.Type, p []byte) error {
			switch typ {
			case codec.TypePublish:
				var m codec.Publish
				m.Decode(p)
				r.goodSeen = append(r.goodSeen, slices.Clone(m.Payload))
				switch m.QoS {
				case 1:
					reply = codec.AppendPuback(reply, m.PacketID)
				case 2:
					reply = codec.AppendPubrec(reply, m.PacketID)
				}
			case codec.TypePubrel:
				var a codec.Ack
				a.Decode(p)
				reply = codec.AppendPubcomp(reply, a.PacketID)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("to the well-behaved subscriber: %w", err)
		}
		if len(reply) == 0 {
			return nil
		}
		r.feed(r.good, reply)
	}
	return errors.New("the well-behaved subscriber never caught up")
}

// serverLevel returns the protocol level of the packets the server wrote
// in b, from the first: 5 for an AUTH or a CONNACK with properties (a 5.0
// CONNACK always has their length), else 4.
func serverLevel(b []byte) byte {
	switch {
	case len(b) > 1 && codec.PacketType(b) == codec.TypeAuth,
		len(b) > 1 && codec.PacketType(b) == codec.TypeConnack && b[1] != 2:
		return codec.ProtocolLevel5
	}
	return 4
}

// eachServerPacket checks that b is a sequence of whole, well-formed
// packets that a server may send at protocol level level (4 covers 3.1 and
// 3.1.1), and calls fn for each.
func eachServerPacket(b []byte, level byte, fn func(codec.Type, []byte) error) error {
	for off := 0; off < len(b); {
		n, err := codec.FrameV(b[off:], 0, level)
		if err != nil || n == 0 {
			return fmt.Errorf("broker wrote bytes that do not frame at offset %d (err %v): % x", off, err, b[off:min(len(b), off+16)])
		}
		p := b[off : off+n]
		typ := codec.PacketType(p)
		v5 := level == codec.ProtocolLevel5
		switch typ {
		case codec.TypeConnack:
			var a codec.Connack
			_, err = a.DecodeV(p, level)
		case codec.TypePublish:
			var m codec.Publish
			_, err = m.DecodeFromServer(p, level)
		case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
			var a codec.Ack
			_, err = a.DecodeV(p, level)
		case codec.TypeUnsuback:
			var a codec.Unsuback
			_, err = a.DecodeV(p, level)
		case codec.TypeSuback:
			var a codec.Suback
			_, err = a.DecodeV(p, level)
		case codec.TypePingresp:
			if string(p) != "\xd0\x00" {
				err = errors.New("bad PINGRESP")
			}
		case codec.TypeDisconnect: // a server's DISCONNECT exists at 5.0 only [MQTT5-3.14]
			var d codec.Disconnect
			if !v5 {
				err = errors.New("a 3.1.1 server never sends DISCONNECT")
			} else if _, err = d.DecodeV(p, level); err == nil && d.Props.Has(codec.PropSessionExpiry) {
				err = errors.New("server DISCONNECT with a Session Expiry Interval [MQTT5-3.14.2-2]")
			}
		case codec.TypeAuth:
			var a codec.Auth
			if !v5 {
				err = errors.New("AUTH at 3.1.1")
			} else {
				_, err = a.Decode(p)
			}
		default:
			err = fmt.Errorf("a server never sends %v", typ)
		}
		if err != nil {
			return fmt.Errorf("broker wrote a bad %v % x: %w", typ, p[:min(len(p), 32)], err)
		}
		if err := fn(typ, p); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// checkEngine verifies the engine's books against its contents: no
// connection or clean session outlives its network connection, and the
// gauges match the registry, the router and the queues.
func (r *fuzzRig) checkEngine(live map[string]bool) error {
	e := r.e
	conns := 0
	e.conns.each(func(*Conn) { conns++ })
	if got := e.stats.Connections.Load(); got != int64(len(live)) || conns != len(live) {
		return fmt.Errorf("stats count %d connections, the engine holds %d; want %d (the well-behaved pair)", got, conns, len(live))
	}
	var errs []error
	sessions, subs, queued := 0, 0, 0
	e.reg.Range(func(s *clientSession) bool {
		sessions++
		subs += len(s.Subscriptions())
		st := s.Status()
		queued += st.Queued
		owner, claim, removed := st.Attached, st.Claimed, st.Removed
		switch {
		case live[s.ClientID]:
			if !owner || !s.IsConnected() {
				errs = append(errs, fmt.Errorf("well-behaved session %q lost its connection", s.ClientID))
			}
		case owner || claim || s.IsConnected():
			errs = append(errs, fmt.Errorf("session %q still owned (owner %v, claim %v) after its connection closed", s.ClientID, owner, claim))
		case s.Meta() != nil && s.Meta().CleanSession:
			errs = append(errs, fmt.Errorf("clean session %q left in the registry after its connection closed [MQTT-3.1.2-6]", s.ClientID))
		case removed:
			errs = append(errs, fmt.Errorf("session %q marked removed but still in the registry", s.ClientID))
		}
		return true
	})
	if got := e.stats.Sessions.Load(); got != int64(sessions) || e.reg.Len() != sessions {
		errs = append(errs, fmt.Errorf("stats count %d sessions, registry Len %d, registry holds %d", got, e.reg.Len(), sessions))
	}
	if got := e.stats.Subscriptions.Load(); got != int64(subs) {
		errs = append(errs, fmt.Errorf("stats count %d subscriptions, sessions hold %d", got, subs))
	}
	if n := routerLen(&e.router.root); n != subs {
		errs = append(errs, fmt.Errorf("router holds %d subscriptions, sessions hold %d", n, subs))
	}
	if got := e.stats.QueuedNow.Load(); got != int64(queued) {
		errs = append(errs, fmt.Errorf("stats count %d queued messages, queues hold %d", got, queued))
	}
	return errors.Join(errs...)
}

func routerLen(n *node) int {
	total := len(n.subs)
	for _, g := range n.groups { // shared subscriptions: one per member
		total += len(g.members)
	}
	n.eachChild(func(_ string, c *node) { total += routerLen(c) })
	return total
}

// fuzzSeeds are valid packet streams a client might send, each a start for
// the fuzzer.
func fuzzSeeds() [][]byte {
	conn := func(id string, clean bool, ka uint16) []byte { return connectPacket(id, clean, ka) }
	pub := func(topic string, qos byte, retain bool, id uint16, payload string) []byte {
		return codec.AppendPublish(nil, &codec.Publish{QoS: qos, Retain: retain, TopicName: []byte(topic), PacketID: id, Payload: []byte(payload)})
	}
	sub := func(id uint16, filters ...string) []byte {
		var fs []codec.Subscription
		for i, f := range filters {
			fs = append(fs, codec.Subscription{TopicFilter: []byte(f), QoS: byte(i % 3)})
		}
		return codec.AppendSubscribe(nil, id, fs)
	}
	will := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4, KeepAlive: 30,
		ClientID: []byte("fz-will"), WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: []byte(fuzzGoodTopic),
		WillMessage: []byte("will"), UsernameFlag: true, Username: []byte("u"), PasswordFlag: true, Password: []byte("p")})
	mqtt31 := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQIsdp"), ProtocolLevel: 3, CleanSession: true, ClientID: []byte("fz-31")})
	return [][]byte{
		// Every QoS both ways on one connection, with the acks a client owes:
		// it is subscribed to its own topic, so its PUBLISHes come back.
		slices.Concat(conn("fz-1", true, 0), sub(1, "fz/a", "fz/+", "fz/#"),
			pub("fz/a", 0, false, 0, "q0"), pub("fz/a", 1, false, 1, "q1"), pub("fz/a", 2, false, 2, "q2"),
			codec.AppendPubrel(nil, 2), codec.AppendPuback(nil, 1), codec.AppendPubrec(nil, 2), codec.AppendPubcomp(nil, 2),
			codec.AppendPingreq(nil), codec.AppendUnsubscribe(nil, 3, [][]byte{[]byte("fz/a"), []byte("fz/#")}),
			codec.AppendDisconnect(nil)),
		// A persistent session with a will, retained messages, and traffic to
		// the well-behaved subscriber; no DISCONNECT, so the will goes out.
		slices.Concat(will, sub(1, "fz/r/#", "$SYS/#"), pub("fz/r/1", 1, true, 1, "kept"), pub("fz/r/1", 0, true, 0, ""),
			pub(fuzzGoodTopic, 1, false, 2, "hello"), pub(fuzzGoodTopic, 2, false, 3, "hello2"), codec.AppendPubrel(nil, 3),
			pub("$SYS/x", 1, false, 4, "no")),
		// MQTT 3.1, a duplicate QoS 2 PUBLISH before PUBREL, then DISCONNECT.
		slices.Concat(mqtt31, pub("fz/d", 2, false, 9, "once"), pub("fz/d", 2, false, 9, "once"), codec.AppendPubrel(nil, 9), codec.AppendDisconnect(nil)),
		// A persistent session that subscribes, leaves, and is resumed by
		// nothing: its queue must stay counted.
		slices.Concat(conn("fz-p", false, 60), sub(1, fuzzGoodTopic, "fz/#"), pub("fz/x", 1, false, 1, "queued")),
		// Empty client ID with clean session: a server-assigned ID.
		slices.Concat(conn("", true, 0), sub(7, "#"), pub("fz/e", 1, false, 1, "e")),
		// Protocol errors after a good start.
		slices.Concat(conn("fz-2", true, 0), conn("fz-2", true, 0)),
		slices.Concat(conn("fz-3", true, 0), []byte{0xff, 0xff, 0xff}),
		slices.Concat(conn("fz-4", true, 1), []byte{0x30, 0x05, 0x00}),
		{0x10, 0xff, 0xff, 0xff, 0x7f},
	}
}

// fuzzSeeds5 are MQTT 5.0 packet streams: properties in CONNECT, will,
// PUBLISH and DISCONNECT, topic aliases, subscription options and
// identifiers, shared subscriptions, enhanced authentication, and the
// protocol errors a 5.0 server answers with DISCONNECT.
func fuzzSeeds5() [][]byte {
	props := func(set func(*codec.Properties, func(codec.PropID))) codec.Properties {
		var pr codec.Properties
		set(&pr, pr.Set)
		return pr
	}
	conn5 := func(id string, clean bool, pr codec.Properties) []byte {
		return codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: clean,
			KeepAlive: 30, ClientID: []byte(id), Props: pr})
	}
	pub5 := func(topic string, qos byte, id uint16, alias uint16, payload string) []byte {
		p := codec.Publish{QoS: qos, TopicName: []byte(topic), PacketID: id, Payload: []byte(payload)}
		if alias != 0 {
			p.Props.TopicAlias = alias
			p.Props.Set(codec.PropTopicAlias)
		}
		return codec.AppendPublishV5(nil, &p)
	}
	user := []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
	full := codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, KeepAlive: 30, ClientID: []byte("fz-5a"),
		Props: props(func(pr *codec.Properties, set func(codec.PropID)) {
			pr.SessionExpiry, pr.ReceiveMaximum, pr.MaximumPacketSize, pr.TopicAliasMaximum, pr.RequestProblemInfo = 60, 5, 4096, 4, 1
			pr.User = user
			for _, id := range []codec.PropID{codec.PropSessionExpiry, codec.PropReceiveMaximum, codec.PropMaximumPacketSize,
				codec.PropTopicAliasMaximum, codec.PropRequestProblemInfo, codec.PropUser} {
				set(id)
			}
		}),
		WillFlag: true, WillQoS: 1, WillTopic: []byte(fuzzGoodTopic), WillMessage: []byte("will5"),
		WillProps: props(func(pr *codec.Properties, set func(codec.PropID)) {
			pr.WillDelay, pr.MessageExpiry, pr.ContentType = 0, 60, []byte("text/plain")
			set(codec.PropWillDelay)
			set(codec.PropMessageExpiry)
			set(codec.PropContentType)
		})}
	rich := codec.Publish{QoS: 1, TopicName: []byte("fz/5/a"), PacketID: 1, Payload: []byte("rich"),
		Props: props(func(pr *codec.Properties, set func(codec.PropID)) {
			pr.TopicAlias, pr.MessageExpiry, pr.PayloadFormat = 1, 30, 1
			pr.ContentType, pr.ResponseTopic, pr.CorrelationData, pr.User = []byte("text/plain"), []byte("fz/5/r"), []byte("c"), user
			for _, id := range []codec.PropID{codec.PropTopicAlias, codec.PropMessageExpiry, codec.PropPayloadFormat,
				codec.PropContentType, codec.PropResponseTopic, codec.PropCorrelationData, codec.PropUser} {
				set(id)
			}
		})}
	subID := props(func(pr *codec.Properties, _ func(codec.PropID)) { pr.SubscriptionIDs = []uint32{7} })
	sub5 := codec.AppendSubscribeV5(nil, 1, &subID, []codec.Subscription{
		{TopicFilter: []byte("fz/5/#"), QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 1},
		{TopicFilter: []byte("$share/g/fz/5/s"), QoS: 1},
		{TopicFilter: []byte("fz/5/+"), QoS: 0, RetainHandling: 2},
	})
	expiry := func(secs uint32) codec.Properties {
		return props(func(pr *codec.Properties, set func(codec.PropID)) {
			pr.SessionExpiry = secs
			set(codec.PropSessionExpiry)
		})
	}
	disconnectWill := expiry(0)
	authProps := func(method, data string) codec.Properties {
		return props(func(pr *codec.Properties, set func(codec.PropID)) {
			pr.AuthMethod, pr.AuthData = []byte(method), []byte(data)
			set(codec.PropAuthMethod)
			set(codec.PropAuthData)
		})
	}
	scramFirst := authProps(auth.SCRAMSHA256, "n,,n=dave,r=fyko+d2lbbFgONRv9qkxdawL")
	scramBad := authProps(auth.SCRAMSHA256, "c=biws,r=fyko+d2lbbFgONRv9qkxdawL,p=AAAA")
	unknown := authProps("FZ-NONE", "x")
	return [][]byte{
		// Properties everywhere, aliases, options and identifiers, a
		// shared subscription, 5.0 acks, and a DISCONNECT that sends the will.
		slices.Concat(codec.AppendConnect(nil, &full), sub5, codec.AppendPublishV5(nil, &rich),
			pub5("", 2, 2, 1, "by alias"), codec.AppendAckV5(nil, codec.TypePubrel, 2, 0, nil),
			pub5("fz/5/s", 0, 0, 0, "shared"), codec.AppendAckV5(nil, codec.TypePuback, 1, 0x10, nil),
			pub5(fuzzGoodTopic, 1, 3, 2, "to the good one"), pub5("", 0, 0, 2, "again by alias"),
			codec.AppendUnsubscribeV5(nil, 4, &codec.Properties{}, [][]byte{[]byte("fz/5/#"), []byte("$share/g/fz/5/s")}),
			codec.AppendPingreq(nil), codec.AppendDisconnectV5(nil, codec.ReasonDisconnectWithWill, &disconnectWill)),
		// Enhanced authentication: SCRAM's first step, then a bad proof.
		slices.Concat(conn5("fz-5auth", true, scramFirst), codec.AppendAuth(nil, codec.ReasonContinueAuthentication, &scramBad)),
		// A method the broker does not offer.
		conn5("fz-5m", true, unknown),
		// Re-authentication without a method at CONNECT.
		slices.Concat(conn5("fz-5r", true, codec.Properties{}), codec.AppendAuth(nil, codec.ReasonReAuthenticate, &scramFirst)),
		// A Session Expiry Interval on DISCONNECT after 0 at CONNECT [MQTT5-3.14.2-2].
		slices.Concat(conn5("fz-5d", true, codec.Properties{}), codec.AppendDisconnectV5(nil, codec.ReasonNormalDisconnection, ptr(expiry(10)))),
		// A topic alias above the maximum, and an alias never set.
		slices.Concat(conn5("fz-5x", true, codec.Properties{}), pub5("fz/5/x", 0, 0, 11, "high")),
		slices.Concat(conn5("fz-5y", true, codec.Properties{}), pub5("", 1, 1, 3, "unset")),
		// A persistent 5.0 session that subscribes to its own messages
		// and leaves them queued.
		slices.Concat(conn5("fz-5p", false, expiry(300)), sub5, pub5("fz/5/q", 1, 1, 0, "queued"), pub5("fz/5/q", 2, 2, 0, "queued2")),
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzEngine feeds a byte stream, in random-size chunks, to one connection
// of a real Engine with a well-behaved subscriber and publisher beside it.
// Whatever the bytes: no panic; the engine writes only well-formed server
// packets; once the fuzzed connection closes no clean session, connection,
// subscription or queue count is left behind; and a message published after
// the fuzz input still reaches the well-behaved subscriber.
func FuzzEngine(f *testing.F) {
	for i, s := range slices.Concat(fuzzSeeds(), fuzzSeeds5()) {
		f.Add(uint64(i), s)
		f.Add(uint64(1000+i), s)
	}
	// SCRAM-SHA-256 for 5.0 enhanced authentication, as cmd/glassmq offers
	// it: one password file for every input.
	file := filepath.Join(f.TempDir(), "passwd")
	setPassword(f, file, "dave", daveSCRAM, "-hash", "scram-sha-256")
	checker, err := auth.Load(auth.Options{PasswordFile: file})
	if err != nil {
		f.Fatal(err)
	}
	prev := log.Writer()
	log.SetOutput(io.Discard) // client errors are logged; thousands per second here
	f.Cleanup(func() { log.SetOutput(prev) })
	f.Fuzz(func(t *testing.T, chunkSeed uint64, data []byte) {
		r := newFuzzRig(t)
		r.e.SetEnhancedAuth(scramAuth{checker})
		fz := r.open()
		rng := rand.New(rand.NewPCG(chunkSeed, 0x9e3779b97f4a7c15))
		var written []byte
		for rest := data; len(rest) > 0 && !fz.t.closed; {
			k := 1 + rng.IntN(min(len(rest), 64))
			if rng.IntN(8) == 0 {
				k = len(rest)
			}
			r.feed(fz, rest[:k])
			rest = rest[k:]
			if fz.t.err != nil {
				t.Fatalf("engine broke the Transport contract: %v", fz.t.err)
			}
			written = append(written, r.take(fz)...)
			if err := r.serveGood(); err != nil {
				t.Fatal(err)
			}
			if r.good.t.closed {
				// Only a CONNECT with the same client ID may close it [MQTT-3.1.4-2].
				if reason := session.Reason(r.good.c.closeReason.Load()); reason != session.ReasonTakenOver {
					t.Fatalf("well-behaved subscriber closed (%v) by the fuzzed connection", reason)
				}
				r.connectGood(t, r.goodID+"x")
			}
			if r.pub.t.closed {
				t.Fatalf("well-behaved publisher closed (%v) by the fuzzed connection", session.Reason(r.pub.c.closeReason.Load()))
			}
		}
		// End the fuzzed connection: by the ticker's limits on some seeds,
		// as a network error on the others.
		if chunkSeed%3 == 0 && !fz.t.closed {
			r.e.checkConns(time.Now().Add(24 * time.Hour))
			r.settle()
		}
		r.closeFuzzed(fz, io.EOF)
		written = append(written, r.take(fz)...)
		level := serverLevel(written)
		if err := eachServerPacket(written, level, func(codec.Type, []byte) error { return nil }); err != nil {
			t.Fatalf("to the fuzzed connection: %v", err)
		}
		if len(written) > 0 && written[0] != 0x20 && (level != codec.ProtocolLevel5 || written[0] != 0xf0) {
			t.Fatalf("first packet to the fuzzed connection is % x, want CONNACK [MQTT-3.2.0-1] (or AUTH at 5.0 [MQTT5-4.12.0-2])", written[:min(len(written), 8)])
		}
		if err := r.serveGood(); err != nil {
			t.Fatal(err)
		}
		if err := r.checkEngine(map[string]bool{r.goodID: true, "fz-pub-77b2d0c4": true}); err != nil {
			t.Fatal(err)
		}
		// The well-behaved pair still works.
		r.goodSeen = nil
		r.feed(r.pub, codec.AppendPublish(nil, &codec.Publish{QoS: 1, TopicName: []byte(fuzzGoodTopic), PacketID: 1, Payload: []byte("after the fuzz")}))
		if got := r.take(r.pub); string(got) != "\x40\x02\x00\x01" {
			t.Fatalf("well-behaved publisher: got % x, want PUBACK 1", got)
		}
		if err := r.serveGood(); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(r.goodSeen, func(p []byte) bool { return bytes.Equal(p, []byte("after the fuzz")) }) {
			t.Fatalf("well-behaved subscriber got %q after the fuzz input, want \"after the fuzz\"", r.goodSeen)
		}
	})
}
