package codec_test

import (
	"fmt"

	"github.com/glassmq/glassmq/codec"
)

// benchPublishes are the PUBLISH shapes of the benchmarks, named
// "qos1-64B" by QoS and payload size.
var benchPublishes = func() []struct {
	name string
	p    codec.Publish
} {
	var out []struct {
		name string
		p    codec.Publish
	}
	for _, qos := range []byte{0, 1, 2} {
		for _, size := range []int{64, 1024, 16384} {
			name := fmt.Sprintf("qos%d-%dB", qos, size)
			if size >= 1024 {
				name = fmt.Sprintf("qos%d-%dKiB", qos, size/1024)
			}
			p := codec.Publish{QoS: qos, TopicName: []byte("sensors/building-7/floor-3/temp"), Payload: make([]byte, size)}
			if qos > 0 {
				p.PacketID = 42
			}
			out = append(out, struct {
				name string
				p    codec.Publish
			}{name, p})
		}
	}
	return out
}()
