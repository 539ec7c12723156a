// Package trace keeps glassmq's connection and message traces: every
// CONNECT accepted or refused, every disconnect with its reason, and for
// traced messages who published them and to whom, live or offline, they
// were pushed, with the time of each.
//
// Events go into rings, one per writer (each event loop, plus one for work
// outside the loops). A ring is written by its owner alone, without locks:
// events fill fixed-size chunks, and a reader sees a chunk's events up to
// its atomically published length. The oldest chunks are dropped from the
// ring's list when it passes its share of -trace-max-events; a dropped
// chunk is reused for new events only once no reader is walking a list
// (readers count themselves in before they load it), so a reader never
// sees a chunk rewritten under it, and a full ring records without
// allocating. Memory is therefore bounded by the event limit plus a few
// chunks per ring, and events older than the retention are neither shown
// nor kept once a newer chunk replaces them. A lookup of one client's
// events reads only the parts of full chunks whose filter of client IDs,
// built by the first lookup that reaches the chunk, may hold the client
// (bloom.go); the writer's only share of that is clearing a reused
// chunk's filter.
//
// Goroutine contract: Ring.Add is called by the ring's owner only; queries
// (Tracer.Find, Tracer.Len) are safe from any goroutine and never block a
// writer.
//
// trace may import only the standard library.
package trace
