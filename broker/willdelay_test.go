package broker

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// delayedWillConnect returns a 5.0 CONNECT for id with a Session Expiry
// Interval (0: absent) and a QoS 0 will to "wd/"+id, "gone", with a Will
// Delay Interval of delay seconds (0: absent).
func delayedWillConnect(id string, clean bool, sessionExpiry, delay uint32) []byte {
	p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: clean, ClientID: []byte(id),
		WillFlag: true, WillTopic: []byte("wd/" + id), WillMessage: []byte("gone")}
	if sessionExpiry != 0 {
		p.Props.SessionExpiry = sessionExpiry
		p.Props.Set(codec.PropSessionExpiry)
	}
	if delay != 0 {
		p.WillProps.WillDelay = delay
		p.WillProps.Set(codec.PropWillDelay)
	}
	return codec.AppendConnect(nil, p)
}

// waitPending waits until the engine holds n delayed wills.
func waitPending(t *testing.T, s *Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s.Engine().PendingWills() == n {
			return
		}
	}
	t.Fatalf("%d wills held after 10s, want %d", s.Engine().PendingWills(), n)
}

// TestWillV5Properties: a 5.0 will carries its properties onto the
// published message byte for byte and in order [MQTT5-3.1.3-10]; its
// Message Expiry Interval is counted from publication [MQTT5-3.1.3.2.4];
// a payload not UTF-8 though announced so is refused [MQTT5-3.1.3.2.3].
func TestWillV5Properties(t *testing.T) {
	clock := newFakeClock()
	s := startBroker(t, func(c *Config) { c.Clock = clock })
	w := dialRaw(t, s)
	w.connect5("wpwatch", true, nil)
	w.subscribe5(1, 0, codec.Subscription{TopicFilter: []byte("wp/#"), QoS: 1})

	var pr codec.Properties
	pr.PayloadFormat = 1
	pr.MessageExpiry = 60
	pr.WillDelay = 30
	pr.ContentType = []byte("text/plain")
	pr.ResponseTopic = []byte("wp/reply")
	pr.CorrelationData = []byte{0, 1, 2, 0xff}
	pr.User = []codec.UserProperty{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")},
		{Key: []byte("a"), Value: []byte("3")}}
	for _, id := range []codec.PropID{codec.PropPayloadFormat, codec.PropMessageExpiry, codec.PropWillDelay,
		codec.PropContentType, codec.PropResponseTopic, codec.PropCorrelationData} {
		pr.Set(id)
	}
	p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, ClientID: []byte("wpwill"),
		WillFlag: true, WillQoS: 1, WillTopic: []byte("wp/x"), WillMessage: []byte("héllo"), WillProps: pr}
	p.Props.SessionExpiry = 3600
	p.Props.Set(codec.PropSessionExpiry)
	frame := codec.AppendConnect(nil, p)
	var sent codec.Connect
	if _, err := sent.DecodeV(frame, 5); err != nil {
		t.Fatal(err)
	}
	want := codec.AppendPropsWithout(nil, sent.WillProps.Raw, codec.SetOf(codec.PropWillDelay, codec.PropMessageExpiry))

	c := dialRaw(t, s)
	c.send(frame)
	if ack := connackOf(t, c.read()); ack.ReturnCode != 0 {
		t.Fatalf("CONNACK code %#x, want 0", ack.ReturnCode)
	}
	c.c.Close()
	waitPending(t, s, 1)
	clock.Advance(31 * time.Second) // the delay passes: published now, its expiry starts now
	got := w.readPublish5()
	if string(got.TopicName) != "wp/x" || string(got.Payload) != "héllo" || got.QoS != 1 {
		t.Fatalf("will %q %q QoS %d, want wp/x héllo QoS 1", got.TopicName, got.Payload, got.QoS)
	}
	if g := codec.AppendPropsWithout(nil, got.Props.Raw, codec.SetOf(codec.PropMessageExpiry, codec.PropSubscriptionID)); !bytes.Equal(g, want) {
		t.Errorf("will properties % x, want % x [MQTT5-3.1.3-10]", g, want)
	}
	if !got.Props.Has(codec.PropMessageExpiry) || got.Props.MessageExpiry != 60 {
		t.Errorf("Message Expiry %d (present %v), want 60: counted from publication, not from the CONNECT 31 s before",
			got.Props.MessageExpiry, got.Props.Has(codec.PropMessageExpiry))
	}
	if got.Props.Has(codec.PropWillDelay) {
		t.Errorf("Will Delay Interval forwarded")
	}
	w.send(codec.AppendPuback(nil, got.PacketID))

	t.Run("MQTT5-3.1.3.2.3 payload format 1 with a payload not UTF-8 gets CONNACK 0x99", func(t *testing.T) {
		var pr codec.Properties
		pr.PayloadFormat = 1
		pr.Set(codec.PropPayloadFormat)
		r := dialRaw(t, s)
		r.send(willConnect5("badutf8", "wp/y", []byte{0xff, 0xfe}, 0, false, &pr))
		if ack := connackOf(t, r.read()); ack.ReturnCode != byte(codec.ReasonPayloadFormatInvalid) {
			t.Fatalf("CONNACK code %#x, want 0x99", ack.ReturnCode)
		}
		r.expectClosed(2 * time.Second)
	})
	t.Run("payload format 0 takes any bytes", func(t *testing.T) {
		r := dialRaw(t, s)
		r.send(willConnect5("binwill", "wp/z", []byte{0xff, 0xfe}, 0, false, nil))
		if ack := connackOf(t, r.read()); ack.ReturnCode != 0 {
			t.Fatalf("CONNACK code %#x, want 0", ack.ReturnCode)
		}
	})
}

