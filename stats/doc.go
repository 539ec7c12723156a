// Package stats counts MQTT packets by type and QoS, with bytes, per client and
// per event loop, and takes snapshots of those counts for readers.
//
// Counters are atomic.Uint64 values. A client's counters are written by the
// event loop that owns the client at the time (one writer at a time; ownership
// moves between loops only through a happens-before edge) and read by anyone.
// Broker-wide counters live in one cache-line-padded shard per event loop;
// readers sum the shards.
//
// stats may import only codec and the standard library.
package stats
