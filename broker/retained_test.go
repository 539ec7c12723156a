package broker

import (
	"testing"
	"time"
)

// TestRetained covers setting, replacing and clearing retained messages
// [MQTT-3.3.1-5], [MQTT-3.3.1-10]; delivery on subscribe with RETAIN 1 after
// the SUBACK [MQTT-3.3.1-6]; live forwarding with RETAIN 0 [MQTT-3.3.1-9];
// and filters mixing '+' and '#'.
func TestRetained(t *testing.T) {
	s := startBroker(t, nil)
	pub := dialRaw(t, s)
	pub.connect("pub", true, false)
	pub.publish("home/kitchen/temp", "20", 0, true, 0)
	pub.publish("home/kitchen/temp", "21", 1, true, 1) // replaces
	pub.expectPacket("40 02 0001")
	pub.publish("home/garage/door", "open", 0, true, 0)
	pub.publish("home/garage/door", "", 0, true, 0) // clears
	pub.publish("home/hall/light", "on", 0, true, 0)

	sub := dialRaw(t, s)
	sub.connect("sub", true, false)
	sub.subscribe(1, "home/+/#", 1) // SUBACK first, checked by subscribe
	got := map[string]string{}
	for i := 0; i < 2; i++ {
		m := sub.readPublish()
		if !m.Retain {
			t.Fatalf("retained %q came with RETAIN 0", m.TopicName)
		}
		got[string(m.TopicName)] = string(m.Payload)
		if m.QoS == 1 {
			sub.sendHex("40 02 " + hex16(m.PacketID))
		}
	}
	if got["home/kitchen/temp"] != "21" || got["home/hall/light"] != "on" || len(got) != 2 {
		t.Fatalf("got retained %v, want kitchen 21 and hall on (garage cleared)", got)
	}
	sub.expectSilence(100 * time.Millisecond)

	pub.publish("home/hall/light", "off", 0, true, 0)
	if m := sub.readPublish(); m.Retain || string(m.Payload) != "off" {
		t.Fatalf("live forward: got retain %v %q, want retain 0 \"off\"", m.Retain, m.Payload)
	}
	if got := s.Engine().Stats().Retained.Load(); got != 2 {
		t.Fatalf("got %d retained in stats, want 2", got)
	}
}

func hex16(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}
