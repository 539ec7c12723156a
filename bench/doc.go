// Package bench is a black-box MQTT load generator: it speaks MQTT over TCP
// to any broker using raw packets from codec, and reports throughput and
// latency.
//
// bench may import codec only (plus plotting and progress libraries); never
// broker or session.
package bench
