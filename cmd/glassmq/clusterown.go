package main

import (
	"errors"
	"time"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/cluster"
)

// clusterOwn is a node's part of cluster-wide ownership and administration
// (docs/CLUSTER.md): client ID claims with session hand-over, and the
// admin API answering for every client of the cluster. nil outside a
// cluster; its methods accept a nil receiver.
type clusterOwn struct {
	node   *cluster.Node
	owners *cluster.Owners
	admin  *cluster.Admin
	adm    *admin.Server
	router *cluster.Router // routing counters for metrics
	// counters of replicated sessions and wills for metrics; nil when not in use
	replica *cluster.Replica
	wills   *cluster.Wills
}

// startOwnership makes eng claim client IDs cluster-wide and starts the
// cluster-wide admin of node, with ownership leases of lease. Call it
// before the engine starts.
func startOwnership(node *cluster.Node, eng *broker.Engine, lease time.Duration) (*clusterOwn, error) {
	o, err := cluster.StartOwners(cluster.OwnersConfig{NC: node.NC(), JS: node.JS(), Node: node.Name(),
		Replicas: node.Replicas(), Lease: lease, HoldHandovers: true}, eng) // until startCluster knows about replays (cluster.go)
	if err != nil {
		return nil, err
	}
	c := &clusterOwn{node: node, owners: o}
	c.admin, err = cluster.StartAdmin(cluster.AdminConfig{NC: node.NC(), Name: node.ClusterName(), Node: node.Name(),
		Address: eng.Config().Listen, Stats: eng.Stats(), Owners: o, Server: node.Server(),
		OnNodes: c.share}, eng)
	if err != nil {
		o.Close()
		return nil, err
	}
	eng.SetOwners(o)
	return c, nil
}

// broker returns what the admin API reads: the cluster-wide view in a
// cluster, else the engine itself.
func (c *clusterOwn) broker(eng *broker.Engine) admin.Broker {
	if c == nil {
		return eng
	}
	return c.admin
}

// attach serves /api/v1/cluster and cluster metrics on adm and splits its
// rate limits among the live nodes.
func (c *clusterOwn) attach(adm *admin.Server) {
	if c == nil {
		return
	}
	c.adm = adm
	adm.UseCluster(clusterView{c.admin, c.router, c.replica, c.wills})
	adm.ShareLimits(c.admin.LiveNodes())
}

// share splits the admin rate limits among n live nodes, once attached.
func (c *clusterOwn) share(n int) {
	if c.adm != nil {
		c.adm.ShareLimits(n)
	}
}

// leaving tells the cluster that this node is stopping, before it closes
// its connections: hand-over requests wait for leave (cluster/leave.go).
func (c *clusterOwn) leaving() {
	if c != nil {
		c.owners.Leaving()
		c.node.Leaving() // JetStream leaders move to the other nodes now
	}
}

// leave stops taking messages from other nodes once the connections are
// closed, before the store closes, and tells the others, so that they
// keep what is published for this node's sessions until it is back
// (cluster/leave.go).
func (c *clusterOwn) leave() {
	if c != nil {
		c.owners.Left(c.router.Leave(5 * time.Second))
	}
}

func (c *clusterOwn) close() error {
	if c == nil {
		return nil
	}
	return errors.Join(c.admin.Close(), c.owners.Close())
}

// clusterView adapts cluster.Admin and the router to admin.Cluster.
type clusterView struct {
	a     *cluster.Admin
	r     *cluster.Router  // nil: no routing counters
	rep   *cluster.Replica // nil: sessions not replicated
	wills *cluster.Wills   // nil: no replicated wills
}

func (v clusterView) ClusterCounters() admin.ClusterCounters {
	o, s := v.a.Counters()
	c := admin.ClusterCounters{LiveNodes: v.a.LiveNodes(), Claims: o.Claims, Conflicts: o.Conflicts,
		Takeovers: o.Takeovers, HandedOut: o.HandedOver, HandedIn: o.Received, Fenced: o.Fenced, OwnerErrors: o.Errors,
		RemoteRequests: s.Requests, RemoteServed: s.Served, RemoteErrors: s.Errors, Gathers: s.Gathers}
	if r := v.r; r != nil {
		c.Forwarded, c.RemoteIn, c.Shed = r.Forwarded.Load(), r.Received.Load(), r.Shed.Load()
		c.Unconfirmed, c.RouteErrors = r.Unconfirmed.Load(), r.Dropped.Load()
		if st := r.OrphanStats(); st != nil { // messages for dead nodes' sessions
			c.OrphanWritten, c.OrphanFailed = st.Written.Load(), st.Failed.Load()
			c.OrphanReplayed, c.OrphanDeduped = st.Replayed.Load(), st.Deduped.Load()
		}
		c.SharedIn, c.MarkersWithheld = r.SharedReceived.Load(), r.Withheld.Load()
	}
	if v.rep != nil {
		c.ReplicaRefused = v.rep.Stats.Refused.Load()
	}
	if w := v.wills; w != nil {
		c.WillsWritten, c.WillsDeleted, c.WillsPublished = w.Stats.Written.Load(), w.Stats.Deleted.Load(), w.Stats.Published.Load()
		c.WillsCancelled, c.WillsErrors = w.Stats.Cancelled.Load(), w.Stats.Errors.Load()
	}
	return c
}

func (v clusterView) ClusterStatus() admin.ClusterStatus {
	st := v.a.Status()
	out := admin.ClusterStatus{Name: st.Name, Node: st.Node, Counters: v.ClusterCounters(),
		JetStream: admin.ClusterJetStream{MetaLeader: st.JetStream.MetaLeader, MetaSize: st.JetStream.MetaSize,
			Bucket: st.JetStream.Bucket, BucketLeader: st.JetStream.BucketLeader, Error: st.JetStream.Error}}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, admin.ClusterNode{Name: n.Name, Address: n.Address, Alive: n.Alive,
			LastSeenMs: n.LastSeenMs, Connections: n.Connections, Sessions: n.Sessions})
	}
	for _, r := range st.Routes {
		out.Routes = append(out.Routes, admin.ClusterRoute{Remote: r.Remote, Address: r.Address, RTT: r.RTT,
			InMsgs: r.InMsgs, OutMsgs: r.OutMsgs})
	}
	for _, r := range st.JetStream.BucketReplicas {
		out.JetStream.BucketReplicas = append(out.JetStream.BucketReplicas,
			admin.ClusterReplica{Name: r.Name, Current: r.Current, Offline: r.Offline, Lag: r.Lag})
	}
	out.ReplicationError = st.ReplicationError
	for _, as := range st.Replication {
		a := admin.ClusterAsset{Name: as.Name, Kind: as.Kind, Stream: as.Stream, Leader: as.Leader,
			Replicas: make([]admin.ClusterReplica, 0, len(as.Replicas)), Messages: as.Messages, Bytes: as.Bytes}
		for _, r := range as.Replicas {
			a.Replicas = append(a.Replicas, admin.ClusterReplica{Name: r.Name, Current: r.Current, Offline: r.Offline, Lag: r.Lag})
		}
		out.Replication = append(out.Replication, a)
	}
	return out
}
