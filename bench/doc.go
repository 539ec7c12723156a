// Package bench is a black-box MQTT load generator: it speaks MQTT 3.1.1
// over TCP to any broker (on loopback unless Config.AllowRemote is set, with
// optional user name, password and TLS), with raw packets from codec, and
// reports throughput, end-to-end latency, loss and duplicates, connect rate
// and memory per connection, and the latency of glassmq's admin API under
// load.
//
// Scenarios (Config.Scenario): fanin (P publishers, one subscriber, one
// topic), fanout (one publisher, S subscribers), pairs (N publisher and
// subscriber pairs, a topic each), latency (one publisher at a fixed rate),
// connections (C idle clients; broker VmRSS before and after), admin
// (DescribeMQTTClient and QuerySessionByClientId during a pairs load) and
// retained (N retained states, then exact SUBSCRIBE latency and the time to
// receive all N through one wildcard, lost and duplicates counted).
// fleet (thousands of devices publishing telemetry on a fixed schedule
// from epoll-driven shards, backends on a wildcard, commands back; broker
// CPU per delivered message, latency at the offered rate, RSS per device).
// The curves (Curves: retained messages and subscriptions held, 1k to 1M)
// measure SUBSCRIBE round trips, routing CPU and memory per item. Every
// message carries its publisher, sequence number and send time in the first
// 16 bytes of its payload, so a subscriber counts what is lost, repeated or
// reordered, and how long it took. Runs are bounded by count and duration
// and stop by themselves. Compare runs a matrix of scenarios against
// freshly started brokers (glassmq, Mosquitto, cmd/glassmq-relay),
// interleaved, and WriteSummary and WriteChart report medians and ratios.
//
// Across nodes: RunCrossNode (crossnode) puts pairs' publishers on one node
// of a cluster and their subscribers on the others, after probes show each
// subscription reachable from the publishers' node; RunCrossNodeLatency is
// one such pair at a fixed rate. CompareCluster runs them, interleaved, on
// ClusterTargets: single nodes, a glassmq cluster, Mosquitto brokers joined
// by bridges and nats-server's MQTT on a JetStream cluster, each started as
// processes on loopback; WriteClusterSummary reports them.
//
// The client is never meant to be the bottleneck: publishers write batches
// of up to 64 KiB, readers read 256 KiB at a time, and there are two
// goroutines per publisher (writer and acknowledgement reader) and one per
// subscriber. QoS 1 and 2 publishers keep a window of unacknowledged
// messages and complete PUBACK or PUBREC, PUBREL, PUBCOMP; subscribers
// acknowledge as the standard asks. Publishers also wait while more than
// Config.Backlog deliveries are due, so a broker is measured at the rate it
// sustains.
//
// Goroutines: Run, Compare, RunCrossNode and CompareCluster are safe to call from one goroutine at a
// time each; they start their own goroutines and stop them before
// returning. A Histogram or Tracker belongs to one goroutine at a time.
//
// bench imports codec and the standard library (plus gonum plot for the
// chart); never broker or session, so what it measures is what any client
// sees.
package bench
