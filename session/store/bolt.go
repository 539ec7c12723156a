package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
	bolt "go.etcd.io/bbolt"
)

// FileName is the store's file inside the data directory.
const FileName = "glassmq.db"

// DefaultMaxPending is the bound on ops applied and not yet written when
// Options.MaxPending is 0.
const DefaultMaxPending = 65536

// Fsync says when writes reach the disk.
type Fsync int

const (
	// FsyncInterval syncs every Options.Interval: a crash loses at most that
	// much. It is the default.
	FsyncInterval Fsync = iota
	// FsyncAlways syncs every group commit before reporting it durable.
	FsyncAlways
)

// Hook ops: the points where Options.Hook is called.
const (
	OpWrite = "write" // inside each write transaction, before its ops are applied
	OpSync  = "sync"  // before each sync of the file
)

// Options configure Open.
type Options struct {
	Dir      string        // data directory; created if missing
	Fsync    Fsync         // FsyncInterval or FsyncAlways
	Interval time.Duration // sync period for FsyncInterval
	// MaxPending bounds the ops applied and not yet written; Apply waits
	// while that many are pending. 0 means DefaultMaxPending.
	MaxPending int
	// Hook, when not nil, is called by the writer goroutine with OpWrite
	// inside every write transaction and with OpSync before every sync; an
	// error it returns fails that write (rolling the transaction back) or
	// sync as an I/O error would. Tests use it to make a real store fail or
	// slow down on demand.
	Hook func(op string) error
}

// DB is a session.Store on a bbolt file. Create it with Open.
type DB struct {
	db   *bolt.DB
	path string
	opts Options
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	st   stats.Store

	mu      sync.Mutex
	room    sync.Cond    // signalled when pending ops are written; uses mu
	ops     []session.Op // applied, not yet taken by the writer; guarded by mu
	aux     []auxOp      // records beside the sessions (devicecred.go), like ops; guarded by mu
	pending int          // ops applied and not yet written (ops plus the writer's batch); guarded by mu
	next    uint64       // last ticket given, guarded by mu
	wait    []waiter     // guarded by mu
	closed  bool         // Close began; guarded by mu

	// Touched by the writer goroutine only.
	batch    []session.Op // ops being written, kept across failed attempts
	auxBatch []auxOp      // aux ops being written, likewise
	batchEnd uint64       // last ticket of batch
	logged   time.Time    // last failure logged
	skipped  int          // failures not logged since

	closeOnce sync.Once
	closeErr  error

	committed atomic.Uint64 // last ticket written (maybe not synced)
	durable   atomic.Uint64 // last ticket synced: every op up to it is stored
	failed    atomic.Pointer[error]
}

type waiter struct {
	ticket uint64
	fn     func(error)
}

// ErrClosed is given to WhenDurable callbacks for ops the store could not
// write before it closed.
var ErrClosed = errors.New("store: closed before the ops were stored")

// Open opens or creates the store in opts.Dir. A file that is not a valid
// store gives a *DamagedError (errors.Is ErrDamaged) naming it and what to
// do; Open never silently starts empty over a damaged file and never
// crashes on one.
func Open(opts Options) (*DB, error) {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: data directory %q: %w", opts.Dir, err)
	}
	path := filepath.Join(opts.Dir, FileName)
	db, err := openChecked(path, opts)
	if err != nil {
		return nil, err
	}
	d := &DB{db: db, path: path, opts: opts, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	d.room.L = &d.mu
	go d.writer()
	return d, nil
}

