package admin

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"
)

// This file is what admin does in a cluster: GET /api/v1/cluster, cluster
// metrics, and rate limits shared by the nodes. Answers about clients of
// other nodes need nothing here: the broker admin reads through (Broker,
// Operations) is then the cluster's fan-out, which asks the owning node.

// clusterPath serves the cluster's description.
const clusterPath = "/api/v1/cluster"

// Cluster is what admin shows of the cluster this node belongs to;
// cmd/glassmq adapts the cluster package's Admin to it. Safe for
// concurrent use.
type Cluster interface {
	// ClusterStatus describes the cluster; it may wait on the network, for
	// a bounded time.
	ClusterStatus() ClusterStatus
	// ClusterCounters reads the cluster counters; it never blocks.
	ClusterCounters() ClusterCounters
}

// ClusterStatus answers GET /api/v1/cluster.
type ClusterStatus struct {
	Name      string           `json:"name"`
	Node      string           `json:"node"` // the node that answered
	Nodes     []ClusterNode    `json:"nodes"`
	Routes    []ClusterRoute   `json:"routes"`
	JetStream ClusterJetStream `json:"jetstream"`
	Counters  ClusterCounters  `json:"counters"`
	// Replication of every glassmq stream and bucket (clusterrepl.go).
	Replication      []ClusterAsset `json:"replication"`
	ReplicationError string         `json:"replication_error,omitempty"` // why the list is incomplete
}

// ClusterNode is one node of the cluster, as its announcements say.
type ClusterNode struct {
	Name        string `json:"name"`
	Address     string `json:"address"` // its MQTT listener
	Alive       bool   `json:"alive"`   // heard from within three announcement intervals
	LastSeenMs  int64  `json:"last_seen_ms"`
	Connections int64  `json:"connections"`
	Sessions    int64  `json:"sessions"`
}

// ClusterRoute is one NATS route of this node's embedded server.
type ClusterRoute struct {
	Remote  string `json:"remote"` // the peer's server name
	Address string `json:"address"`
	RTT     string `json:"rtt"`
	InMsgs  int64  `json:"in_msgs"`
	OutMsgs int64  `json:"out_msgs"`
}

// ClusterJetStream is the health of JetStream and of the ownership bucket.
type ClusterJetStream struct {
	MetaLeader     string           `json:"meta_leader"` // "" with no leader, or with an external NATS
	MetaSize       int              `json:"meta_size"`
	Bucket         string           `json:"bucket"`
	BucketLeader   string           `json:"bucket_leader"`
	BucketReplicas []ClusterReplica `json:"bucket_replicas"`
	Error          string           `json:"error,omitempty"`
}

// ClusterReplica is one replica of the ownership bucket, or of another
// replicated stream or bucket (ClusterAsset).
type ClusterReplica struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline"`
	Lag     uint64 `json:"lag"`
}

// ClusterCounters are the cluster's counters on this node.
type ClusterCounters struct {
	LiveNodes      int    `json:"live_nodes"`
	Claims         uint64 `json:"claims"`          // ownership claims won
	Conflicts      uint64 `json:"conflicts"`       // compare-and-set attempts lost to another claim
	Takeovers      uint64 `json:"takeovers"`       // claims that took a client from another node
	HandedOut      uint64 `json:"handed_out"`      // sessions handed to another node
	HandedIn       uint64 `json:"handed_in"`       // sessions received from another node
	Fenced         uint64 `json:"fenced"`          // connections closed because another node claimed their client
	OwnerErrors    uint64 `json:"owner_errors"`    // failed claims and hand-overs
	RemoteRequests uint64 `json:"remote_requests"` // admin questions asked of other nodes
	RemoteServed   uint64 `json:"remote_served"`   // admin questions answered for other nodes
	RemoteErrors   uint64 `json:"remote_errors"`   // admin questions that failed or timed out
	Gathers        uint64 `json:"gathers"`         // client lists gathered from every node
	// Routing between nodes.
	Forwarded   uint64 `json:"forwarded"`    // messages this node sent to other nodes
	RemoteIn    uint64 `json:"remote_in"`    // messages from other nodes handed to this node's subscribers
	Shed        uint64 `json:"shed"`         // QoS 0 messages from other nodes dropped: receive queue full
	Unconfirmed uint64 `json:"unconfirmed"`  // QoS 1/2 confirmation waits that ran out
	RouteErrors uint64 `json:"route_errors"` // messages too large to cross, or undecodable
	// markers of other nodes not answered: this node was fenced or had not stored their messages
	MarkersWithheld uint64 `json:"markers_withheld"`
	// Messages kept for the sessions of dead nodes.
	OrphanWritten  uint64 `json:"orphan_written"`  // records stored for dead nodes' sessions
	OrphanFailed   uint64 `json:"orphan_failed"`   // records given up: their acks went without them
	OrphanReplayed uint64 `json:"orphan_replayed"` // messages delivered from those records to rebuilt sessions
	OrphanDeduped  uint64 `json:"orphan_deduped"`  // messages of those records that had reached the session directly
	// Shared subscriptions, replicated sessions and wills across nodes.
	SharedIn       uint64 `json:"shared_in"`       // messages from other nodes handed to a local shared subscription group (of RemoteIn)
	ReplicaRefused uint64 `json:"replica_refused"` // records of replicated session queues refused: the queue stream was full
	WillsWritten   uint64 `json:"wills_written"`   // wills of this node's connections stored in the cluster
	WillsDeleted   uint64 `json:"wills_deleted"`   // stored wills removed: connection closed normally or client back
	WillsPublished uint64 `json:"wills_published"` // wills of dead nodes' clients published by this node
	WillsCancelled uint64 `json:"wills_cancelled"` // due wills of dead nodes' clients not published: the client came back
	WillsErrors    uint64 `json:"wills_errors"`    // failed operations on the wills bucket (retried)
}

