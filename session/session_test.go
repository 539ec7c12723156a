package session

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// conn stands for the broker's connection type: a session only stores,
// compares and returns it.
type conn struct{ name string }

// opLog is a Store that records every op in order, for checking what a
// session persists and when. Its tickets count ops.
type opLog struct {
	mu  sync.Mutex
	ops []Op
}

func (l *opLog) Apply(op Op) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, op)
	return uint64(len(l.ops))
}
func (l *opLog) WhenDurable(uint64, func(error)) {}
func (l *opLog) Durable() uint64                 { return 0 }
func (l *opLog) Err() error                      { return nil }
func (l *opLog) Load() ([]Restored, []*Message, error) {
	return nil, nil, nil
}
func (l *opLog) Close() error { return nil }

// kinds returns the recorded ops as short strings and forgets them.
func (l *opLog) kinds() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := map[OpKind]string{OpPutSession: "session", OpDeleteSession: "delete-session", OpPutMessage: "put",
		OpInflight: "inflight", OpReleased: "released", OpDeleteMessage: "delete", OpPutRel: "rel", OpDeleteRel: "unrel"}
	var out []string
	for _, op := range l.ops {
		s := names[op.Kind]
		switch op.Kind {
		case OpPutMessage, OpReleased, OpDeleteMessage:
			s += fmt.Sprint(":", op.Seq)
		case OpInflight:
			s += fmt.Sprint(":", op.Seq, "/", op.PacketID)
		case OpPutRel, OpDeleteRel:
			s += fmt.Sprint(":", op.PacketID)
		}
		out = append(out, s)
	}
	l.ops = nil
	return strings.Join(out, " ")
}

func newReg(queueMax, inflightMax int, st Store) *Registry[conn] {
	r := &Registry[conn]{Limits: Limits{QueueMax: queueMax, InflightMax: inflightMax}, Queued: new(atomic.Int64)}
	if st != nil {
		r.Store = st
	}
	return r
}

// attach claims and attaches c to the session of id, failing the test
// when either step refuses.
func attach(t *testing.T, r *Registry[conn], id string, c *conn, clean bool, now int64) (*Session[conn], Attached) {
	t.Helper()
	s, _ := r.Open(id, now)
	if old, ok := s.Claim(c, "test", now); !ok || old != nil {
		t.Fatalf("claim %s: old %v ok %v; want nil true", id, old, ok)
	}
	m := &ConnMeta{Address: c.name, CleanSession: clean}
	if !clean {
		m.SessionExpiry = 60
	}
	a, ok := s.Attach(c, m, now)
	if !ok {
		t.Fatalf("attach %s refused", id)
	}
	return s, a
}

func msg(payload string) *Message { return NewMessage([]byte("t"), []byte(payload), 2, false) }

func payloads(fs []Inflight) string {
	var out []string
	for _, f := range fs {
		p := "-"
		if f.Msg != nil {
			p = string(f.Msg.Payload)
		}
		out = append(out, fmt.Sprintf("%s@%d", p, f.PacketID))
	}
	return strings.Join(out, " ")
}

