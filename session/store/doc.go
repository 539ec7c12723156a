// Package store is glassmq's embedded on-disk store: persistent sessions,
// their queued and in-flight QoS 1/2 messages, inbound QoS 2 packet IDs and
// retained messages, in one bbolt file under the data directory.
//
// Writes are group-committed: Apply appends to a pending list under a mutex
// and returns at once; one writer goroutine applies everything pending in a
// single transaction. With FsyncAlways each transaction is fsynced before its
// ops are reported durable, so an acknowledged message survives kill -9; with
// FsyncInterval the file is synced every interval, which bounds the loss
// window. At most Options.MaxPending ops wait for the writer; past that
// Apply waits too.
//
// A failed write or sync is logged, counted in Stats, reported to waiting
// WhenDurable callbacks and kept as Err until a later write and sync
// succeed; the failed ops stay pending and are retried, in order. A damaged
// file is refused by Open with a *DamagedError (ErrDamaged): its headers
// are checked against its size with plain reads before it is mapped, and
// its pages are read with panic-on-fault set, so damage never crashes the
// process.
//
// bbolt was chosen over pebble: one file, one writer, a B+tree that serves
// the prefix scans and deletes the session layout needs, no background
// compaction to tune, and a small dependency; group commit recovers the write
// throughput a single writer would otherwise cost.
//
// store may import codec, session, stats and bbolt.
package store