// clusterState is the Server's cluster part.
type clusterState struct {
	mu     sync.Mutex
	c      Cluster              // nil outside a cluster; guarded by mu
	base   [numLimited]Limit    // the configured limits, before sharing; guarded by mu
	set    [numLimited]bool     // base[a] was recorded; guarded by mu
	nodes  int                  // live nodes the limits are shared by, at least 1; guarded by mu
	metric prometheus.Collector // registered once
	repl   *replicationCache    // the replication state on /metrics (clusterlag.go); set once by UseCluster
}

// UseCluster serves GET /api/v1/cluster from c and adds the cluster's
// counters to /metrics. Call it once, before Serve.
func (s *Server) UseCluster(c Cluster) {
	s.cl.mu.Lock()
	s.cl.c = c
	s.cl.mu.Unlock()
	s.cl.repl = &replicationCache{c: c, now: time.Now}
	s.cl.metric = clusterCollector{c, s.cl.repl}
	s.metrics.reg.MustRegister(s.cl.metric)
}

// ShareLimits splits every action's rate limit among nodes live nodes: each
// node's bucket gets the configured rate and burst divided by nodes (a
// burst of at least one), so the cluster as a whole serves about the
// configured rate however requests spread over the nodes. The cluster calls
// it whenever the number of live nodes changes; SetRateLimits keeps the
// share. Safe for concurrent use.
func (s *Server) ShareLimits(nodes int) {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	s.cl.nodes = max(1, nodes)
	for a := range numLimited {
		if !s.cl.set[a] {
			s.cl.base[a], s.cl.set[a] = s.cfg.limit(a), true
		}
		s.applyLimitLocked(a)
	}
}

// setLimit records lim as a's configured limit and applies this node's
// share of it. Safe for concurrent use.
func (s *Server) setLimit(a action, lim Limit) {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	s.cl.base[a], s.cl.set[a] = lim, true
	s.applyLimitLocked(a)
}

func (s *Server) applyLimitLocked(a action) {
	lim, n := s.cl.base[a], max(1, s.cl.nodes)
	b := s.limits.buckets[a]
	b.SetLimit(rate.Limit(lim.Rate / float64(n)))
	b.SetBurst(max(1, lim.Burst/n))
}

func (s *Server) serveCluster(ctx *fasthttp.RequestCtx) {
	if !s.apiGuard(ctx, clusterPath) {
		return
	}
	s.cl.mu.Lock()
	c := s.cl.c
	s.cl.mu.Unlock()
	if c == nil {
		s.metrics.request(actionNative, resultError)
		nativeError(ctx, fasthttp.StatusNotFound, "not_clustered", "admin: this node is not in a cluster; start it with -cluster-name or -nats-url")
		return
	}
	t := s.cl.repl.now()
	st := c.ClusterStatus()
	if st.ReplicationError == "" {
		s.cl.repl.store(st.Replication, t)
	}
	if st.Nodes == nil {
		st.Nodes = []ClusterNode{}
	}
	if st.Routes == nil {
		st.Routes = []ClusterRoute{}
	}
	if st.JetStream.BucketReplicas == nil {
		st.JetStream.BucketReplicas = []ClusterReplica{}
	}
	if st.Replication == nil {
		st.Replication = []ClusterAsset{}
	}
	for i := range st.Replication {
		if st.Replication[i].Replicas == nil {
			st.Replication[i].Replicas = []ClusterReplica{}
		}
	}
	s.metrics.request(actionNative, resultOK)
	writeJSON(ctx, fasthttp.StatusOK, &st)
}

