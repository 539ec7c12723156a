package broker

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func pahoClient(t testing.TB, s *Server, id string, clean bool, mod func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + brokerAddr(s)).SetClientID(id).
		SetCleanSession(clean).SetAutoReconnect(false).SetConnectRetry(false).SetOrderMatters(true).
		SetConnectTimeout(5 * time.Second)
	if mod != nil {
		mod(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("paho connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func TestPahoRoundTripAllQoS(t *testing.T) {
	s := startBroker(t, nil)
	for qos := byte(0); qos <= 2; qos++ {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			got := make(chan mqtt.Message, 100)
			sub := pahoClient(t, s, fmt.Sprintf("sub-%d", qos), true, nil)
			topic := fmt.Sprintf("smoke/%d", qos)
			if tok := sub.Subscribe(topic, qos, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("subscribe: %v", tok.Error())
			}
			pub := pahoClient(t, s, fmt.Sprintf("pub-%d", qos), true, nil)
			for i := 0; i < 50; i++ {
				tok := pub.Publish(topic, qos, false, fmt.Sprintf("m%d", i))
				if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("publish %d: %v", i, tok.Error())
				}
			}
			for i := 0; i < 50; i++ {
				select {
				case m := <-got:
					if string(m.Payload()) != fmt.Sprintf("m%d", i) || m.Qos() != qos {
						t.Fatalf("message %d: got %q qos %d, want %q qos %d", i, m.Payload(), m.Qos(), fmt.Sprintf("m%d", i), qos)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("message %d not delivered", i)
				}
			}
		})
	}
}
