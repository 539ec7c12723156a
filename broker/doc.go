// Package broker is glassmq's MQTT 3.1.1 protocol engine and its transports.
//
// The Engine (CONNECT handling, sessions, routing, QoS flows, wills, retained
// messages, keep-alive) knows nothing of gnet: it drives connections through
// the small Transport and Loop interfaces in transport.go. The gnet server in
// gnet.go is one transport; listeners built on Go's net package (TLS,
// WebSocket) feed the same Engine.
//
// Goroutine contract: each connection belongs to one loop; its protocol state
// is touched only on that loop (fields under a struct named loop). Deliveries
// for another loop are batched per round and pushed onto that loop's
// hand-off queue (handoff.go): one lock-guarded FIFO per loop, fed by every
// other loop and by foreign goroutines, drained by its loop once per
// wake-up, with at most one wake-up (Loop.Execute) pending per loop. It
// keeps each producer's order at any depth and never blocks a producer: past
// its bound, QoS 0 deliveries are dropped and counted. Control work (closes,
// takeover continuations, held-ack releases) still goes through Loop.Execute.
// Foreign goroutines (admin, the ticker) read atomics and call only
// concurrency-safe methods.
//
// broker may import codec, session, stats and gnet.
package broker
