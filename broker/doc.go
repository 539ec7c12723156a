// Package broker is glassmq's MQTT 3.1.1 protocol engine and its transports.
//
// The Engine (CONNECT handling, sessions, routing, QoS flows, wills, retained
// messages, keep-alive) knows nothing of gnet: it drives connections through
// the small Transport and Loop interfaces in transport.go. The gnet server in
// gnet.go is one transport; listeners built on Go's net package (TLS,
// WebSocket) feed the same Engine.
//
// Goroutine contract: each connection belongs to one loop; its protocol state
// is touched only on that loop (fields under a struct named loop). Work for
// another loop is batched and handed over with Loop.Execute, one call per
// target loop per batch. Foreign goroutines (admin, the ticker) read atomics
// and call only concurrency-safe methods.
//
// broker may import codec, session, stats and gnet.
package broker
