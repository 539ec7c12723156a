package broker

import (
	"crypto/tls"
	"fmt"
	"io"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/glassmq/glassmq/session"
	"github.com/gorilla/websocket"
)

// startNetBroker runs the gnet listener plus the TLS, WS and WSS listeners.
func startNetBroker(t *testing.T, certs *testCerts, clientCA bool) (*Server, *NetServer) {
	t.Helper()
	var ns *NetServer
	s := startBroker(t, func(c *Config) {
		c.TLSListen, c.WSListen, c.WSSListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		c.TLSCert, c.TLSKey = certs.serverCert, certs.serverKey
		if clientCA {
			c.TLSClientCA = certs.caFile
		}
	})
	ns = NewNetServer(s.Engine())
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(5 * time.Second) }) // runs before the gnet server's cleanup
	return s, ns
}

// roundTrip subscribes and publishes 20 messages at each QoS through url
// and checks they arrive in order at the right QoS.
func roundTrip(t *testing.T, url string, tc *tls.Config, id string) {
	t.Helper()
	opts := func(o *mqtt.ClientOptions) {
		o.Servers = nil
		o.AddBroker(url)
		if tc != nil {
			o.SetTLSConfig(tc)
		}
	}
	got := make(chan mqtt.Message, 100)
	sub := pahoClientOpts(t, id+"-sub", opts)
	pub := pahoClientOpts(t, id+"-pub", opts)
	for qos := byte(0); qos <= 2; qos++ {
		topic := fmt.Sprintf("%s/%d", id, qos)
		if tok := sub.Subscribe(topic, qos, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		for i := 0; i < 20; i++ {
			if tok := pub.Publish(topic, qos, false, fmt.Sprint(i)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
		for i := 0; i < 20; i++ {
			select {
			case m := <-got:
				if string(m.Payload()) != fmt.Sprint(i) || m.Qos() != qos {
					t.Fatalf("qos %d message %d: got %q qos %d", qos, i, m.Payload(), m.Qos())
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("qos %d message %d not delivered", qos, i)
			}
		}
	}
}

func pahoClientOpts(t *testing.T, id string, mod func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().SetClientID(id).SetCleanSession(true).SetAutoReconnect(false).
		SetOrderMatters(true).SetConnectTimeout(5 * time.Second)
	mod(o)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// TestTransports runs the same QoS 0/1/2 round trip over TCP, TLS,
// WebSocket and secure WebSocket, all feeding one engine, and checks that
// introspection names each client's listener.
func TestTransports(t *testing.T) {
	certs := makeCerts(t, "unused")
	s, ns := startNetBroker(t, certs, false)
	tc := &tls.Config{RootCAs: certs.pool}
	for _, tr := range []struct {
		name, url string
		tls       *tls.Config
	}{
		{"tcp", "tcp://" + brokerAddr(s), nil},
		{"tls", "ssl://" + ns.Addr("tls").String(), tc},
		{"ws", "ws://" + ns.Addr("ws").String() + "/mqtt", nil},
		{"wss", "wss://" + ns.Addr("wss").String() + "/mqtt", tc},
	} {
		t.Run(tr.name, func(t *testing.T) {
			roundTrip(t, tr.url, tr.tls, "rt-"+tr.name)
			var info session.Info
			if !s.Engine().SessionInfo("rt-"+tr.name+"-sub", &info) || info.Listener != tr.name {
				t.Fatalf("got listener %q, want %q", info.Listener, tr.name)
			}
		})
	}
}

// TestMutualTLS: with -tls-client-ca, a client must present a certificate
// the CA signed, and its common name becomes the user name.
func TestMutualTLS(t *testing.T) {
	certs := makeCerts(t, "device-42")
	s, ns := startNetBroker(t, certs, true)
	url := "ssl://" + ns.Addr("tls").String()
	roundTrip(t, url, &tls.Config{RootCAs: certs.pool, Certificates: []tls.Certificate{certs.client}}, "mtls")
	var info session.Info
	if !s.Engine().SessionInfo("mtls-sub", &info) || info.Username != "device-42" || !info.Authenticated {
		t.Fatalf("got username %q authenticated %v, want device-42 true", info.Username, info.Authenticated)
	}
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID("no-cert").SetTLSConfig(&tls.Config{RootCAs: certs.pool}).
		SetAutoReconnect(false).SetConnectTimeout(3 * time.Second)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		c.Disconnect(0)
		t.Fatal("a client without a certificate connected")
	}
}

// TestRefusalReachesNetClients: a CONNACK refusal code written just before
// the close still reaches TLS and WebSocket clients, and a WebSocket client
// then gets a close frame, not an abnormal closure.
func TestRefusalReachesNetClients(t *testing.T) {
	certs := makeCerts(t, "unused")
	_, ns := startNetBroker(t, certs, false)
	badLevel := unhex(t, "10 0d 0004 4d515454 02 02 003c 0001 61") // level 2: 5 is MQTT 5.0
	t.Run("tls", func(t *testing.T) {
		c, err := tls.Dial("tcp", ns.Addr("tls").String(), &tls.Config{RootCAs: certs.pool})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(badLevel)
		got := make([]byte, 8)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := io.ReadAtLeast(c, got, 4)
		if fmt.Sprintf("% x", got[:n]) != "20 02 00 01" {
			t.Fatalf("got % x, want CONNACK 0x01", got[:n])
		}
	})
	t.Run("ws", func(t *testing.T) {
		d := websocket.Dialer{Subprotocols: []string{"mqtt"}}
		c, _, err := d.Dial("ws://"+ns.Addr("ws").String()+"/mqtt", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WriteMessage(websocket.BinaryMessage, badLevel)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := c.ReadMessage()
		if err != nil || fmt.Sprintf("% x", msg) != "20 02 00 01" {
			t.Fatalf("got % x, %v; want CONNACK 0x01", msg, err)
		}
		_, _, err = c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("got %v, want a normal close frame", err)
		}
	})
}
