package session

import (
	"testing"
)

// TestHandoverAndAdopt: an offline session's subscriptions, in-flight
// window, queue and QoS 2 IDs leave one registry with Handover and resume
// in another with Adopt, session present; an owned session is not handed
// over.
func TestHandoverAndAdopt(t *testing.T) {
	type conn struct{}
	var a, b Registry[conn]
	a.Limits = Limits{QueueMax: 10, InflightMax: 1}
	b.Limits = a.Limits
	s, _ := a.Open("c 1", 1)
	c := &conn{}
	if _, ok := s.Claim(c, "", 1); !ok {
		t.Fatal("claim refused")
	}
	if _, ok := s.Attach(c, &ConnMeta{SessionExpiry: 60, ProtocolVersion: 4}, 1); !ok {
		t.Fatal("attach refused")
	}
	s.Subscribe(Subscription{TopicFilter: "t/#", QoS: 1})
	for _, p := range []string{"one", "two"} {
		s.Deliver(Queued{Msg: NewMessage([]byte("t/1"), []byte(p), 1, false), QoS: 1})
	}
	sent := s.Send(nil, 2) // one fits the window of 1: "one" in flight, "two" queued
	if len(sent) != 1 {
		t.Fatalf("sent %d, want 1", len(sent))
	}
	s.Receive(42)
	if _, ok := s.Handover(); ok {
		t.Fatal("Handover of an owned session: got ok, want refused")
	}
	s.Detach(c, ReasonTakenOver, "", 3)
	r, ok := s.Handover()
	if !ok {
		t.Fatal("Handover of an offline session refused")
	}
	s.End()
	if a.Lookup("c 1") != nil {
		t.Fatal("handed-over session still registered")
	}
	if len(r.Messages) != 2 || r.Messages[0].PacketID == 0 || string(r.Messages[1].Msg.Payload) != "two" || len(r.Rel) != 1 {
		t.Fatalf("handed over %+v, want one in flight, one queued, one QoS 2 ID", r)
	}
	got, _, ok := b.Adopt(&r, 4)
	if !ok {
		t.Fatal("Adopt refused")
	}
	c2 := &conn{}
	got.Claim(c2, "", 5)
	att, ok := got.Attach(c2, &ConnMeta{SessionExpiry: 60, ProtocolVersion: 4}, 5)
	if !ok || !att.Present || len(att.Resend) != 1 || got.QueueLen() != 1 || got.AwaitingRel() != 1 {
		t.Fatalf("adopted: present %v, resend %d, queued %d, awaiting rel %d; want true, 1, 1, 1",
			att.Present, len(att.Resend), got.QueueLen(), got.AwaitingRel())
	}
	if subs := got.Subscriptions(); len(subs) != 1 || subs[0].TopicFilter != "t/#" {
		t.Fatalf("subscriptions %+v, want t/#", subs)
	}
}

// TestAdoptReplacingWritesAfterDelete: a session adopted over an idle one
// of the same client ID deletes the old one's stored state before writing
// its own, and ending the replaced session afterwards deletes nothing: a
// store (or a replica) applying ops in order keeps the adopted session.
func TestAdoptReplacingWritesAfterDelete(t *testing.T) {
	var log opLog
	r := newReg(10, 1, &log)
	c := &conn{name: "old"}
	s, _ := attach(t, r, "c", c, false, 1)
	s.Detach(c, ReasonClient, "", 2)
	log.kinds() // forget the old session's own writes
	handed := Restored{Record: Record{ClientID: "c", CreateTime: 3, Expiry: 60},
		Messages: []StoredMessage{{Seq: 9, Msg: NewMessage([]byte("t"), []byte("p"), 1, false), QoS: 1}}}
	_, replaced, ok := r.Adopt(&handed, 4)
	if !ok || replaced != s {
		t.Fatalf("Adopt: replaced %v, ok %v; want the idle session, true", replaced, ok)
	}
	replaced.End()
	if got, want := log.kinds(), "delete-session session put:9"; got != want {
		t.Fatalf("ops %q, want %q", got, want)
	}
}
