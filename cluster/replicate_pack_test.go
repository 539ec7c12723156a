package cluster

import (
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/glassmq/glassmq/session"
)

// packReplica is a Replica with no connection: enough to build entries
// and packs.
func packReplica() *Replica {
	return &Replica{cfg: ReplicaConfig{Prefix: "glassmq", Bucket: "b"}, run: "test-",
		clients: map[string]*replClient{}, open: map[*replClient]*replPack{}, inflight: map[uint64]*replPack{}}
}

// replayOf folds records into a fresh replay, failing the test on an
// error.
func replayOf(t *testing.T, fold func(rp *replay) error) *replay {
	t.Helper()
	var rp replay
	rp.init()
	if err := fold(&rp); err != nil {
		t.Fatal(err)
	}
	return &rp
}

// TestPackRounds: the records of one round are packed by session, in the
// order each session applied them, at most maxPackRecords to a pack, a
// bucket write alone; unpacking a session's packs in order folds exactly
// what its records folded one by one.
func TestPackRounds(t *testing.T) {
	r := packReplica()
	ids := []string{"a", "b.c", "d>"}
	var fresh []*replEntry
	add := func(op session.Op) {
		if e := r.entryLocked(op, uint64(len(fresh)+1)); e != nil {
			fresh = append(fresh, e)
		}
	}
	for _, id := range ids {
		add(session.Op{Kind: session.OpPutSession, ClientID: id, Record: &session.Record{ClientID: id}})
	}
	const n = 150 // more than two packs for "a"
	for seq := uint64(1); seq <= n; seq++ {
		for i, id := range ids {
			if i > 0 && seq > n/3 {
				continue // the others have fewer records: one pack each
			}
			add(session.Op{Kind: session.OpPutMessage, ClientID: id, Seq: seq, QoS: 1,
				Msg: session.NewMessage([]byte("t"), fmt.Appendf(nil, "%s-%d", id, seq), 1, false)})
			if seq%3 == 0 {
				add(session.Op{Kind: session.OpInflight, ClientID: id, Seq: seq, PacketID: uint16(seq)})
			}
			if seq%5 == 0 {
				add(session.Op{Kind: session.OpDeleteMessage, ClientID: id, Seq: seq})
			}
		}
	}
	add(session.Op{Kind: session.OpPutRel, ClientID: "a", PacketID: 9})
	records := map[*replClient][][]byte{}
	for _, e := range fresh {
		if e.queue {
			records[e.c] = append(records[e.c], e.data)
		}
	}

	packs := r.packLocked(nil, fresh)
	if len(r.open) != 0 {
		t.Fatalf("the writer's scratch holds %d packs after packing", len(r.open))
	}
	byClient := map[*replClient][]*replPack{}
	bucket, ticket := 0, map[*replClient]uint64{}
	for _, p := range packs {
		if !p.queue {
			bucket++
			if len(p.entries) != 1 || p.msg.Subject != "$KV.b."+EncodeToken(p.c.id) {
				t.Fatalf("bucket write packed with %d entries on %q", len(p.entries), p.msg.Subject)
			}
			continue
		}
		if len(p.entries) > maxPackRecords || p.msg.Subject != p.c.subject {
			t.Fatalf("pack of %d records (at most %d) on %q (want %q)", len(p.entries), maxPackRecords, p.msg.Subject, p.c.subject)
		}
		for _, e := range p.entries {
			if e.c != p.c || e.ticket <= ticket[p.c] {
				t.Fatalf("pack of %s holds ticket %d of %s after ticket %d", p.c.id, e.ticket, e.c.id, ticket[p.c])
			}
			ticket[p.c] = e.ticket
		}
		if p.msg.Header.Get("Nats-Msg-Id") != "test-"+fmt.Sprint(p.n) {
			t.Fatalf("pack %d has message ID %q", p.n, p.msg.Header.Get("Nats-Msg-Id"))
		}
		byClient[p.c] = append(byClient[p.c], p)
	}
	if bucket != len(ids) {
		t.Fatalf("%d bucket writes, want %d", bucket, len(ids))
	}
	for c, ps := range byClient {
		if want := (len(records[c]) + maxPackRecords - 1) / maxPackRecords; len(ps) != want {
			t.Errorf("%s: %d records in %d packs, want %d", c.id, len(records[c]), len(ps), want)
		}
		one := replayOf(t, func(rp *replay) error {
			for _, b := range records[c] {
				if err := rp.apply(c.gen, b); err != nil {
					return err
				}
			}
			return nil
		})
		packed := replayOf(t, func(rp *replay) error {
			for _, p := range ps {
				if err := rp.applyPacked(c.gen, p.msg.Data); err != nil {
					return err
				}
			}
			return nil
		})
		var a, b session.Restored
		one.result(&a)
		packed.result(&b)
		if len(a.Messages) == 0 || describe(&a) != describe(&b) {
			t.Errorf("%s: packed records fold to %s, one by one to %s", c.id, describe(&b), describe(&a))
		}
		if !maps.Equal(one.sent, packed.sent) {
			t.Errorf("%s: packet IDs %v packed, %v one by one", c.id, packed.sent, one.sent)
		}
	}
}

// FuzzApplyPacked: no stored message, however malformed, panics a
// rebuild; it folds in or fails with errReplica.
func FuzzApplyPacked(f *testing.F) {
	r := packReplica()
	var fresh []*replEntry
	fresh = append(fresh, r.entryLocked(session.Op{Kind: session.OpPutSession, ClientID: "x", Record: &session.Record{ClientID: "x"}}, 1))
	for seq := uint64(1); seq <= 3; seq++ {
		fresh = append(fresh, r.entryLocked(session.Op{Kind: session.OpPutMessage, ClientID: "x", Seq: seq, QoS: 1,
			Msg: session.NewMessage([]byte("t"), []byte("p"), 1, false)}, seq+1))
	}
	fresh = append(fresh, r.entryLocked(session.Op{Kind: session.OpInflight, ClientID: "x", Seq: 1, PacketID: 4}, 5))
	gen := r.clients["x"].gen
	for _, p := range r.packLocked(nil, fresh) {
		if p.queue {
			f.Add(gen, p.msg.Data)
		}
	}
	f.Add(gen, []byte{replPackVersion, 200})
	f.Add(gen, []byte{replPackVersion, 1, replPackVersion})
	f.Add(gen, []byte{replPackVersion, 0})
	f.Fuzz(func(t *testing.T, gen uint64, b []byte) {
		var rp replay
		rp.init()
		if err := rp.applyPacked(gen, b); err != nil && !errors.Is(err, errReplica) {
			t.Fatalf("applyPacked: %v, want errReplica", err)
		}
	})
}

// describe lists what a rebuild holds: messages (Seq, payload, packet ID,
// released) and inbound QoS 2 IDs.
func describe(rs *session.Restored) string {
	var b []byte
	for _, m := range rs.Messages {
		b = fmt.Appendf(b, "%d:%s:%d:%v ", m.Seq, m.Msg.Payload, m.PacketID, m.Released)
	}
	return fmt.Sprint(string(b), rs.Rel)
}
