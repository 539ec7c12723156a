package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/internal/longtest"
	"github.com/glassmq/glassmq/session"
)

func open(t *testing.T, dir string, mode Fsync) *DB {
	t.Helper()
	d, err := Open(Options{Dir: dir, Fsync: mode, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return d
}

func msg(topic, payload string) *session.Message {
	return session.NewMessage([]byte(topic), []byte(payload), 1, false)
}

func TestRoundTrip(t *testing.T) {
	for _, mode := range []Fsync{FsyncAlways, FsyncInterval} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir, mode)
			id := "GID_test@@@dev 1*~/é+&="
			rec := &session.Record{ClientID: id, CreateTime: 1, ConnectTime: 2, Expiry: 7200,
				Subscriptions: []session.Subscription{{TopicFilter: "a/+", QoS: 1}, {TopicFilter: "b/#", QoS: 2}}}
			d.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: rec})
			for seq := uint64(1); seq <= 5; seq++ {
				d.Apply(session.Op{Kind: session.OpPutMessage, ClientID: id, Seq: seq, QoS: byte(1 + seq%2), Msg: msg("a/x", fmt.Sprint(seq))})
			}
			d.Apply(session.Op{Kind: session.OpInflight, ClientID: id, Seq: 1, PacketID: 10})
			d.Apply(session.Op{Kind: session.OpInflight, ClientID: id, Seq: 2, PacketID: 11})
			d.Apply(session.Op{Kind: session.OpReleased, ClientID: id, Seq: 2})
			d.Apply(session.Op{Kind: session.OpDeleteMessage, ClientID: id, Seq: 3})
			d.Apply(session.Op{Kind: session.OpInflight, ClientID: id, Seq: 3, PacketID: 12}) // after its delete: ignored
			d.Apply(session.Op{Kind: session.OpPutRel, ClientID: id, PacketID: 99})
			d.Apply(session.Op{Kind: session.OpPutRel, ClientID: id, PacketID: 100})
			d.Apply(session.Op{Kind: session.OpDeleteRel, ClientID: id, PacketID: 100})
			d.Apply(session.Op{Kind: session.OpPutSession, ClientID: "gone", Record: &session.Record{ClientID: "gone"}})
			d.Apply(session.Op{Kind: session.OpPutMessage, ClientID: "gone", Seq: 1, QoS: 1, Msg: msg("x", "y")})
			d.Apply(session.Op{Kind: session.OpDeleteSession, ClientID: "gone"})
			d.Apply(session.Op{Kind: session.OpPutRetained, Msg: &session.Message{Topic: []byte("r/1"), Payload: []byte("on"), QoS: 1, Retain: true}})
			d.Apply(session.Op{Kind: session.OpPutRetained, Msg: &session.Message{Topic: []byte("r/2"), Payload: []byte("off"), Retain: true}})
			last := d.Apply(session.Op{Kind: session.OpDeleteRetained, Msg: &session.Message{Topic: []byte("r/2")}})
			done := make(chan struct{})
			d.WhenDurable(last, func(error) { close(done) })
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ops never became durable")
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}

			d = open(t, dir, mode)
			defer d.Close()
			sessions, retained, err := d.Load()
			if err != nil {
				t.Fatal(err)
			}
			if len(sessions) != 1 || sessions[0].Record.ClientID != id {
				t.Fatalf("got sessions %+v, want only %q", sessions, id)
			}
			s := sessions[0]
			if s.Record.Expiry != 7200 || s.Record.ConnectTime != 2 || fmt.Sprint(s.Record.Subscriptions) != "[{a/+ 1 false false 0 0} {b/# 2 false false 0 0}]" {
				t.Fatalf("got record %+v", s.Record)
			}
			var got []string
			for _, m := range s.Messages {
				got = append(got, fmt.Sprintf("%d:%s:q%d:id%d:rel%v", m.Seq, m.Msg.Payload, m.QoS, m.PacketID, m.Released))
			}
			want := "[1:1:q2:id10:relfalse 2:2:q1:id11:reltrue 4:4:q1:id0:relfalse 5:5:q2:id0:relfalse]"
			if fmt.Sprint(got) != want {
				t.Fatalf("got messages %v, want %s", got, want)
			}
			if fmt.Sprint(s.Rel) != "[99]" {
				t.Fatalf("got rel %v, want [99]", s.Rel)
			}
			if len(retained) != 1 || string(retained[0].Topic) != "r/1" || string(retained[0].Payload) != "on" || retained[0].QoS != 1 {
				t.Fatalf("got retained %+v, want r/1 on qos 1", retained)
			}
		})
	}
}

func TestDamagedFileRefusesToStart(t *testing.T) {
	t.Run("garbage", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, FileName), []byte(strings.Repeat("not a database ", 1000)), 0o600)
		_, err := Open(Options{Dir: dir})
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), FileName) || !strings.Contains(err.Error(), "move it aside") {
			t.Fatalf("got %v, want ErrDamaged naming the file and what to do", err)
		}
	})
	t.Run("locked by another process", func(t *testing.T) {
		longtest.Skip(t, "waits out the file lock timeout")
		dir := t.TempDir()
		d := open(t, dir, FsyncInterval)
		defer d.Close()
		_, err := Open(Options{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), "locked") {
			t.Fatalf("got %v, want a lock error", err)
		}
	})
}

func BenchmarkApplyCommit(b *testing.B) {
	for _, mode := range []Fsync{FsyncInterval, FsyncAlways} {
		b.Run(map[Fsync]string{FsyncInterval: "interval", FsyncAlways: "always"}[mode], func(b *testing.B) {
			d, err := Open(Options{Dir: b.TempDir(), Fsync: mode})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			m := msg("bench/topic", strings.Repeat("x", 64))
			b.ReportAllocs()
			var last uint64
			i := uint64(0)
			for b.Loop() {
				i++
				last = d.Apply(session.Op{Kind: session.OpPutMessage, ClientID: "c", Seq: i, QoS: 1, Msg: m})
			}
			done := make(chan struct{})
			if mode == FsyncInterval {
				d.Close()
				return
			}
			d.WhenDurable(last, func(error) { close(done) })
			<-done
		})
	}
}
