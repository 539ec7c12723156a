package broker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/auth"
)

// checkerAuth is what cmd/glassmq passes to SetAuthorizer: an auth.Checker
// reading real password and ACL files.
type checkerAuth struct{ *auth.Checker }

func (a checkerAuth) For(user, clientID string) Permissions { return a.Checker.For(user, clientID) }

func (a checkerAuth) Authenticate(clientID, username string, password []byte, hasUsername, hasPassword bool, tlsCN string) (byte, string, bool) {
	r := a.Checker.Check(auth.Credentials{ClientID: clientID, Username: username, Password: password,
		HasUsername: hasUsername, HasPassword: hasPassword, TLSCommonName: tlsCN})
	return r.Code, r.User, r.Authenticated
}

// startAuthBroker is startBroker with the engine checking CONNECT,
// SUBSCRIBE and PUBLISH against the files of o.
func startAuthBroker(t testing.TB, o auth.Options, mod func(*Config)) *Server {
	t.Helper()
	checker, err := auth.Load(o)
	if err != nil {
		t.Fatal(err)
	}
	return startBrokerWith(t, checkerAuth{checker}, mod)
}

// startBrokerWith is startBroker with a checking CONNECT, SUBSCRIBE and
// PUBLISH.
func startBrokerWith(t testing.TB, a Authorizer, mod func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.DataDir = t.TempDir()
	cfg.SysInterval = 0
	cfg.LogInterval = time.Hour
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	e := NewEngine(cfg)
	e.SetAuthorizer(a)
	s := NewServer(e)
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// TestACLNarrowerDenyWithholdsTopics: ACL rules decide per topic, not per
// filter text. With "deny subscribe all secret/#" before "allow pubsub all
// #", paho's SUBSCRIBE "#" and "+/+" are granted (not 0x80), nothing under
// secret/ reaches those clients, live or retained, at QoS 0 or 1, while
// every other topic does; SUBSCRIBE "secret/x", which the deny rule covers,
// gets 0x80.
func TestACLNarrowerDenyWithholdsTopics(t *testing.T) {
	acl := writeTemp(t, "acl.conf", "deny subscribe all secret/#\nallow pubsub all #\n")
	s := startAuthBroker(t, auth.Options{ACLFile: acl, AllowAnonymous: true}, nil)
	pub := pahoClient(t, s, "acl-pub", true, nil)
	publish := func(topic string, qos byte, retained bool, payload string) {
		t.Helper()
		if tok := pub.Publish(topic, qos, retained, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	publish("secret/r", 1, true, "retained secret")
	publish("public/r", 1, true, "retained public")

	type got struct {
		topic    string
		retained bool
	}
	subscribe := func(id, filter string) (chan got, byte) {
		msgs := make(chan got, 100)
		c := pahoClient(t, s, id, true, nil)
		tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { msgs <- got{m.Topic(), m.Retained()} })
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("%s: subscribe %q: %v", id, filter, tok.Error())
		}
		return msgs, tok.(*mqtt.SubscribeToken).Result()[filter]
	}
	all, code := subscribe("acl-all", "#")
	if code != 1 {
		t.Fatalf(`SUBSCRIBE "#": SUBACK %#02x, want 0x01 (granted, deny rule narrower)`, code)
	}
	two, code := subscribe("acl-two", "+/+")
	if code != 1 {
		t.Fatalf(`SUBSCRIBE "+/+": SUBACK %#02x, want 0x01`, code)
	}
	if _, code := subscribe("acl-secret", "secret/x"); code != subackFailure {
		t.Fatalf(`SUBSCRIBE "secret/x": SUBACK %#02x, want 0x80 (the deny rule covers it)`, code)
	}

	for _, q := range []byte{0, 1} {
		publish("secret/live", q, false, "live secret")
		publish("public/live", q, false, "live public")
	}
	publish("public/end", 1, false, "end")
	for name, msgs := range map[string]chan got{"#": all, "+/+": two} {
		var topics []string
		for done := false; !done; {
			select {
			case m := <-msgs:
				if strings.HasPrefix(m.topic, "secret") {
					t.Errorf("%s: received %q (retained %v), want nothing under secret/", name, m.topic, m.retained)
				}
				if m.topic == "public/r" && !m.retained {
					t.Errorf("%s: public/r arrived with retain 0, want 1 (sent on SUBSCRIBE)", name)
				}
				topics = append(topics, m.topic)
				done = m.topic == "public/end"
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: got %v, then nothing for 5s; want public/end", name, topics)
			}
		}
		if want := "public/r public/live public/live public/end"; strings.Join(topics, " ") != want {
			t.Errorf("%s: got %v, want %s", name, topics, want)
		}
	}
}

// TestACLFilteredSubscriptionAfterRestart: a subscription granted with
// topics withheld by the ACL keeps withholding them after a restart, for
// messages queued while its client is offline too.
func TestACLFilteredSubscriptionAfterRestart(t *testing.T) {
	acl := writeTemp(t, "acl.conf", "deny subscribe all secret/#\nallow pubsub all #\n")
	checker, err := auth.Load(auth.Options{ACLFile: acl, AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, db := startPersistentAuth(t, dir, "always", nil, checkerAuth{checker})
	w := dialRaw(t, s)
	w.connect("watcher", false, false)
	w.subscribe(1, "#", 1)
	w.sendHex("e0 00")
	w.expectClosed(2 * time.Second)
	stopPersistent(t, s, db)

	s, db = startPersistentAuth(t, dir, "always", nil, checkerAuth{checker})
	defer stopPersistent(t, s, db)
	p := dialRaw(t, s)
	p.connect("publisher", true, false)
	p.publish("secret/x", "hidden", 1, false, 1)
	p.expectPacket("40 02 0001")
	p.publish("public/y", "shown", 1, false, 2)
	p.expectPacket("40 02 0002")
	w = dialRaw(t, s)
	w.connect("watcher", false, true)
	m := w.readPublish()
	if string(m.TopicName) != "public/y" {
		t.Fatalf("first delivery after restart: %q, want public/y (secret/x withheld)", m.TopicName)
	}
	w.sendHex("40 02 " + fmt.Sprintf("%04x", m.PacketID))
	w.expectSilence(300 * time.Millisecond)
}