func TestAttachLifecycle(t *testing.T) {
	r := newReg(10, 10, nil)
	a1, a2 := &conn{"a1"}, &conn{"a2"}

	s, at := attach(t, r, "x", a1, false, 1)
	if at.Present {
		t.Fatal("first CONNECT: session present, want not present [MQTT-3.2.2-2]")
	}
	if s.Owner() != a1 || !s.IsConnected() {
		t.Fatalf("after Attach: owner %v connected %v", s.Owner(), s.IsConnected())
	}
	if wasOwner, ended := s.Detach(a1, ReasonClient, "", 2); !wasOwner || ended {
		t.Fatalf("persistent Detach: wasOwner %v ended %v; want true false", wasOwner, ended)
	}
	if s.Owner() != nil || s.IsConnected() || r.Lookup("x") != s {
		t.Fatal("persistent session not kept offline after Detach")
	}
	_, at = attach(t, r, "x", a2, false, 3)
	if !at.Present {
		t.Fatal("resumed persistent session: present false, want true [MQTT-3.2.2-2]")
	}

	// Takeover: a third connection claims while a2 is attached.
	a3 := &conn{"a3"}
	old, ok := s.Claim(a3, "a3", 4)
	if !ok || old != a2 || s.Owner() != nil {
		t.Fatalf("takeover claim: old %v ok %v owner %v; want a2 true nil", old, ok, s.Owner())
	}
	// The old connection closes afterwards: it is no longer the owner.
	if wasOwner, _ := s.Detach(a2, ReasonNetworkError, "", 5); wasOwner {
		t.Fatal("Detach of a taken-over connection reported it as owner")
	}
	var info Info
	s.Info(&info)
	if info.DisconnectReason != ReasonTakenOver || info.DisconnectDetail != "by a3" {
		t.Fatalf("last disconnect %v %q, want taken_over \"by a3\"", info.DisconnectReason, info.DisconnectDetail)
	}
	// A fourth claim supersedes a3's before it attaches.
	a4 := &conn{"a4"}
	s.Claim(a4, "", 6)
	if _, ok := s.Attach(a3, &ConnMeta{SessionExpiry: 60}, 7); ok {
		t.Fatal("Attach of a superseded claim succeeded")
	}
	if ended := s.Abandon(a3, true); ended {
		t.Fatal("Abandon of a superseded claim ended the session")
	}
	if _, ok := s.Attach(a4, &ConnMeta{CleanSession: true}, 8); !ok {
		t.Fatal("Attach of the newest claim refused")
	}
	// A clean session ends with its connection [MQTT-3.1.2-6].
	if wasOwner, ended := s.Detach(a4, ReasonClient, "", 9); !wasOwner || !ended {
		t.Fatalf("clean Detach: wasOwner %v ended %v; want true true", wasOwner, ended)
	}
	if r.Lookup("x") != nil || r.Len() != 0 {
		t.Fatal("ended session still registered")
	}
	if _, ok := s.Claim(&conn{"late"}, "", 10); ok {
		t.Fatal("Claim of an ended session succeeded; want a new lookup")
	}
}

func TestAbandonCleanEnds(t *testing.T) {
	r := newReg(10, 10, nil)
	c := &conn{"c"}
	s, _ := r.Open("y", 0)
	s.Claim(c, "", 0)
	if !s.Abandon(c, true) || r.Lookup("y") != nil {
		t.Fatal("an abandoned clean claim left the session registered")
	}
	s2, _ := r.Open("z", 0)
	s2.Claim(c, "", 0)
	if s2.Abandon(c, false) || r.Lookup("z") != s2 {
		t.Fatal("an abandoned persistent claim ended the session")
	}
}

func TestCleanStartDropsState(t *testing.T) {
	r := newReg(10, 2, nil)
	a, b := &conn{"a"}, &conn{"b"}
	s, _ := attach(t, r, "c", a, false, 1)
	s.Subscribe(Subscription{TopicFilter: "f/1", QoS: 1})
	for i := range 4 {
		s.Deliver(Queued{Msg: msg(fmt.Sprint(i)), QoS: 1})
	}
	s.Send(nil, 0)
	s.Receive(7)
	s.Detach(a, ReasonClient, "", 2)
	if got := r.Queued.Load(); got != 2 {
		t.Fatalf("queued gauge %d, want 2", got)
	}
	_, at := attach(t, r, "c", b, true, 3)
	if at.Present || len(at.Dropped) != 1 || len(at.Resend) != 0 {
		t.Fatalf("clean start: present %v dropped %v resend %d; want false [f/1] 0 [MQTT-3.1.2-6]", at.Present, at.Dropped, len(at.Resend))
	}
	var info Info
	s.Info(&info)
	if info.QueueLen != 0 || info.InflightLen != 0 || info.AwaitingRel != 0 || len(info.Subscriptions) != 0 || r.Queued.Load() != 0 {
		t.Fatalf("clean start kept state: %+v, gauge %d", info, r.Queued.Load())
	}
}