// TestWillDelay runs on a fake clock: a will with a Will Delay Interval
// is published when the delay passes or the session ends, whichever is
// first [MQTT5-3.1.2-8], and not at all when the session is resumed
// before [MQTT5-3.1.3-9].
func TestWillDelay(t *testing.T) {
	clock := newFakeClock()
	s := startBroker(t, func(c *Config) { c.Clock = clock })
	w := dialRaw(t, s)
	w.connect("wdwatch", true, false)
	w.subscribe(1, "wd/#", 0)
	expectWill := func(t *testing.T, id string) {
		t.Helper()
		if m := w.readPublish(); string(m.TopicName) != "wd/"+id || string(m.Payload) != "gone" {
			t.Fatalf("got %q %q, want the will of %s", m.TopicName, m.Payload, id)
		}
	}
	connectDropped := func(t *testing.T, id string, sessionExpiry, delay uint32) {
		t.Helper()
		c := dialRaw(t, s)
		c.send(delayedWillConnect(id, true, sessionExpiry, delay))
		if ack := connackOf(t, c.read()); ack.ReturnCode != 0 {
			t.Fatalf("CONNACK code %#x, want 0", ack.ReturnCode)
		}
		c.c.Close() // a network failure: the will applies
	}

	t.Run("MQTT5-3.1.2-8 published when the delay passes", func(t *testing.T) {
		connectDropped(t, "d1", 3600, 10)
		waitPending(t, s, 1)
		clock.Advance(5 * time.Second)
		w.expectSilence(200 * time.Millisecond)
		if n := s.Engine().PendingWills(); n != 1 {
			t.Fatalf("%d wills held 5 s into a 10 s delay, want 1", n)
		}
		clock.Advance(6 * time.Second)
		expectWill(t, "d1")
		waitPending(t, s, 0)
	})
	t.Run("MQTT5-3.1.3-9 a CONNECT resuming the session cancels it", func(t *testing.T) {
		connectDropped(t, "d2", 3600, 10)
		waitPending(t, s, 1)
		r := dialRaw(t, s)
		var pr codec.Properties
		pr.SessionExpiry = 3600
		pr.Set(codec.PropSessionExpiry)
		if ack := r.connect5("d2", false, &pr); ack.ReturnCode != 0 || !ack.SessionPresent {
			t.Fatalf("CONNACK code %#x present %v, want 0 true", ack.ReturnCode, ack.SessionPresent)
		}
		waitPending(t, s, 0)
		clock.Advance(11 * time.Second)
		w.expectSilence(300 * time.Millisecond)
		r.send(codec.AppendDisconnectV5(nil, 0, nil))
		r.expectClosed(2 * time.Second)
	})
	t.Run("MQTT5-3.1.3-9 a Clean Start CONNECT ends the session and publishes it at once", func(t *testing.T) {
		connectDropped(t, "d3", 3600, 60)
		waitPending(t, s, 1)
		r := dialRaw(t, s)
		if ack := r.connect5("d3", true, nil); ack.ReturnCode != 0 || ack.SessionPresent {
			t.Fatalf("CONNACK code %#x present %v, want 0 false", ack.ReturnCode, ack.SessionPresent)
		}
		expectWill(t, "d3")
		waitPending(t, s, 0)
	})
	t.Run("MQTT5-3.1.2-8 a session expiring first publishes it then", func(t *testing.T) {
		connectDropped(t, "d4", 5, 60)
		waitPending(t, s, 1)
		clock.Advance(3 * time.Second)
		w.expectSilence(200 * time.Millisecond)
		clock.Advance(3 * time.Second)
		expectWill(t, "d4")
		waitPending(t, s, 0)
		var info session.Info
		for deadline := time.Now().Add(5 * time.Second); s.Engine().SessionInfo("d4", &info) && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if s.Engine().SessionInfo("d4", &info) {
			t.Errorf("session d4 still present after its expiry")
		}
	})
	t.Run("MQTT5-3.1.2-8 an operator deleting the session publishes it", func(t *testing.T) {
		connectDropped(t, "d5", 3600, 60)
		waitPending(t, s, 1)
		if !s.Engine().DeleteSession("d5") {
			t.Fatal("DeleteSession returned false")
		}
		clock.Advance(200 * time.Millisecond) // the next tick
		expectWill(t, "d5")
		waitPending(t, s, 0)
	})
	t.Run("MQTT5-3.1.2-8 session expiry 0 publishes it at once", func(t *testing.T) {
		connectDropped(t, "d6", 0, 60)
		expectWill(t, "d6")
		if n := s.Engine().PendingWills(); n != 0 {
			t.Errorf("%d wills held, want 0", n)
		}
	})
	t.Run("MQTT5-3.14.4-3 DISCONNECT 0x04 holds the will for what is left of a session shortened at DISCONNECT", func(t *testing.T) {
		c := dialRaw(t, s)
		c.send(delayedWillConnect("d8", true, 3600, 60))
		connackOf(t, c.read())
		var pr codec.Properties
		pr.SessionExpiry = 2
		pr.Set(codec.PropSessionExpiry)
		c.send(codec.AppendDisconnectV5(nil, codec.ReasonDisconnectWithWill, &pr))
		c.expectClosed(2 * time.Second)
		waitPending(t, s, 1)
		clock.Advance(time.Second)
		w.expectSilence(200 * time.Millisecond)
		clock.Advance(1500 * time.Millisecond)
		expectWill(t, "d8")
	})
	t.Run("MQTT5-3.1.3-9 a takeover resuming the session cancels it", func(t *testing.T) {
		old := dialRaw(t, s)
		old.send(delayedWillConnect("d7", true, 3600, 10))
		connackOf(t, old.read())
		r := dialRaw(t, s)
		r.send(delayedWillConnect("d7", false, 3600, 10))
		if ack := connackOf(t, r.read()); ack.ReturnCode != 0 || !ack.SessionPresent {
			t.Fatalf("CONNACK code %#x present %v, want 0 true", ack.ReturnCode, ack.SessionPresent)
		}
		old.expectDisconnect5(codec.ReasonSessionTakenOver) // session taken over [MQTT5-3.14.2.1]
		old.expectClosed(2 * time.Second)
		waitPending(t, s, 0)
		clock.Advance(11 * time.Second)
		w.expectSilence(300 * time.Millisecond)
		r.send(codec.AppendDisconnectV5(nil, 0, nil)) // its own will discarded [MQTT5-3.1.2-10]
		r.expectClosed(2 * time.Second)
		clock.Advance(11 * time.Second)
		w.expectSilence(300 * time.Millisecond)
	})
}