// openChecked checks the file's headers against its size, opens it, reads
// every page once, and only then creates the buckets, so a damaged file is
// refused before anything is written to it.
func openChecked(path string, opts Options) (db *bolt.DB, err error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil { // bbolt panics on some damaged pages
			if db != nil {
				db.Close()
			}
			db, err = nil, &DamagedError{Path: path, Detail: fmt.Sprint(r)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: opts.Fsync != FsyncAlways})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is locked by another process (is another glassmq using -data-dir %s?)", path, opts.Dir)
	}
	if err != nil {
		return nil, &DamagedError{Path: path, Detail: err.Error(), Err: err}
	}
	if err := walk(db, path); err != nil {
		db.Close()
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSessions, bucketMessages, bucketRel, bucketRetained, bucketMeta, bucketDeviceCreds, bucketTraces, bucketTraceMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get([]byte("version")); v == nil || (len(v) == 1 && v[0] < formatVersion && v[0] >= 1) {
			// New, or written by an older glassmq: its records stay readable,
			// and from now on an older glassmq refuses the file.
			return meta.Put([]byte("version"), []byte{formatVersion})
		} else if len(v) != 1 || v[0] != formatVersion {
			return fmt.Errorf("format version %v, this glassmq reads 1 to %d", v, formatVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, &DamagedError{Path: path, Detail: err.Error(), Err: err}
	}
	return db, nil
}

// Apply implements session.Store. When Options.MaxPending ops are already
// waiting for the writer (the disk is slower than the input, or failing),
// Apply waits until the writer has written some: backpressure instead of
// unbounded memory. It never waits for I/O otherwise. Safe for concurrent
// use.
func (d *DB) Apply(op session.Op) uint64 {
	d.mu.Lock()
	t, ok := d.admitLocked()
	if ok {
		d.ops = append(d.ops, op)
	}
	d.mu.Unlock()
	d.poke()
	return t
}

// admitLocked waits while Options.MaxPending ops are pending and gives the
// next ticket; ok is false once the store is closing (the op is dropped).
// The caller holds mu and, when ok, queues exactly one op.
func (d *DB) admitLocked() (ticket uint64, ok bool) {
	if d.pending >= d.opts.MaxPending && !d.closed {
		start := time.Now()
		for d.pending >= d.opts.MaxPending && !d.closed {
			d.room.Wait()
		}
		d.st.Waits.Add(1)
		d.st.WaitNanos.Add(uint64(time.Since(start)))
	}
	d.next++
	if d.closed {
		return d.next, false
	}
	d.pending++
	d.st.Pending.Store(int64(d.pending))
	return d.next, true
}

// poke wakes the writer.
func (d *DB) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// WhenDurable implements session.Store: fn(nil) once every op up to ticket
// is stored; fn(err) when a write or sync failed before that (the ops are
// retried, but fn is not called again), or ErrClosed when the store closed
// first. Safe for concurrent use.
func (d *DB) WhenDurable(ticket uint64, fn func(err error)) {
	if ticket <= d.durable.Load() {
		fn(nil)
		return
	}
	d.mu.Lock()
	if ticket <= d.durable.Load() {
		d.mu.Unlock()
		fn(nil)
		return
	}
	if d.closed {
		d.mu.Unlock()
		fn(ErrClosed)
		return
	}
	d.wait = append(d.wait, waiter{ticket, fn})
	d.mu.Unlock()
}

// Applied returns the last ticket Apply gave. Safe for concurrent use.
func (d *DB) Applied() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.next
}

// Pending returns the number of ops applied and not yet written; it never
// exceeds Options.MaxPending. Safe for concurrent use.
func (d *DB) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pending
}

// Durable implements session.Store. Safe for concurrent use.
func (d *DB) Durable() uint64 { return d.durable.Load() }