func TestWindowAndAcks(t *testing.T) {
	r := newReg(3, 2, nil)
	c := &conn{"c"}
	s, _ := attach(t, r, "w", c, true, 0)
	for i := range 5 {
		_, dropped, _ := s.Deliver(Queued{Msg: msg(fmt.Sprint(i)), QoS: byte(1 + i%2)})
		if dropped != (i >= 3) {
			t.Fatalf("deliver %d: dropped %v, want %v", i, dropped, i >= 3)
		}
	}
	// Messages 0 and 1 were dropped (oldest first); 2, 3, 4 remain.
	if got := payloads(s.Send(nil, 0)); got != "2@1 3@2" {
		t.Fatalf("first Send: %s, want 2@1 3@2 (window of 2, IDs from 1)", got)
	}
	if got := s.Send(nil, 0); len(got) != 0 {
		t.Fatalf("Send with a full window gave %s", payloads(got))
	}
	// 2 was QoS 1 (i=2 -> QoS 1), 3 was QoS 2.
	for _, tc := range []struct {
		kind codec.Type
		id   uint16
		ok   bool
		err  bool
	}{
		{codec.TypePubrec, 1, false, true},  // PUBREC for a QoS 1 delivery
		{codec.TypePubcomp, 1, false, true}, // PUBCOMP for a QoS 1 delivery
		{codec.TypePuback, 2, false, true},  // PUBACK for a QoS 2 delivery
		{codec.TypePubcomp, 2, false, true}, // PUBCOMP before PUBREC
		{codec.TypePuback, 9, false, false}, // not in flight: ignored
		{codec.TypePubcomp, 9, false, false},
		{codec.TypePuback, 1, true, false},  // completes QoS 1
		{codec.TypePuback, 1, false, false}, // duplicate: ignored
		{codec.TypePubrec, 2, true, false},  // releases QoS 2
		{codec.TypePubrec, 2, true, false},  // repeated PUBREC: PUBREL again
		{codec.TypePuback, 2, false, true},  // PUBACK for a released QoS 2
		{codec.TypePubcomp, 2, true, false}, // completes QoS 2
	} {
		ok, err := s.Ack(tc.kind, tc.id)
		if ok != tc.ok || (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrWrongAck)) {
			t.Fatalf("Ack(%s, %d): %v, %v; want ok %v, wrong-ack error %v", tc.kind, tc.id, ok, err, tc.ok, tc.err)
		}
	}
	if got := payloads(s.Send(nil, 0)); got != "4@3" {
		t.Fatalf("Send after acks: %s, want 4@3", got)
	}
	var info Info
	s.Info(&info)
	if info.QueueDropped != 2 || info.QueueLen != 0 || info.InflightLen != 1 || r.Queued.Load() != 0 {
		t.Fatalf("dropped %d queued %d inflight %d gauge %d; want 2 0 1 0", info.QueueDropped, info.QueueLen, info.InflightLen, r.Queued.Load())
	}
}

func TestPacketIDsSkipInflight(t *testing.T) {
	r := newReg(100, 3, nil)
	s, _ := attach(t, r, "ids", &conn{"c"}, true, 0)
	s.loop.nextPacketID = 65533
	for range 5 {
		s.Deliver(Queued{Msg: msg("m"), QoS: 1})
	}
	if got := payloads(s.Send(nil, 0)); got != "m@65534 m@65535 m@1" {
		t.Fatalf("IDs across the wrap: %s, want 65534 65535 1 (0 is never used [MQTT-2.3.1-1])", got)
	}
	s.Ack(codec.TypePuback, 65535)
	s.loop.nextPacketID = 65533 // the next candidates 65534 and 1 are still in flight
	if got := payloads(s.Send(nil, 0)); got != "m@65535" {
		t.Fatalf("ID after skipping: %s, want 65535 [MQTT-2.3.1-2]", got)
	}
}

func TestResumeRedelivers(t *testing.T) {
	st := &opLog{}
	r := newReg(10, 10, st)
	a, b := &conn{"a"}, &conn{"b"}
	s, _ := attach(t, r, "r", a, false, 1)
	s.Deliver(Queued{Msg: msg("one"), QoS: 1})
	s.Deliver(Queued{Msg: msg("two"), QoS: 2})
	s.Deliver(Queued{Msg: msg("three"), QoS: 2})
	s.Send(nil, 0)
	s.Ack(codec.TypePubrec, 3) // "three" released
	old, _ := s.Claim(b, "b", 2)
	if old != a {
		t.Fatal("takeover did not return the attached connection")
	}
	at, ok := s.Attach(b, &ConnMeta{SessionExpiry: 60}, 3)
	if !ok || !at.Present {
		t.Fatal("resume refused or not present")
	}
	if got := payloads(at.Resend); got != "one@1 two@2 -@3" {
		t.Fatalf("resend window: %s, want one@1 two@2 -@3 (PUBLISH DUP 1 twice, then PUBREL) [MQTT-4.4.0-1]", got)
	}
	if !at.Resend[2].Released {
		t.Fatal("released entry not marked for PUBREL")
	}
}

