// Package cluster joins glassmq nodes into one broker on NATS.
//
// Each node either embeds nats-server as a library (cluster routes to its
// peers, JetStream under the data directory, no client port) or connects
// to an existing NATS cluster; either way the broker talks to NATS through
// one nats.go connection (in-process for the embedded server). On it the
// node subscribes to the subjects its local subscription filters map to
// (subject.go), forwards local PUBLISHes that some other node wants
// (route.go), and keeps retained messages and wills cluster-wide. Owners
// keeps one owner per client ID (owner.go), and Replica copies persistent
// sessions into JetStream so that another node resumes them when their
// node dies (replicate.go).
//
// Goroutine contract: Node and Router methods are safe for concurrent use
// unless their comment says otherwise. Messages from other nodes are
// handed to the local engine by one goroutine per Router, in the order
// NATS delivered them.
//
// cluster may import codec, session, stats, nats-server and nats.go; it
// never imports broker or admin, whose small interfaces it implements.
package cluster
