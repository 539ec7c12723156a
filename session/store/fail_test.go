package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glassmq/glassmq/session"
)

// errDisk stands for an I/O error of the disk in these tests.
var errDisk = errors.New("injected I/O error")

// failing is a Hook that fails the next n[op] calls of op, n < 0 for every
// call until reset.
type failing struct {
	write, sync atomic.Int64
}

func (f *failing) hook(op string) error {
	n := &f.write
	if op == OpSync {
		n = &f.sync
	}
	for {
		v := n.Load()
		if v == 0 {
			return nil
		}
		if v < 0 || n.CompareAndSwap(v, v-1) {
			return errDisk
		}
	}
}

// durableResult applies op and waits for its WhenDurable callback.
func durableResult(t *testing.T, d *DB, op session.Op) (error, error) {
	t.Helper()
	type res struct{ err, health error }
	ch := make(chan res, 1)
	d.WhenDurable(d.Apply(op), func(err error) { ch <- res{err, d.Err()} })
	select {
	case r := <-ch:
		return r.err, r.health
	case <-time.After(5 * time.Second):
		t.Fatal("WhenDurable never called back")
		return nil, nil
	}
}

func waitHealthy(t *testing.T, d *DB) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); d.Err() != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("store still failing: %v", d.Err())
		}
	}
}

// TestStoreFailureSurfaces: a failing write or sync reaches the WhenDurable
// callback as an error, is counted, and shows in Err until a later write
// and sync succeed; the failed ops are retried, so after recovery they are
// stored, in order with the later ones.
func TestStoreFailureSurfaces(t *testing.T) {
	for _, c := range []struct {
		mode Fsync
		op   string
	}{{FsyncAlways, OpWrite}, {FsyncAlways, OpSync}, {FsyncInterval, OpWrite}, {FsyncInterval, OpSync}} {
		t.Run(map[Fsync]string{FsyncAlways: "always", FsyncInterval: "interval"}[c.mode]+"-"+c.op, func(t *testing.T) {
			dir := t.TempDir()
			var f failing
			d, err := Open(Options{Dir: dir, Fsync: c.mode, Interval: 5 * time.Millisecond, Hook: f.hook})
			if err != nil {
				t.Fatal(err)
			}
			put := func(topic string) session.Op {
				return session.Op{Kind: session.OpPutRetained, Msg: &session.Message{Topic: []byte(topic), Payload: []byte("p"), Retain: true}}
			}
			if err, health := durableResult(t, d, put("ok/0")); err != nil || health != nil {
				t.Fatalf("healthy store: callback %v, Err %v; want nil, nil", err, health)
			}
			counter := &d.Stats().WriteErrors
			if c.op == OpSync {
				f.sync.Store(-1)
				counter = &d.Stats().SyncErrors
			} else {
				f.write.Store(-1)
			}
			err, health := durableResult(t, d, put("failed/1"))
			if !errors.Is(err, errDisk) || !errors.Is(health, errDisk) {
				t.Fatalf("failing %s: callback %v, Err %v; want both to wrap the I/O error", c.op, err, health)
			}
			if counter.Load() == 0 {
				t.Fatalf("failing %s: not counted", c.op)
			}
			if d.Durable() >= d.Applied() {
				t.Fatalf("failing %s: Durable %d, want below Applied %d", c.op, d.Durable(), d.Applied())
			}
			f.write.Store(0)
			f.sync.Store(0)
			if err, _ := durableResult(t, d, put("ok/2")); err != nil {
				t.Fatalf("after recovery: callback %v, want nil", err)
			}
			waitHealthy(t, d)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d = open(t, dir, c.mode)
			defer d.Close()
			_, retained, err := d.Load()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range retained {
				got = append(got, string(m.Topic))
			}
			if fmt.Sprint(got) != "[failed/1 ok/0 ok/2]" {
				t.Fatalf("stored %v, want [failed/1 ok/0 ok/2]: the failed op retried", got)
			}
		})
	}
}

// TestStoreFailureAtClose: ops the store cannot write before it closes get
// an error, never a success, and Close reports the failure.
func TestStoreFailureAtClose(t *testing.T) {
	var f failing
	f.write.Store(-1)
	d, err := Open(Options{Dir: t.TempDir(), Fsync: FsyncAlways, Hook: f.hook})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 2)
	last := d.Apply(session.Op{Kind: session.OpPutRetained, Msg: &session.Message{Topic: []byte("a"), Retain: true}})
	d.WhenDurable(last, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, errDisk) {
		t.Fatalf("callback %v, want the I/O error", err)
	}
	d.WhenDurable(last, func(err error) { got <- err })
	if err := d.Close(); !errors.Is(err, errDisk) {
		t.Fatalf("Close: %v, want the I/O error", err)
	}
	if err := <-got; err == nil {
		t.Fatal("callback after a failed close: nil, want an error")
	}
}

// TestApplyBounded: with a writer slowed down by the hook, many
// concurrent Apply calls never leave more than MaxPending ops pending; the
// callers wait (counted), and every op lands, in each caller's order.
func TestApplyBounded(t *testing.T) {
	const max, writers, each = 64, 4, 500
	dir := t.TempDir()
	d, err := Open(Options{Dir: dir, Fsync: FsyncInterval, MaxPending: max, Hook: func(op string) error {
		if op == OpWrite {
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() { // sample the bound while the writers run
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if p := int64(d.Pending()); p > peak.Load() {
				peak.Store(p)
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			id := fmt.Sprint("c", w)
			d.Apply(session.Op{Kind: session.OpPutSession, ClientID: id, Record: &session.Record{ClientID: id}})
			for seq := uint64(1); seq <= each; seq++ {
				d.Apply(session.Op{Kind: session.OpPutMessage, ClientID: id, Seq: seq, QoS: 1, Msg: msg("t", fmt.Sprint(seq))})
				if p := int64(d.Pending()); p > peak.Load() {
					peak.Store(p)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-watched
	if p := peak.Load(); p > max || p < max/2 {
		t.Fatalf("peak pending %d, want at most the bound %d (and near it: the writer is slow)", p, max)
	}
	st := d.Stats()
	if st.Waits.Load() == 0 || st.WaitNanos.Load() == 0 {
		t.Fatalf("waits %d over %d ns, want some: Apply never waited", st.Waits.Load(), st.WaitNanos.Load())
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = open(t, dir, FsyncInterval)
	defer d.Close()
	sessions, _, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != writers {
		t.Fatalf("%d sessions, want %d", len(sessions), writers)
	}
	for _, s := range sessions {
		if len(s.Messages) != each {
			t.Fatalf("%s: %d messages, want %d", s.Record.ClientID, len(s.Messages), each)
		}
		for i, m := range s.Messages {
			if m.Seq != uint64(i+1) || string(m.Msg.Payload) != fmt.Sprint(i+1) {
				t.Fatalf("%s: message %d is seq %d %q, want %d", s.Record.ClientID, i, m.Seq, m.Msg.Payload, i+1)
			}
		}
	}
}