func TestInboundQoS2(t *testing.T) {
	st := &opLog{}
	r := newReg(10, 10, st)
	s, _ := attach(t, r, "q2", &conn{"c"}, false, 0)
	st.kinds()
	if first, _ := s.Receive(5); !first {
		t.Fatal("first PUBLISH 5 not first")
	}
	if first, ticket := s.Receive(5); first || ticket != 0 {
		t.Fatal("duplicate PUBLISH 5 before PUBREL treated as new [MQTT-4.3.3-2]")
	}
	if s.Release(5) == 0 {
		t.Fatal("PUBREL 5 wrote nothing")
	}
	if s.Release(5) != 0 {
		t.Fatal("second PUBREL 5 wrote again")
	}
	if first, _ := s.Receive(5); !first {
		t.Fatal("PUBLISH 5 after PUBREL not a new message")
	}
	if got := st.kinds(); got != "rel:5 unrel:5 rel:5" {
		t.Fatalf("store ops %q", got)
	}
}

func TestPersistOrder(t *testing.T) {
	st := &opLog{}
	r := newReg(2, 1, st)
	a := &conn{"a"}
	s, _ := attach(t, r, "p", a, false, 1)
	s.Subscribe(Subscription{TopicFilter: "t", QoS: 2})
	s.Save()
	s.Deliver(Queued{Msg: msg("1"), QoS: 1})
	s.Deliver(Queued{Msg: msg("2"), QoS: 2})
	s.Deliver(Queued{Msg: msg("3"), QoS: 2}) // queue of 2: drops 1
	s.Send(nil, 0)
	s.Ack(codec.TypePubrec, 1)
	s.Ack(codec.TypePubcomp, 1)
	s.Send(nil, 0)
	s.Ack(codec.TypePuback, 2) // wrong kind: nothing written
	s.Detach(a, ReasonNetworkError, "", 5)
	want := "session session put:1 put:2 put:3 delete:1 inflight:2/1 released:2 delete:2 inflight:3/2 session"
	if got := st.kinds(); got != want {
		t.Fatalf("store ops\n got %s\nwant %s", got, want)
	}
	s.Claim(&conn{"b"}, "", 6)
	s.Attach(&conn{"b"}, &ConnMeta{CleanSession: true}, 7) // a different *conn: refused
	s2, _ := r.Open("p", 7)
	if s2 != s {
		t.Fatal("registry replaced the session")
	}
	b := &conn{"b2"}
	s.Claim(b, "", 8)
	s.Attach(b, &ConnMeta{CleanSession: true}, 8)
	if got := st.kinds(); got != "delete-session" {
		t.Fatalf("clean start of a persistent session wrote %q, want delete-session only", got)
	}
	s.Deliver(Queued{Msg: msg("x"), QoS: 1})
	s.Send(nil, 0)
	if got := st.kinds(); got != "" {
		t.Fatalf("clean session wrote %q, want nothing", got)
	}
}

func TestExpireAndEnd(t *testing.T) {
	st := &opLog{}
	r := newReg(10, 10, st)
	a := &conn{"a"}
	s, _ := attach(t, r, "e", a, false, 1)
	s.Subscribe(Subscription{TopicFilter: "f", QoS: 1})
	if s.Expire(100) {
		t.Fatal("a connected session expired")
	}
	s.Detach(a, ReasonClient, "", 50)
	s.Deliver(Queued{Msg: msg("m"), QoS: 1})
	if s.Expire(50 + 60_000 - 1) {
		t.Fatal("expired before its time")
	}
	st.kinds()
	if !s.Expire(50 + 60_000) {
		t.Fatal("not expired at its limit")
	}
	subs := s.End()
	if len(subs) != 1 || r.Lookup("e") != nil || r.Queued.Load() != 0 {
		t.Fatalf("End: subs %v, registered %v, gauge %d", subs, r.Lookup("e") != nil, r.Queued.Load())
	}
	if got := st.kinds(); got != "delete-session" {
		t.Fatalf("End wrote %q, want delete-session", got)
	}
	if c, _, _ := s.Deliver(Queued{Msg: msg("late"), QoS: 1}); c != nil || s.QueueLen() != 0 {
		t.Fatal("an ended session took a message")
	}
}

