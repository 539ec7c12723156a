package cluster_test

import (
	"testing"

	"github.com/glassmq/glassmq/session"
)

// BenchmarkReplica measures one QoS 1 message through a persistent session
// with its replica on one in-process JetStream server and a bbolt store
// with fsync always: queued, sent, acknowledged, in rounds of 64 messages
// (as one loop round of many publishers). "durable" waits until the
// round's puts are replicated before acknowledging them, as publishers'
// held acks do, so every message writes its three records; "acked-first"
// acknowledges at once, so the writer drops the round's records.
// records/msg counts the records JetStream stored, js-msgs/msg the
// JetStream messages (packs) that carried them.
func BenchmarkReplica(b *testing.B) {
	const round = 64
	for _, mode := range []string{"durable", "acked-first"} {
		b.Run(mode, func(b *testing.B) {
			nd := startJetStreamNodeB(b)
			r, _ := startReplicaB(b, nd, "bench")
			id := "bench-" + mode
			r.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: record(id)})
			var seq uint64
			ack := func(from, to uint64) uint64 {
				var tk uint64
				for s := from; s <= to; s++ {
					r.Apply(session.Op{Kind: session.OpInflight, ClientID: id, Seq: s, PacketID: uint16(s)})
					tk = r.Apply(session.Op{Kind: session.OpDeleteMessage, ClientID: id, Seq: s})
				}
				return tk
			}
			b.ReportAllocs()
			for b.Loop() {
				seq++
				tk := r.Apply(putMsg(id, seq, 1, "0123456789abcdef"))
				if mode == "acked-first" {
					ack(seq, seq)
				}
				if seq%round == 0 {
					waitDurable(b, r, tk)
					if mode == "durable" {
						waitDurable(b, r, ack(seq-round+1, seq))
					}
				}
			}
			b.ReportMetric(float64(r.Stats.Written.Load())/float64(seq), "records/msg")
			b.ReportMetric(float64(r.Stats.Packs.Load())/float64(seq), "js-msgs/msg")
		})
	}
}
