package store

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Trace events are kept across a reopen, bounded: at most keep of them,
// the newest, none older than since; an event written twice counts once;
// the boot of the last batch is returned with them.
func TestTracesBounded(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir, FsyncAlways)
	ev := func(us int64, id string) TraceEvent {
		return TraceEvent{Time: us, MsgID: uint64(us) << 8, Channel: 7, ClientID: id, Kind: 4, Info: 13}
	}
	var batch []TraceEvent
	for i := int64(1); i <= 30; i++ {
		batch = append(batch, ev(i, "dev"))
	}
	d.PutTraces(11, 100, batch, 25, 0) // keeps 6..30
	d.PutTraces(12, 200, []TraceEvent{ev(30, "dev"), ev(31, "other")}, 25, 0)
	if err := d.Wait(d.PutTraces(12, 300, nil, 25, 10)); err != nil { // drops those before 10
		t.Fatal(err)
	}
	d.Close()

	d = open(t, dir, FsyncAlways)
	defer d.Close()
	boot, issued, got, err := d.Traces()
	if err != nil {
		t.Fatal(err)
	}
	if boot != 12 || issued != 300 || len(got) != 22 || got[0] != ev(10, "dev") || got[len(got)-1] != ev(31, "other") {
		t.Fatalf("boot %d, issued %d, %d events (first %+v, last %+v); want boot 12, issued 300 and 22 events, 10..31", boot, issued, len(got), got[0], got[len(got)-1])
	}
	for i := 1; i < len(got); i++ {
		if got[i].Time <= got[i-1].Time {
			t.Fatalf("events out of order or doubled at %d: %+v after %+v", i, got[i], got[i-1])
		}
	}
	if err := d.Wait(d.PutTraces(12, 300, []TraceEvent{ev(40, "x")}, 5, 0)); err != nil {
		t.Fatal(err)
	}
	if _, _, got, _ := d.Traces(); len(got) != 5 || got[4] != ev(40, "x") || got[0] != ev(28, "dev") {
		t.Fatalf("after keep 5: %+v; want 28..31 and 40", got)
	}
}

// A trace record of an unknown version is damage.
func TestTracesDamaged(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, FsyncAlways).Close()
	db, err := bolt.Open(dir+"/"+FileName, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := TraceEvent{Time: 1, ClientID: "c"}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTraces).Put(traceKey(&e), []byte{9, 1}) })
	db.Close()
	d := open(t, dir, FsyncAlways)
	defer d.Close()
	if _, _, _, err := d.Traces(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Traces: %v, want ErrDamaged", err)
	}
}