func TestRestore(t *testing.T) {
	r := newReg(10, 10, nil)
	rs := &Restored{
		Record: Record{ClientID: "back", CreateTime: 1, ConnectTime: 5, Expiry: 60, Subscriptions: []Subscription{{TopicFilter: "a/#", QoS: 1}}},
		Messages: []StoredMessage{
			{Seq: 3, Msg: msg("inflight"), QoS: 1, PacketID: 9},
			{Seq: 4, Msg: msg("released"), QoS: 2, PacketID: 10, Released: true},
			{Seq: 7, Msg: msg("queued"), QoS: 2},
		},
		Rel: []uint16{42},
	}
	s, ok := r.Restore(rs, 100)
	if !ok || s.DisconnectTime() != 100 || s.QueueLen() != 1 || r.Queued.Load() != 1 {
		t.Fatalf("restore: ok %v disconnect %d queue %d gauge %d", ok, s.DisconnectTime(), s.QueueLen(), r.Queued.Load())
	}
	if _, ok := r.Restore(rs, 100); ok {
		t.Fatal("restored the same client twice")
	}
	c := &conn{"c"}
	s.Claim(c, "", 200)
	at, _ := s.Attach(c, &ConnMeta{SessionExpiry: 60}, 200)
	if !at.Present || payloads(at.Resend) != "inflight@9 released@10" {
		t.Fatalf("resume after restore: present %v resend %s", at.Present, payloads(at.Resend))
	}
	if first, _ := s.Receive(42); first {
		t.Fatal("restored QoS 2 ID 42 treated as new")
	}
	if got := payloads(s.Send(nil, 0)); got != "queued@11" {
		t.Fatalf("Send after restore: %s, want queued@11 (IDs continue past the restored ones)", got)
	}
}

func TestSubscriptionsKeepFirstOrder(t *testing.T) {
	s, _ := newReg(3, 10, nil).Open("s", 0)
	s.Subscribe(Subscription{TopicFilter: "a", QoS: 0})
	s.Subscribe(Subscription{TopicFilter: "b", QoS: 1})
	if added := s.Subscribe(Subscription{TopicFilter: "a", QoS: 2}); added {
		t.Fatal("re-subscribe reported as new")
	}
	s.Subscribe(Subscription{TopicFilter: "c", QoS: 1})
	s.Unsubscribe("b")
	got := fmt.Sprint(s.Subscriptions())
	if want := "[{a 2 false false 0 0} {c 1 false false 0 0}]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestHistoryBounded(t *testing.T) {
	r := newReg(3, 10, nil)
	var s *Session[conn]
	for i := 0; i < 100; i++ {
		c := &conn{"127.0.0.1:1"}
		s, _ = attach(t, r, "h", c, false, int64(i))
		s.Detach(c, ReasonNetworkError, "", int64(i))
	}
	var info Info
	s.Info(&info)
	if len(info.History) != historyMax || info.History[len(info.History)-1].Reason != ReasonNetworkError {
		t.Fatalf("got %d events, want %d ending with a disconnect", len(info.History), historyMax)
	}
	if info.Connections != 100 || info.Connected {
		t.Fatalf("got connections %d connected %v", info.Connections, info.Connected)
	}
}

