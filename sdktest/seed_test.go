package sdktest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	trocket "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/trocket/v20230308"
)

// TestTencentSeedExample reproduces the output example of the Tencent
// DescribeMQTTClient API documentation page with raw
// TCP packets, so that every byte is known:
//
//	client → server (OutBound)                      server → client (Inbound)
//	CONNECT   2 + 10 + (2+11) + (2+4) + (2+4) = 37  CONNACK   4
//	SUBSCRIBE 2 + 2 + 14 + 15 + 19 + 17       = 69  SUBACK    2 + 2 + 4 = 8
//	14 PINGREQ                    14 × 2      = 28  14 PINGRESP 14 × 2  = 28
//	                                           134                         40
//
// SUBSCRIBE's filters are "home/sun/+/" (2+11+1), "home/temp/+/" (2+12+1),
// "home/humidity/+/" (2+16+1) and "home/person/+/" (2+14+1).
func TestTencentSeedExample(t *testing.T) {
	start := time.Now()
	b := startBroker(t, brokerConfig{credentials: true})
	cp := newCapture(t)
	c := newTencent(t, b, tencentSecretID, tencentSecretKey, tc3Post, cp)

	connect := connectPacket(seedClientID, "user", "pass", true, 60)
	subscribe := subscribePacket(1, seedSubscriptions...)
	suback := subackPacket(1, 1, 1, 0, 2)
	if len(connect) != 37 || len(subscribe) != 69 || len(suback) != 8 {
		t.Fatalf("test arithmetic: CONNECT %d, SUBSCRIBE %d, SUBACK %d bytes; want 37, 69, 8", len(connect), len(subscribe), len(suback))
	}

	raw := dialRaw(t, b.MQTT)
	raw.send("CONNECT", connect)
	raw.expect("CONNACK", connackAccepted)
	raw.send("SUBSCRIBE", subscribe)
	raw.expect("SUBACK", suback)
	for range 14 {
		raw.send("PINGREQ", pingreq)
		raw.expect("PINGRESP", pingresp)
	}

	want := clientWant{
		id:         seedClientID,
		address:    raw.LocalAddr(),
		keepAlive:  60,
		status:     "CONNECTED",
		clean:      true,
		subs:       seedSubscriptions,
		exactPings: true,
		in: traffic{Bytes: 40, Items: map[string]int64{
			"CONNACK/0": 1, "SUBACK/0": 1, "PINGRESP/0": 14,
		}},
		out: traffic{Bytes: 134, Items: map[string]int64{
			"CONNECT/0": 1, "SUBSCRIBE/1": 1, "PINGREQ/0": 14,
		}},
	}
	p := pollDescribe(t, c, want)
	checkTimes(t, p, start, time.Now(), true)

	// The SDK forgives key case; the wire must not need forgiving.
	resp := cp.last()
	if resp.status != 200 || !strings.HasPrefix(resp.header.Get("Content-Type"), "application/json") {
		t.Errorf("HTTP %d, Content-Type %q; want 200, application/json", resp.status, resp.header.Get("Content-Type"))
	}
	for _, p := range keyProblems("", resp.body, reflect.TypeFor[tencentEnvelope[trocket.DescribeMQTTClientResponseParams]]()) {
		t.Errorf("response keys %s", p)
	}
	t.Logf("DescribeMQTTClient: %s", resp.body)
}