var (
	descClusterNodes     = desc("glassmq_cluster_nodes", "Cluster nodes alive now, as this node hears their announcements (this node included).")
	descClusterClaims    = desc("glassmq_cluster_claims_total", "Client ID ownership claims by this node: won, or conflict (a compare-and-set lost to another claim, then retried).", "result")
	descClusterTakeovers = desc("glassmq_cluster_takeovers_total", "Claims that took a client from another node.")
	descClusterHanded    = desc("glassmq_cluster_sessions_handed_total", "Persistent sessions handed between nodes: out (to a claimer) or in (from a previous owner).", "direction")
	descClusterFenced    = desc("glassmq_cluster_fenced_total", "Local connections closed because another node claimed their client ID.")
	descClusterRemote    = desc("glassmq_cluster_remote_admin_requests_total", "Admin questions about clients of other nodes: sent by this node, or served for another.", "direction")
	descClusterGathers   = desc("glassmq_cluster_list_gathers_total", "Client lists gathered from every node.")
	descClusterErrors    = desc("glassmq_cluster_errors_total", "Cluster failures: ownership (claims and hand-overs), admin (remote questions and lists) or route (messages too large to cross, or undecodable).", "kind")
	// Routing between nodes.
	descClusterMessages    = desc("glassmq_cluster_messages_total", "Messages between nodes: out (sent to other nodes) or in (from other nodes, handed to local subscribers).", "direction")
	descClusterShed        = desc("glassmq_cluster_shed_total", "QoS 0 messages from other nodes dropped because this node's receive queue was full.")
	descClusterUnconfirmed = desc("glassmq_cluster_unconfirmed_total", "Waits for other nodes to confirm QoS 1/2 messages that ran out; their acks went out unconfirmed.")
	// Messages kept for the sessions of dead nodes.
	descClusterOrphan = desc("glassmq_cluster_orphan_total", "QoS 1/2 messages kept for the sessions of dead nodes: records written (or failed, their acks sent without them), messages replayed to rebuilt sessions, or left out as deduplicated (they had reached the session directly).", "event")
	// Shared subscriptions, replicated sessions and wills across nodes.
	descClusterSharedIn = desc("glassmq_cluster_shared_messages_total", "Messages from other nodes handed to a local shared subscription group (a part of glassmq_cluster_messages_total{direction=\"in\"}).")
	descClusterRefused  = desc("glassmq_cluster_replica_refused_total", "Records of replicated persistent-session queues refused because the queue stream was full; the acks waiting for them failed.")
	descClusterWithheld = desc("glassmq_cluster_markers_withheld_total", "Markers of other nodes' QoS 1/2 batches this node did not answer: it was fenced, or had not stored their messages, so their origins did not acknowledge on its word.")
	descClusterWills    = desc("glassmq_cluster_wills_total", "Wills kept in the cluster: written (a connection's will stored), deleted (connection closed normally or client back), published (a dead node's client's will sent by this node), cancelled (due, not sent: the client came back) or errors (bucket operations that failed, retried).", "event")
)

// clusterCollector exposes ClusterCounters to Prometheus.
type clusterCollector struct {
	c    Cluster
	repl *replicationCache
}

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClusterNodes, descClusterClaims, descClusterTakeovers, descClusterHanded,
		descClusterFenced, descClusterRemote, descClusterGathers, descClusterErrors,
		descClusterMessages, descClusterShed, descClusterUnconfirmed, descClusterOrphan,
		descClusterSharedIn, descClusterRefused, descClusterWills, descClusterWithheld} {
		ch <- d
	}
	c.repl.describe(ch)
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.c.ClusterCounters()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ch <- prometheus.MustNewConstMetric(descClusterNodes, prometheus.GaugeValue, float64(n.LiveNodes))
	counter(descClusterClaims, n.Claims, "won")
	counter(descClusterClaims, n.Conflicts, "conflict")
	counter(descClusterTakeovers, n.Takeovers)
	counter(descClusterHanded, n.HandedOut, "out")
	counter(descClusterHanded, n.HandedIn, "in")
	counter(descClusterFenced, n.Fenced)
	counter(descClusterRemote, n.RemoteRequests, "sent")
	counter(descClusterRemote, n.RemoteServed, "served")
	counter(descClusterGathers, n.Gathers)
	counter(descClusterErrors, n.OwnerErrors, "ownership")
	counter(descClusterErrors, n.RemoteErrors, "admin")
	counter(descClusterErrors, n.RouteErrors, "route")
	counter(descClusterMessages, n.Forwarded, "out")
	counter(descClusterMessages, n.RemoteIn, "in")
	counter(descClusterShed, n.Shed)
	counter(descClusterUnconfirmed, n.Unconfirmed)
	counter(descClusterOrphan, n.OrphanWritten, "written")
	counter(descClusterOrphan, n.OrphanFailed, "failed")
	counter(descClusterOrphan, n.OrphanReplayed, "replayed")
	counter(descClusterOrphan, n.OrphanDeduped, "deduplicated")
	counter(descClusterWithheld, n.MarkersWithheld)
	counter(descClusterSharedIn, n.SharedIn)
	counter(descClusterRefused, n.ReplicaRefused)
	counter(descClusterWills, n.WillsWritten, "written")
	counter(descClusterWills, n.WillsDeleted, "deleted")
	counter(descClusterWills, n.WillsPublished, "published")
	counter(descClusterWills, n.WillsCancelled, "cancelled")
	counter(descClusterWills, n.WillsErrors, "errors")
	c.repl.collect(ch)
}