// TestHistoryWhileConnected: the history reads the same whether the
// current connection's connect event is stored or implied by the session:
// events in order with their addresses and reasons, the connected client's
// connect last, at most historyMax in all; a connected session that never
// disconnected stores no history slice.
func TestHistoryWhileConnected(t *testing.T) {
	r := newReg(3, 10, nil)
	c1 := &conn{"10.0.0.1:1"}
	s, _ := attach(t, r, "h", c1, false, 5)
	if s.history.Load() != nil {
		t.Fatal("history stored for a session that never disconnected, want none")
	}
	var info Info
	s.Info(&info)
	if got := fmt.Sprint(info.History); got != "[{5 true 10.0.0.1:1  }]" {
		t.Fatalf("connected once: history %s, want [{5 true 10.0.0.1:1  }]", got)
	}
	s.Detach(c1, ReasonKeepAlive, "", 9)
	c2 := &conn{"10.0.0.2:2"}
	old, ok := s.Claim(c2, "test", 12)
	if !ok || old != nil {
		t.Fatalf("claim: old %v ok %v", old, ok)
	}
	if _, ok := s.Attach(c2, &ConnMeta{Address: c2.name, SessionExpiry: 60}, 12); !ok {
		t.Fatal("attach failed")
	}
	s.Info(&info)
	want := "[{5 true 10.0.0.1:1  } {9 false 10.0.0.1:1 keepalive_timeout } {12 true 10.0.0.2:2  }]"
	if got := fmt.Sprint(info.History); got != want {
		t.Fatalf("history %s, want %s", got, want)
	}
	for i := range 40 { // past the bound, ending connected
		c := &conn{"10.0.0.3:" + fmt.Sprint(i)}
		cur := s.Owner()
		s.Detach(cur, ReasonNetworkError, "", int64(100+2*i))
		if _, ok := s.Claim(c, "test", int64(101+2*i)); !ok {
			t.Fatal("claim failed")
		}
		if _, ok := s.Attach(c, &ConnMeta{Address: c.name, SessionExpiry: 60}, int64(101+2*i)); !ok {
			t.Fatal("attach failed")
		}
	}
	s.Info(&info)
	h := info.History
	if len(h) != historyMax || !h[len(h)-1].Connected || h[len(h)-1].Time != 179 || h[len(h)-1].Address != "10.0.0.3:39" ||
		h[len(h)-2].Connected || h[len(h)-2].Time != 178 || h[len(h)-2].Address != "10.0.0.3:38" {
		t.Fatalf("after 40 more connections: %d events ending %+v, want %d ending with the disconnect at 178 and the connect at 179",
			len(h), h[max(0, len(h)-2):], historyMax)
	}
}

// TestConcurrentDeliverAndTakeover delivers from several goroutines while
// connections take the session over and ack: nothing is lost or counted
// twice, and the gauge matches the queue.
func TestConcurrentDeliverAndTakeover(t *testing.T) {
	r := newReg(1_000_000, 50, nil)
	s, _ := attach(t, r, "busy", &conn{"first"}, false, 0)
	const producers, each = 4, 2000
	var wg sync.WaitGroup
	for g := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				s.Deliver(Queued{Msg: msg(fmt.Sprint(g, "/", i)), QoS: 1})
			}
		}()
	}
	got := map[string]bool{}
	var mu sync.Mutex // the "loop": one goroutine at a time owns the window
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for n := 0; ; n++ {
		mu.Lock()
		c := &conn{fmt.Sprint("c", n)}
		s.Claim(c, "", int64(n))
		at, ok := s.Attach(c, &ConnMeta{SessionExpiry: 60}, int64(n))
		if !ok {
			t.Fatal("attach refused")
		}
		for _, f := range append(slices.Clone(at.Resend), s.Send(nil, 0)...) {
			got[string(f.Msg.Payload)] = true
			s.Ack(codec.TypePuback, f.PacketID)
		}
		mu.Unlock()
		select {
		case <-done:
			for {
				fs := s.Send(nil, 0)
				if len(fs) == 0 {
					break
				}
				for _, f := range fs {
					got[string(f.Msg.Payload)] = true
					s.Ack(codec.TypePuback, f.PacketID)
				}
			}
			if len(got) != producers*each || r.Queued.Load() != 0 || s.QueueLen() != 0 {
				t.Fatalf("delivered %d distinct, want %d; gauge %d queue %d", len(got), producers*each, r.Queued.Load(), s.QueueLen())
			}
			return
		default:
		}
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := newReg(1, 1, nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				id := fmt.Sprintf("c-%d", i)
				s, _ := r.Open(id, 0)
				if r.Lookup(id) != s && r.Lookup(id) != nil {
					t.Errorf("lookup %s returned another session", id)
				}
				if g == 0 && i%2 == 0 {
					c := &conn{id}
					if _, ok := s.Claim(c, "", 0); ok && s.Abandon(c, true) {
						s.End()
					}
				}
			}
		}(g)
	}
	var info Info
	for i := 0; i < 1000; i++ {
		if s := r.Lookup(fmt.Sprintf("c-%d", i)); s != nil {
			s.Info(&info) // readers beside the writers
		}
	}
	wg.Wait()
	n := 0
	r.Range(func(*Session[conn]) bool { n++; return true })
	if n != r.Len() {
		t.Fatalf("Range saw %d, Len says %d", n, r.Len())
	}
}

