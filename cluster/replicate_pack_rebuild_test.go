package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/glassmq/glassmq/session"
)

// TestReplicaPacksRebuild: many sessions writing at once, as the
// subscribers of a busy node do, share the writer's rounds: their records
// leave packed, fewer JetStream messages than records, and another node
// still rebuilds each session exactly (the messages not acknowledged,
// with the packet IDs they were sent with).
func TestReplicaPacksRebuild(t *testing.T) {
	nd := startJetStreamNode(t)
	a, _ := startReplica(t, nd, "node-a")
	const sessions, msgs = 8, 200
	id := func(i int) string { return fmt.Sprintf("packed-%d", i) }
	var last uint64
	for i := range sessions {
		a.Apply(session.Op{Kind: session.OpPutSession, ClientID: id(i), Record: record(id(i))})
	}
	for seq := uint64(1); seq <= msgs; seq++ {
		for i := range sessions {
			last = a.Apply(putMsg(id(i), seq, 1, fmt.Sprintf("%d-%d", i, seq)))
			if seq%2 == 0 {
				last = a.Apply(session.Op{Kind: session.OpInflight, ClientID: id(i), Seq: seq, PacketID: uint16(seq)})
			}
			if seq%4 == 0 {
				last = a.Apply(session.Op{Kind: session.OpDeleteMessage, ClientID: id(i), Seq: seq})
			}
		}
	}
	durable(t, a, last)
	written, packs := a.Stats.Written.Load(), a.Stats.Packs.Load()
	t.Logf("%d records in %d JetStream messages, %d coalesced", written, packs, a.Stats.Coalesced.Load())
	if packs == 0 || packs >= written {
		t.Fatalf("%d records written in %d JetStream messages; want them packed, fewer messages than records", written, packs)
	}

	b, _ := startReplica(t, nd, "node-b")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range sessions {
		rs, err := b.Fetch(ctx, id(i))
		if err != nil || rs == nil {
			t.Fatalf("Fetch %s: %v, %v; want the session", id(i), rs, err)
		}
		var want []string
		for seq := uint64(1); seq <= msgs; seq++ {
			if seq%4 == 0 {
				continue // acknowledged
			}
			pid := uint64(0)
			if seq%2 == 0 {
				pid = seq
			}
			want = append(want, fmt.Sprintf("%d:%d-%d:%d", seq, i, seq, pid))
		}
		if len(rs.Messages) != len(want) {
			t.Fatalf("%s rebuilt with %d messages, want %d", id(i), len(rs.Messages), len(want))
		}
		for k, m := range rs.Messages {
			if got := fmt.Sprintf("%d:%s:%d", m.Seq, m.Msg.Payload, m.PacketID); got != want[k] {
				t.Fatalf("%s message %d is %s, want %s", id(i), k, got, want[k])
			}
		}
	}
}
