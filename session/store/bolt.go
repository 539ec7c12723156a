package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/session"
	bolt "go.etcd.io/bbolt"
)

// FileName is the store's file inside the data directory.
const FileName = "glassmq.db"

// Fsync says when writes reach the disk.
type Fsync int

const (
	// FsyncInterval syncs every Options.Interval: a crash loses at most that
	// much. It is the default.
	FsyncInterval Fsync = iota
	// FsyncAlways syncs every group commit before reporting it durable.
	FsyncAlways
)

// Options configure Open.
type Options struct {
	Dir      string        // data directory; created if missing
	Fsync    Fsync         // FsyncInterval or FsyncAlways
	Interval time.Duration // sync period for FsyncInterval
}

// DB is a session.Store on a bbolt file. Create it with Open.
type DB struct {
	db    *bolt.DB
	path  string
	opts  Options
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	ops   []session.Op // pending, guarded by mu
	spare []session.Op // the other buffer; touched by the writer goroutine only
	next  uint64       // last ticket given, guarded by mu
	wait  []waiter     // guarded by mu

	closeOnce sync.Once
	closeErr  error

	committed atomic.Uint64 // last ticket written (maybe not synced)
	durable   atomic.Uint64 // last ticket synced
	failed    atomic.Pointer[error]
}

type waiter struct {
	ticket uint64
	fn     func()
}

// Open opens or creates the store in opts.Dir. A file that is not a valid
// store gives an error naming it and what to do; Open never silently starts
// empty over a damaged file.
func Open(opts Options) (*DB, error) {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
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
	go d.writer()
	return d, nil
}

// openChecked opens the file and verifies its structure; bbolt panics on
// some damaged pages, so panics become errors here.
func openChecked(path string, opts Options) (db *bolt.DB, err error) {
	damaged := func(what any) error {
		return fmt.Errorf("store: %s is damaged (%v); glassmq will not start on it: move it aside to start with an empty store, or restore it from a backup", path, what)
	}
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, damaged(r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: opts.Fsync != FsyncAlways})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is locked by another process (is another glassmq using -data-dir %s?)", path, opts.Dir)
	}
	if err != nil {
		return nil, damaged(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSessions, bucketMessages, bucketRel, bucketRetained, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get([]byte("version")); v == nil {
			return meta.Put([]byte("version"), []byte{formatVersion})
		} else if len(v) != 1 || v[0] != formatVersion {
			return fmt.Errorf("format version %v, this glassmq reads %d", v, formatVersion)
		}
		return nil
	})
	if err == nil {
		// Read every page once, in this goroutine, so damage shows now as an
		// error (or a panic the deferred recover turns into one) rather than
		// later in the middle of serving. bbolt's tx.Check walks in a
		// goroutine of its own, where a page assertion could not be recovered.
		err = db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
				return b.ForEach(func(_, _ []byte) error { return nil })
			})
		})
	}
	if err != nil {
		db.Close()
		return nil, damaged(err)
	}
	return db, nil
}

// Apply implements session.Store. Safe for concurrent use; never waits for I/O.
func (d *DB) Apply(op session.Op) uint64 {
	d.mu.Lock()
	d.next++
	t := d.next
	d.ops = append(d.ops, op)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return t
}

// WhenDurable implements session.Store. Safe for concurrent use.
func (d *DB) WhenDurable(ticket uint64, fn func()) {
	if ticket <= d.durable.Load() {
		fn()
		return
	}
	d.mu.Lock()
	if ticket <= d.durable.Load() {
		d.mu.Unlock()
		fn()
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

// Durable implements session.Store. Safe for concurrent use.
func (d *DB) Durable() uint64 { return d.durable.Load() }

// Err returns the first write error, after which nothing more is written.
// Safe for concurrent use.
func (d *DB) Err() error {
	if p := d.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (d *DB) writer() {
	defer close(d.done)
	tick := time.NewTicker(d.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-d.wake:
			d.commit()
			if d.opts.Fsync == FsyncAlways {
				d.markDurable(d.committed.Load())
			}
		case <-tick.C:
			if d.opts.Fsync == FsyncInterval {
				d.sync()
			}
		case <-d.stop:
			d.commit()
			d.sync()
			return
		}
	}
}

// commit writes every pending op in one transaction (a group commit).
func (d *DB) commit() {
	d.mu.Lock()
	if len(d.ops) == 0 {
		d.mu.Unlock()
		return
	}
	// Swap buffers: Apply fills the spare while this transaction reads ops.
	ops, last := d.ops, d.next
	d.ops, d.spare = d.spare[:0], nil
	d.mu.Unlock()
	defer func() {
		clear(ops)
		d.spare = ops[:0] // only the writer goroutine touches spare
	}()
	if d.failed.Load() != nil {
		return
	}
	err := d.db.Update(func(tx *bolt.Tx) error {
		w := txWriter{tx: tx, msgs: tx.Bucket(bucketMessages)}
		for i := range ops {
			if err := w.apply(&ops[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("store: writing %s: %w", d.path, err)
		d.failed.Store(&err)
		return
	}
	d.committed.Store(last)
}

func (d *DB) sync() {
	c := d.committed.Load()
	if c == d.durable.Load() {
		return
	}
	if err := d.db.Sync(); err != nil {
		err = fmt.Errorf("store: syncing %s: %w", d.path, err)
		d.failed.Store(&err)
		return
	}
	d.markDurable(c)
}

func (d *DB) markDurable(t uint64) {
	d.durable.Store(t)
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
		w.fn()
	}
}

// Close implements session.Store: it writes what is pending, syncs and
// closes the file. Later calls return the first call's result.
func (d *DB) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.close() })
	return d.closeErr
}

func (d *DB) close() error {
	close(d.stop)
	<-d.done
	d.mu.Lock()
	waiting := d.wait
	d.wait = nil
	d.mu.Unlock()
	for _, w := range waiting {
		w.fn() // nothing will become more durable; release the waiters
	}
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("store: closing %s: %w", d.path, err)
	}
	return d.Err()
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

// Load implements session.Store.
func (d *DB) Load() (sessions []session.Restored, retained []*session.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: %s is damaged (%v): move it aside to start with an empty store, or restore it from a backup", d.path, r)
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
		err = fmt.Errorf("store: reading %s: %w; move it aside to start with an empty store, or restore it from a backup", d.path, err)
	}
	return sessions, retained, err
}
