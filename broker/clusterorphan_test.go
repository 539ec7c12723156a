package broker

import (
	"testing"

	"github.com/glassmq/glassmq/codec"
)

// TestDeliverTo: messages kept for a rebuilt session go to that session
// alone, through its own matching subscriptions: the highest QoS among
// them, downgraded to the message's [MQTT-3.3.5-1]; a topic none of them
// matches and a QoS 0 message are left out; another session subscribed to
// the same topics gets nothing.
func TestDeliverTo(t *testing.T) {
	s := startClusterBroker(t, &recordingCluster{})
	a, b := dialRaw(t, s), dialRaw(t, s)
	a.connect("a", true, false)
	b.connect("b", true, false)
	a.subscribe(1, "t/#", 1)
	a.subscribe(2, "t/x", 2)
	b.subscribe(1, "t/#", 2)
	n := s.Engine().DeliverTo("a", func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte)) {
		deliver([]byte("t/x"), []byte("two"), nil, 2, false, 0, []byte("pub"))
		deliver([]byte("t/y"), []byte("down"), nil, 2, false, 0, []byte("pub"))
		deliver([]byte("u/z"), []byte("none"), nil, 1, false, 0, []byte("pub"))
		deliver([]byte("t/q0"), []byte("zero"), nil, 0, false, 0, []byte("pub"))
	})
	if n != 2 {
		t.Fatalf("DeliverTo queued %d messages, want 2", n)
	}
	for _, want := range []struct {
		topic string
		qos   byte
	}{{"t/x", 2}, {"t/y", 1}} {
		p := a.readPublish()
		if string(p.TopicName) != want.topic || p.QoS != want.qos {
			t.Fatalf("a got %q QoS %d, want %q QoS %d", p.TopicName, p.QoS, want.topic, want.qos)
		}
	}
	b.send(codec.AppendPingreq(nil))
	b.expectPacket("d0 00") // PINGRESP first: nothing was delivered to b
	a.send(codec.AppendPingreq(nil))
	a.expectPacket("d0 00") // nor a third message to a
}