func BenchmarkRegistryLookup(b *testing.B) {
	r := newReg(1, 1, nil)
	for i := 0; i < 100000; i++ {
		r.Open(fmt.Sprintf("client-%d", i), 0)
	}
	b.ReportAllocs()
	i := 0
	ids := []string{"client-1", "client-50000", "client-99999", "missing"}
	for b.Loop() {
		r.Lookup(ids[i&3])
		i++
	}
}

func BenchmarkSessionInfo(b *testing.B) {
	r := newReg(10, 10, nil)
	s, _ := r.Open("x", 0)
	c := &conn{"127.0.0.1:1"}
	s.Claim(c, "", 1)
	s.Attach(c, &ConnMeta{Address: "127.0.0.1:1", ProtocolVersion: 4}, 1)
	for i := 0; i < 4; i++ {
		s.Subscribe(Subscription{TopicFilter: fmt.Sprint("t/", i), QoS: 1})
	}
	var info Info
	s.Info(&info)
	b.ReportAllocs()
	for b.Loop() {
		s.Info(&info)
	}
}

// BenchmarkDeliverSendAck is one QoS 1 delivery through a session: queued,
// moved into the window, acknowledged.
func BenchmarkDeliverSendAck(b *testing.B) {
	r := newReg(1000, 100, nil)
	s, _ := r.Open("d", 0)
	c := &conn{"c"}
	s.Claim(c, "", 0)
	s.Attach(c, &ConnMeta{CleanSession: true}, 0)
	m := msg("payload")
	var buf []Inflight
	b.ReportAllocs()
	for b.Loop() {
		s.Deliver(Queued{Msg: m, QoS: 1})
		buf = s.Send(buf[:0], 0)
		s.Ack(codec.TypePuback, buf[0].PacketID)
	}
}

// TestReleasedLeaveWindow: a QoS 2 delivery whose PUBREC arrived holds no
// message, so it leaves the window of InflightMax messages; released
// entries have a bound of their own.
func TestReleasedLeaveWindow(t *testing.T) {
	r := newReg(100, 2, nil)
	s, _ := attach(t, r, "rw", &conn{"c"}, true, 0)
	for range 10 {
		s.Deliver(Queued{Msg: msg("m"), QoS: 2})
	}
	if got := len(s.Send(nil, 0)); got != 2 {
		t.Fatalf("first Send: %d, want 2", got)
	}
	s.Ack(codec.TypePubrec, 1)
	if got := payloads(s.Send(nil, 0)); got != "m@3" {
		t.Fatalf("after one PUBREC: %s, want m@3", got)
	}
	s.Ack(codec.TypePubrec, 2)
	s.Ack(codec.TypePubrec, 3)
	// Three released, none awaiting PUBREC: room for one more message only,
	// as released entries are bounded by InflightMax too (4 in all).
	if got := payloads(s.Send(nil, 0)); got != "m@4" {
		t.Fatalf("with three released: %s, want m@4", got)
	}
	s.Ack(codec.TypePubcomp, 1)
	s.Ack(codec.TypePubcomp, 2)
	if got := payloads(s.Send(nil, 0)); got != "m@5" {
		t.Fatalf("after two PUBCOMP: %s, want m@5 (one PUBREC still awaited)", got)
	}
	var info Info
	s.Info(&info)
	if info.InflightLen != 3 {
		t.Fatalf("in flight %d, want 3 (released ones count for the operator)", info.InflightLen)
	}
}

