package main

import (
	"log/slog"

	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/cluster"
	"github.com/glassmq/glassmq/session"
)

// startReplica replicates eng's persistent sessions in JetStream and makes
// own's claims rebuild the sessions of dead nodes from there
// (docs/CLUSTER.md, "What survives a node's death"). Without a local store
// (-persistence off) there are no persistent sessions to replicate, and it
// returns nil. The queue stream keeps at most as many records per session
// as its -max-queued and -max-inflight messages need, and maxBytes in all
// (0: no bound). Call it before the engine starts.
func startReplica(node *cluster.Node, eng *broker.Engine, own *clusterOwn, maxBytes int64) (*cluster.Replica, error) {
	if eng.Config().Persistence != "on" {
		slog.Warn("cluster: -persistence off: persistent sessions are not replicated and die with their node")
		return nil, nil
	}
	var rep *cluster.Replica
	err := eng.ReplicateStore(func(local session.Store) (session.Store, error) {
		var err error
		cfg := eng.Config()
		rep, err = cluster.StartReplica(cluster.ReplicaConfig{NC: node.NC(), Node: node.Name(),
			Replicas: node.Replicas(), Logger: slog.Default(),
			PerClient: cluster.ClientRecords(cfg.MaxQueued, cfg.MaxInflight), MaxBytes: maxBytes}, local)
		return rep, err
	})
	if err != nil {
		return nil, err
	}
	own.owners.UseReplica(rep)
	return rep, nil
}