// Err implements session.Store: the last write or sync error, until a
// later write and sync succeed; nil while healthy. Safe for concurrent use.
func (d *DB) Err() error {
	if p := d.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats returns the store's counters. Safe for concurrent use.
func (d *DB) Stats() *stats.Store { return &d.st }

// Retry delays after a failed write or sync: the first retry comes after
// minRetry, each next one after twice as long, up to maxRetry.
const (
	minRetry = 10 * time.Millisecond
	maxRetry = time.Second
)

func (d *DB) writer() {
	defer close(d.done)
	debug.SetPanicOnFault(true) // a fault in the mapping fails the write, see commit
	tick := time.NewTicker(d.opts.Interval)
	defer tick.Stop()
	var retry <-chan time.Time
	backoff := time.Duration(0)
	for {
		select {
		case <-d.wake:
			if retry != nil {
				continue // failing: wait for the retry time
			}
		case <-retry:
			retry = nil
		case <-tick.C:
			if d.opts.Fsync == FsyncInterval && retry == nil {
				d.sync()
			}
			continue
		case <-d.stop:
			if d.step() && d.opts.Fsync == FsyncInterval {
				d.sync()
			}
			return
		}
		if d.step() {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, minRetry), maxRetry)
		retry = time.After(backoff)
	}
}

// step writes what is pending and, with FsyncAlways, makes it durable. It
// reports false when a write or sync failed; the ops stay for a retry.
func (d *DB) step() bool {
	if d.opts.Fsync == FsyncAlways && d.committed.Load() > d.durable.Load() && !d.sync() {
		return false // an earlier sync failed: sync that first
	}
	if !d.commit() {
		return false
	}
	if d.opts.Fsync == FsyncAlways && d.committed.Load() > d.durable.Load() {
		// bbolt fsyncs each transaction with NoSync off; sync only asks the
		// hook, unless an earlier sync failed (then it syncs for real).
		return d.sync()
	}
	return true
}

// commit writes every pending op in one transaction (a group commit),
// after the ops of an earlier failed attempt. It reports false when the
// transaction failed; the ops are then kept for the next attempt.
func (d *DB) commit() (ok bool) {
	d.mu.Lock()
	d.batch = append(d.batch, d.ops...)
	clear(d.ops)
	d.ops = d.ops[:0]
	d.auxBatch = append(d.auxBatch, d.aux...)
	clear(d.aux)
	d.aux = d.aux[:0]
	if len(d.batch)+len(d.auxBatch) > 0 {
		d.batchEnd = d.next // every op applied so far is in batch or auxBatch
	}
	d.mu.Unlock()
	if len(d.batch)+len(d.auxBatch) == 0 {
		return true
	}
	err := d.update(d.batch, d.auxBatch)
	if err != nil {
		d.fail(OpWrite, fmt.Errorf("store: writing %s: %w", d.path, err))
		return false
	}
	n := len(d.batch) + len(d.auxBatch)
	clear(d.batch)
	d.batch = d.batch[:0]
	clear(d.auxBatch)
	d.auxBatch = d.auxBatch[:0]
	d.committed.Store(d.batchEnd)
	d.mu.Lock()
	d.pending -= n
	d.st.Pending.Store(int64(d.pending))
	d.room.Broadcast()
	d.mu.Unlock()
	return true
}