// TestMessageExpiry: a queued message whose expiry passed is dropped at
// Send and counted [MQTT5-3.3.2-5]; one whose delivery started stays in
// flight and is sent again on resume [MQTT-4.4.0-1].
func TestMessageExpiry(t *testing.T) {
	st := &opLog{}
	r := newReg(10, 1, st)
	a := &conn{"a"}
	s, _ := attach(t, r, "x", a, false, 0)
	mk := func(p string, exp int64) *Message {
		return NewMessageProps([]byte("t"), []byte(p), []byte{1, 2}, 1, false, exp)
	}
	s.Deliver(Queued{Msg: mk("inflight", 1000), QoS: 1})
	s.Deliver(Queued{Msg: mk("stale", 500), QoS: 1})
	s.Deliver(Queued{Msg: mk("fresh", 0), QoS: 1})
	if got := payloads(s.Send(nil, 100)); got != "inflight@1" {
		t.Fatalf("Send: %s", got)
	}
	s.Detach(a, ReasonClient, "", 200)
	b := &conn{"b"}
	s.Claim(b, "", 1500)
	at, _ := s.Attach(b, &ConnMeta{SessionExpiry: 60, ProtocolVersion: 5}, 1500)
	if got := payloads(at.Resend); got != "inflight@1" {
		t.Fatalf("resend after expiry: %s, want inflight@1 (its delivery had started)", got)
	}
	s.Ack(codec.TypePuback, 1)
	if got := payloads(s.Send(nil, 1500)); got != "fresh@2" {
		t.Fatalf("Send after expiry: %s, want fresh@2 (stale dropped)", got)
	}
	var info Info
	s.Info(&info)
	if info.Expired != 1 || info.QueueLen != 0 || r.Queued.Load() != 0 {
		t.Fatalf("expired %d queue %d gauge %d; want 1 0 0", info.Expired, info.QueueLen, r.Queued.Load())
	}
	if got := st.kinds(); !strings.Contains(got, "session session delete:1 delete:2") {
		t.Fatalf("store ops %q: want the in-flight 1 deleted only by its PUBACK, then the expired queued 2", got)
	}
	if m := mk("p", 0); string(m.Props) != "\x01\x02" || string(m.Payload) != "p" || string(m.Topic) != "t" {
		t.Fatalf("NewMessageProps: %q %q %q", m.Topic, m.Props, m.Payload)
	}
}

// TestReceiveMaximum: a 5.0 client's Receive Maximum narrows the window,
// and its QoS 2 deliveries count until PUBCOMP [MQTT5-4.9.0-2].
func TestReceiveMaximum(t *testing.T) {
	r := newReg(100, 10, nil)
	c := &conn{"c"}
	s, _ := r.Open("v5", 0)
	s.Claim(c, "", 0)
	s.Attach(c, &ConnMeta{CleanSession: true, ProtocolVersion: 5, ReceiveMaximum: 2}, 0)
	for range 5 {
		s.Deliver(Queued{Msg: msg("m"), QoS: 2})
	}
	if got := payloads(s.Send(nil, 0)); got != "m@1 m@2" {
		t.Fatalf("Send: %s, want two (receive maximum 2)", got)
	}
	s.Ack(codec.TypePubrec, 1)
	if got := s.Send(nil, 0); len(got) != 0 {
		t.Fatalf("Send after PUBREC: %s, want nothing until PUBCOMP", payloads(got))
	}
	s.Ack(codec.TypePubcomp, 1)
	if got := payloads(s.Send(nil, 0)); got != "m@3" {
		t.Fatalf("Send after PUBCOMP: %s, want m@3", got)
	}
}

// TestClaimWaitsForLeavingOwner: a third CONNECT that claims while the
// owner taken over by a second one has not closed yet must also wait for
// that close, or two connections would touch the session at once.
func TestClaimWaitsForLeavingOwner(t *testing.T) {
	r := newReg(10, 10, nil)
	a, b, d := &conn{"a"}, &conn{"b"}, &conn{"d"}
	s, _ := attach(t, r, "x", a, false, 0)
	if old, _ := s.Claim(b, "", 1); old != a {
		t.Fatalf("second claim: old %v, want a", old)
	}
	if old, _ := s.Claim(d, "", 2); old != a {
		t.Fatalf("third claim while a is still open: old %v, want a (to wait for its close)", old)
	}
	s.Detach(a, ReasonTakenOver, "", 3) // a's loop closes it
	e := &conn{"e"}
	if old, _ := s.Claim(e, "", 4); old != nil {
		t.Fatalf("claim after a closed: old %v, want nil", old)
	}
	if _, ok := s.Attach(e, &ConnMeta{SessionExpiry: 60}, 5); !ok {
		t.Fatal("the newest claim could not attach")
	}
}