// TestWillDelayMosquitto: a will with a Will Delay Interval and a user
// property from mosquitto_sub -V mqttv5, killed, reaches another
// mosquitto_sub with its property. Both are real clients on the real clock.
func TestWillDelayMosquitto(t *testing.T) {
	subBin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Skip("mosquitto_sub not installed (apt-get install -y mosquitto-clients)")
	}
	s := startBroker(t, nil)
	host, port, _ := net.SplitHostPort(brokerAddr(s))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	watch := exec.CommandContext(ctx, subBin, "-V", "mqttv5", "-h", host, "-p", port, "-i", "mwatch", "-t", "mw/will",
		"-C", "1", "-F", "%P %p")
	var out bytes.Buffer
	watch.Stdout, watch.Stderr = &out, &out
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, "mwatch")
	willer := exec.CommandContext(ctx, subBin, "-V", "mqttv5", "-h", host, "-p", port, "-i", "mwiller", "-t", "mw/none",
		"--will-topic", "mw/will", "--will-payload", "gone", "-D", "will", "will-delay-interval", "1",
		"-D", "will", "user-property", "k", "v", "-D", "connect", "session-expiry-interval", "60")
	if err := willer.Start(); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, "mwiller") // connected, will registered
	if m, connected := s.Engine().Will("mwiller"); !connected || m == nil || string(m.Payload) != "gone" {
		t.Fatalf("Will(mwiller) = %v, %v; want the will \"gone\"", m, connected)
	}
	if err := willer.Process.Kill(); err != nil { // no DISCONNECT: the will applies
		t.Fatal(err)
	}
	willer.Wait()
	if err := watch.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v: %s", err, out.String())
	}
	if got := strings.TrimSpace(out.String()); got != "k:v gone" {
		t.Fatalf("mosquitto_sub printed %q, want %q", got, "k:v gone")
	}
}
