package main

import (
	"log/slog"

	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/cluster"
)

// startWills keeps the wills of eng's connections in the cluster and
// publishes those of dead nodes' clients (docs/CLUSTER.md, "Wills of a
// dead node's clients"). Call it before the engine starts.
func startWills(node *cluster.Node, eng *broker.Engine, own *clusterOwn) (*cluster.Wills, error) {
	w, err := cluster.StartWills(cluster.WillsConfig{JS: node.JS(), Node: node.Name(), Replicas: node.Replicas(),
		Logger: slog.Default()}, own.owners, eng)
	if err != nil {
		return nil, err
	}
	eng.SetClusterWills(w)
	return w, nil
}
