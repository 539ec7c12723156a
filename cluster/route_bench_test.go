//go:build !race

package cluster

import (
	"testing"
)

// BenchmarkForward: the sending side of a cross-node QoS 0 message, what a
// loop pays per message: Forward of a 16-byte message of a topic already
// seen, with the round's Flush (one NATS message per 64 forwards) to an
// embedded server that no other node listens to.
func BenchmarkForward(b *testing.B) {
	nodes := startNodes(b, 1)
	r, err := NewRouter(nodes[0], discard{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	topic, payload := []byte("bench/abcdefgh/3"), []byte("0123456789abcdef")
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	i := 0
	for b.Loop() {
		r.Forward(topic, payload, 0, false, nil, 0, "bench-abcdefgh-p3")
		if i++; i%64 == 0 {
			r.Flush(false)
		}
	}
}
