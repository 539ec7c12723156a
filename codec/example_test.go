package codec_test

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/glassmq/glassmq/codec"
)

// Decoding a PUBLISH from bytes buffered from a connection: Frame finds the
// packet, Decode returns views into the buffer.
func ExamplePublish_Decode() {
	buf, _ := hex.DecodeString("320b0005612f622f6300016869" + "c0") // a PUBLISH, then the first byte of a PINGREQ
	n, err := codec.Frame(buf, 1<<20)
	if err != nil || n == 0 {
		return // err: close the connection; n == 0: wait for more bytes
	}
	var p codec.Publish
	if _, err := p.Decode(buf[:n]); err != nil {
		return
	}
	fmt.Printf("%v QoS %d id %d topic %q payload %q\n", codec.PacketType(buf), p.QoS, p.PacketID, p.TopicName, p.Payload)

	n, err = codec.Frame(buf[n:], 1<<20)
	fmt.Println("next:", n, err)
	// Output:
	// PUBLISH QoS 1 id 1 topic "a/b/c" payload "hi"
	// next: 0 <nil>
}

// A rejected packet: the *codec.Error says what and where, and unwraps to
// ErrMalformed or ErrProtocol.
func ExampleError() {
	buf, _ := hex.DecodeString("3010000e73656e736f72732f2b2f74656d70")
	var p codec.Publish
	_, err := p.Decode(buf)
	var e *codec.Error
	if errors.As(err, &e) {
		fmt.Println(e.Rule, errors.Is(err, codec.ErrProtocol))
	}
	fmt.Println(err)
	// Output:
	// MQTT-3.3.2-2 true
	// codec: PUBLISH topic name at byte 2: wildcard '+' in "sensors/+/temp" [MQTT-3.3.2-2]
}

// An MQTT 5.0 connection: frame and decode at level 5, and send the reason
// code ReasonFor gives when a packet is rejected.
func ExamplePublish_DecodeV() {
	// PUBLISH QoS 0 "a/b", properties: user property trace=1, topic alias 1; payload "hi".
	buf, _ := hex.DecodeString("3016" + "0003612f62" + "0e" + "2600057472616365000131" + "230001" + "6869")
	n, err := codec.FrameV(buf, 1<<20, 5)
	if err != nil || n == 0 {
		return
	}
	var p codec.Publish
	if _, err := p.DecodeV(buf[:n], 5); err != nil {
		fmt.Println(codec.ReasonFor(err))
		return
	}
	fmt.Printf("topic %q alias %d user %s=%s payload %q\n", p.TopicName, p.Props.TopicAlias, p.Props.User[0].Key, p.Props.User[0].Value, p.Payload)

	bad, _ := hex.DecodeString("3007" + "000161" + "03" + "230000") // topic alias 0
	_, err = p.DecodeV(bad, 5)
	fmt.Printf("%#02x %v\n", byte(codec.ReasonFor(err)), codec.ReasonFor(err))
	// Output:
	// topic "a/b" alias 1 user trace=1 payload "hi"
	// 0x94 Topic Alias invalid
}
