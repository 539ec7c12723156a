package admin

import "github.com/glassmq/glassmq/session"

// This file adds to the cluster's description the replication state of
// every JetStream stream and key-value bucket glassmq keeps (the
// "replication" list of GET /api/v1/cluster), and names the node that
// holds a client's session in the native client answers.

// ClusterAsset is the replication state of one JetStream stream or
// key-value bucket of glassmq: its leader, each replica (the leader first)
// and what it stores.
type ClusterAsset struct {
	Name     string           `json:"name"`   // the bucket's name for a key-value bucket, else the stream's
	Kind     string           `json:"kind"`   // "kv" or "stream"
	Stream   string           `json:"stream"` // the JetStream stream behind it ("KV_<bucket>" for a bucket)
	Leader   string           `json:"leader"` // "" while no leader is elected
	Replicas []ClusterReplica `json:"replicas"`
	Messages uint64           `json:"messages"` // stored now (a bucket's entries and their kept history)
	Bytes    uint64           `json:"bytes"`
}

// Placement is what a cluster's broker adds to Broker: which node holds a
// client's session. When the Broker given to New implements it, the native
// client answer and list carry that node's name ("node"); on a single node
// they leave it out. Safe for concurrent use.
type Placement interface {
	// SessionInfoAt is Broker.SessionInfo that also names the node whose
	// session answered. It may wait on the network, for a bounded time.
	SessionInfoAt(clientID string, dst *session.Info) (node string, ok bool)
}

// sessionInfo reads clientID's session into dst through the broker, with
// the node that holds it when the broker is a cluster's ("" otherwise).
func (s *Server) sessionInfo(clientID string, dst *session.Info) (node string, ok bool) {
	if p, isCluster := s.broker.(Placement); isCluster {
		return p.SessionInfoAt(clientID, dst)
	}
	return "", s.broker.SessionInfo(clientID, dst)
}

// clustered reports whether UseCluster gave the server a cluster to
// describe. Safe for concurrent use.
func (s *Server) clustered() bool {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	return s.cl.c != nil
}
