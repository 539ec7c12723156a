// Package session holds one client's session state (subscriptions, in-flight
// QoS 1/2 messages, packet IDs, queued messages, introspection fields) and the
// registry of sessions, sharded by xxhash of the client ID.
//
// Goroutine contract: fields under a Session's loop struct belong to the event
// loop that currently owns the session's connection; everything an admin
// reader needs is kept in atomics or published as immutable snapshots, so
// Registry.Lookup and Session.Info never block on a loop. The lock order is in
// the Session doc comment.
//
// session may import codec, stats and xxhash.
package session
