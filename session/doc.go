// Package session holds one client's session state (subscriptions, in-flight
// QoS 1/2 messages, packet IDs, queued messages, introspection fields) and the
// registry of sessions, sharded by xxhash of the client ID.
//
// Goroutine contract: fields under a Session's loop struct belong to the event
// loop that currently owns the session's connection; everything an admin
// reader needs is kept in atomics or published as immutable snapshots, so
// Registry.Lookup and Session.Info never block on a loop.
//
// Lock order (acquire top to bottom, never the reverse):
//
//  1. Session.mu (Session.Lock), held briefly at CONNECT, close, enqueue and
//     dequeue; never two sessions at once.
//  2. The broker's retained-message mutex, which is never held together
//     with a Session's.
//  3. The Store's internal mutex, taken by Store.Apply under either of the
//     above so that ops reach the store in the order memory changed. A
//     Store never calls back into a Session or the broker while holding it
//     (WhenDurable callbacks run outside it).
//  4. A registry shard's lock, taken by Open and Restore on their own and by
//     the removal of an ended session under its Session.mu; nothing else is
//     acquired while it is held. Lookup takes no lock.
//
// session may import codec, stats and xxhash.
package session
