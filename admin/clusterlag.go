package admin

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Replication state on /metrics.
//
// Reading the replicas of every stream and bucket asks JetStream, which
// may take up to the cluster's timeout, and a scrape must not wait on it.
// So /metrics shows the last state read, with its age: a scrape that finds
// it older than replicationMaxAge starts one read in the background (the
// next scrape shows its result), and every GET /api/v1/cluster, which reads
// it anyway, refreshes it too.

// replicationMaxAge is how old the state on /metrics may be before a
// scrape asks for a new one.
const replicationMaxAge = 5 * time.Second

var (
	descReplicaLag     = desc("glassmq_cluster_replica_lag", "Operations a replica of a glassmq stream or bucket is behind its leader (0 for the leader), as last read (glassmq_cluster_replication_age_seconds).", "asset", "replica")
	descReplicaCurrent = desc("glassmq_cluster_replica_current", "1 when the leader counts the replica current, else 0, as last read.", "asset", "replica")
	descReplicaOffline = desc("glassmq_cluster_replica_offline", "1 when the replica's server is offline, else 0, as last read.", "asset", "replica")
	descAssetMessages  = desc("glassmq_cluster_stream_messages", "Messages stored in a glassmq stream or bucket (a bucket's entries and their kept history), as last read.", "asset")
	descAssetBytes     = desc("glassmq_cluster_stream_bytes", "Bytes stored in a glassmq stream or bucket, as last read.", "asset")
	descReplicationAge = desc("glassmq_cluster_replication_age_seconds", "Age of the replication state shown by the glassmq_cluster_replica_* and glassmq_cluster_stream_* series.")
)

// replicationCache is the last replication state read, for /metrics.
type replicationCache struct {
	c          Cluster
	now        func() time.Time
	mu         sync.Mutex
	assets     []ClusterAsset // guarded by mu
	at         time.Time      // when assets was read; zero before the first read; guarded by mu
	refreshing bool           // a background read is running; guarded by mu
}

// store records assets, read at t, unless a newer state is there.
func (r *replicationCache) store(assets []ClusterAsset, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.After(r.at) {
		r.assets, r.at = assets, t
	}
}

// last returns the state and its time, and starts a background read when
// it is missing or older than replicationMaxAge. It never blocks on the
// cluster.
func (r *replicationCache) last() ([]ClusterAsset, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.refreshing && r.now().Sub(r.at) > replicationMaxAge {
		r.refreshing = true
		go r.refresh()
	}
	return r.assets, r.at
}

func (r *replicationCache) refresh() {
	t := r.now()
	st := r.c.ClusterStatus()
	r.mu.Lock()
	r.refreshing = false
	r.mu.Unlock()
	if st.ReplicationError == "" || len(st.Replication) > 0 {
		r.store(st.Replication, t)
	}
}

func (r *replicationCache) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReplicaLag, descReplicaCurrent, descReplicaOffline,
		descAssetMessages, descAssetBytes, descReplicationAge} {
		ch <- d
	}
}

func (r *replicationCache) collect(ch chan<- prometheus.Metric) {
	assets, at := r.last()
	if at.IsZero() {
		return // nothing read yet: no series rather than made-up zeros
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	gauge(descReplicationAge, r.now().Sub(at).Seconds())
	for _, a := range assets {
		gauge(descAssetMessages, float64(a.Messages), a.Name)
		gauge(descAssetBytes, float64(a.Bytes), a.Name)
		for _, p := range a.Replicas {
			gauge(descReplicaLag, float64(p.Lag), a.Name, p.Name)
			gauge(descReplicaCurrent, flag(p.Current), a.Name, p.Name)
			gauge(descReplicaOffline, flag(p.Offline), a.Name, p.Name)
		}
	}
}