// update applies ops in one write transaction. A panic inside bbolt (a
// damaged page, or a fault reading the mapping: the writer runs with
// panic-on-fault) rolls the transaction back and becomes the error.
func (d *DB) update(ops []session.Op, aux []auxOp) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &DamagedError{Path: d.path, Detail: fmt.Sprint(r)}
		}
	}()
	return d.db.Update(func(tx *bolt.Tx) error {
		if d.opts.Hook != nil {
			if err := d.opts.Hook(OpWrite); err != nil {
				return err
			}
		}
		w := txWriter{tx: tx, msgs: tx.Bucket(bucketMessages)}
		for i := range ops {
			if err := w.apply(&ops[i]); err != nil {
				return err
			}
		}
		for i := range aux {
			if err := aux[i].apply(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// sync makes what is committed durable, reporting false on failure.
// With FsyncAlways bbolt already synced each transaction, so the file is
// synced again only after a failure.
func (d *DB) sync() bool {
	c := d.committed.Load()
	if c == d.durable.Load() {
		return true
	}
	var err error
	if d.opts.Hook != nil {
		err = d.opts.Hook(OpSync)
	}
	if err == nil && (d.opts.Fsync == FsyncInterval || d.failed.Load() != nil) {
		err = d.db.Sync()
	}
	if err != nil {
		d.fail(OpSync, fmt.Errorf("store: syncing %s: %w", d.path, err))
		return false
	}
	d.markDurable(c)
	return true
}

// failLogEvery is how often a failure that keeps recurring is logged again.
const failLogEvery = 10 * time.Second

// fail records a failed write or sync: counted, logged (the first of a run
// at once, then at most every failLogEvery with the number skipped), kept
// for Err, and given to every waiter whose ops are not yet durable.
func (d *DB) fail(op string, err error) {
	if op == OpWrite {
		d.st.WriteErrors.Add(1)
	} else {
		d.st.SyncErrors.Add(1)
	}
	now := time.Now()
	if d.failed.Load() == nil || now.Sub(d.logged) >= failLogEvery {
		slog.Error("store failed; acknowledgements wait, /healthz reports 503 until a write and sync succeed",
			"op", op, "file", d.path, "pending", d.Pending(), "skipped", d.skipped, "err", err)
		d.logged, d.skipped = now, 0
	} else {
		d.skipped++
	}
	d.failed.Store(&err)
	d.mu.Lock()
	waiting := d.wait
	d.wait = nil
	d.mu.Unlock()
	for _, w := range waiting {
		w.fn(err)
	}
}

func (d *DB) markDurable(t uint64) {
	d.durable.Store(t)
	if d.failed.Load() != nil && len(d.batch)+len(d.auxBatch) == 0 {
		d.failed.Store(nil)
		slog.Info("store recovered", "file", d.path, "durable", t)
	}
	d.mu.Lock()
	var ready []waiter
	keep := d.wait[:0]
	for _, w := range d.wait {
		if w.ticket <= t {
			ready = append(ready, w)
		} else {
			keep = append(keep, w)
		}
	}
	d.wait = keep
	d.mu.Unlock()
	for _, w := range ready {
		w.fn(nil)
	}
}

// Close implements session.Store: it writes what is pending, syncs and
// closes the file; callbacks still waiting get the store's error or
// ErrClosed. Later calls return the first call's result.
func (d *DB) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.close() })
	return d.closeErr
}

func (d *DB) close() error {
	d.mu.Lock()
	d.closed = true
	d.room.Broadcast() // Apply stops waiting; later ops are dropped
	d.mu.Unlock()
	close(d.stop)
	<-d.done
	failure := d.Err()
	d.mu.Lock()
	waiting := d.wait
	d.wait = nil
	d.mu.Unlock()
	for _, w := range waiting {
		if failure != nil {
			w.fn(failure)
		} else {
			w.fn(ErrClosed)
		}
	}
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("store: closing %s: %w", d.path, err)
	}
	return failure
}

// txWriter applies ops inside one transaction. bbolt keeps the key and
// value slices of a Put until the transaction ends, so every Put gets fresh
// ones (key and val are nil at each apply).
type txWriter struct {
	tx   *bolt.Tx
	msgs *bolt.Bucket
	key  []byte
	val  []byte
}

func (w *txWriter) apply(op *session.Op) error {
	w.key, w.val = nil, nil
	switch op.Kind {
	case session.OpPutSession:
		w.val = encodeRecord(w.val, op.Record)
		return w.tx.Bucket(bucketSessions).Put([]byte(op.ClientID), w.val)
	case session.OpDeleteSession:
		if err := w.tx.Bucket(bucketSessions).Delete([]byte(op.ClientID)); err != nil {
			return err
		}
		if err := deletePrefix(w.msgs, prefix(op.ClientID)); err != nil {
			return err
		}
		return deletePrefix(w.tx.Bucket(bucketRel), prefix(op.ClientID))
	case session.OpPutMessage:
		w.key = msgKey(w.key, op.ClientID, op.Seq)
		w.val = encodeMessage(w.val, op.Msg, op.QoS, op.Retain, false, 0)
		return w.msgs.Put(w.key, w.val)
	case session.OpInflight, session.OpReleased:
		w.key = msgKey(w.key, op.ClientID, op.Seq)
		v := w.msgs.Get(w.key)
		if v == nil || len(v) < 5 {
			return nil // acknowledged or dropped already
		}
		w.val = append(w.val[:0], v...)
		if op.Kind == session.OpInflight {
			binary.BigEndian.PutUint16(w.val[3:], op.PacketID)
		} else {
			w.val[2] |= flagReleased
		}
		return w.msgs.Put(w.key, w.val)
	case session.OpDeleteMessage:
		return w.msgs.Delete(msgKey(w.key, op.ClientID, op.Seq))
	case session.OpPutRel:
		return w.tx.Bucket(bucketRel).Put(relKey(w.key, op.ClientID, op.PacketID), nil)
	case session.OpDeleteRel:
		return w.tx.Bucket(bucketRel).Delete(relKey(w.key, op.ClientID, op.PacketID))
	case session.OpPutRetained:
		w.val = encodeMessage(w.val, op.Msg, op.Msg.QoS, true, false, 0)
		return w.tx.Bucket(bucketRetained).Put(op.Msg.Topic, w.val)
	case session.OpDeleteRetained:
		return w.tx.Bucket(bucketRetained).Delete(op.Msg.Topic)
	}
	return fmt.Errorf("unknown op kind %d", op.Kind)
}

func deletePrefix(b *bolt.Bucket, p []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Seek(p) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Load implements session.Store. Damage found while reading (a record that
// does not decode, a page bbolt rejects, a fault in the mapping) gives a
// *DamagedError.
func (d *DB) Load() (sessions []session.Restored, retained []*session.Message, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			sessions, retained, err = nil, nil, &DamagedError{Path: d.path, Detail: fmt.Sprint(r)}
		}
	}()
	err = d.db.View(func(tx *bolt.Tx) error {
		msgs, rel := tx.Bucket(bucketMessages), tx.Bucket(bucketRel)
		err := tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			rec, err := decodeRecord(string(k), v)
			if err != nil {
				return fmt.Errorf("session %q: %w", k, err)
			}
			r := session.Restored{Record: rec}
			p := prefix(rec.ClientID)
			c := msgs.Cursor()
			for mk, mv := c.Seek(p); mk != nil && bytes.HasPrefix(mk, p); mk, mv = c.Next() {
				if len(mk) != len(p)+8 {
					return fmt.Errorf("session %q: bad message key %x", k, mk)
				}
				sm, err := decodeMessage(mv)
				if err != nil {
					return fmt.Errorf("session %q: %w", k, err)
				}
				sm.Seq = binary.BigEndian.Uint64(mk[len(p):])
				r.Messages = append(r.Messages, sm)
			}
			c = rel.Cursor()
			for rk, _ := c.Seek(p); rk != nil && bytes.HasPrefix(rk, p); rk, _ = c.Next() {
				if len(rk) == len(p)+2 {
					r.Rel = append(r.Rel, binary.BigEndian.Uint16(rk[len(p):]))
				}
			}
			sort.Slice(r.Messages, func(i, j int) bool { return r.Messages[i].Seq < r.Messages[j].Seq })
			sessions = append(sessions, r)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketRetained).ForEach(func(k, v []byte) error {
			sm, err := decodeMessage(v)
			if err != nil {
				return fmt.Errorf("retained %q: %w", k, err)
			}
			retained = append(retained, sm.Msg)
			return nil
		})
	})
	if err != nil {
		return nil, nil, &DamagedError{Path: d.path, Detail: err.Error(), Err: err}
	}
	return sessions, retained, nil
}
