package admin

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// slowCluster answers ClusterStatus only when release lets it, and counts
// the calls.
type slowCluster struct {
	st      ClusterStatus
	release chan struct{}
	calls   atomic.Int32
}

func (c *slowCluster) ClusterStatus() ClusterStatus {
	c.calls.Add(1)
	<-c.release
	return c.st
}
func (c *slowCluster) ClusterCounters() ClusterCounters { return c.st.Counters }

func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp := serve(t, s, &testReq{method: "GET", path: "/metrics"})
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(resp.Body()))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// TestReplicationGauges: /metrics never waits for JetStream: a scrape while
// the replication state is being read answers at once, without replica
// series, and starts one read however many scrapes come meanwhile; the
// next scrape after it shows each replica's lag, current and offline flags
// and each asset's size; state older than replicationMaxAge is read again,
// and GET /api/v1/cluster refreshes it on its way.
func TestReplicationGauges(t *testing.T) {
	repl := ClusterAsset{Name: "glassmq_owners", Kind: "kv", Stream: "KV_glassmq_owners", Leader: "n1",
		Replicas: []ClusterReplica{{Name: "n1", Current: true}, {Name: "n2", Current: true, Lag: 3}, {Name: "n3", Offline: true}},
		Messages: 4, Bytes: 512}
	c := &slowCluster{st: ClusterStatus{Name: "c", Node: "n1", Replication: []ClusterAsset{repl}}, release: make(chan struct{})}
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	s.UseCluster(c)
	var clock atomic.Int64
	clock.Store(time.Unix(1000, 0).UnixNano())
	s.cl.repl.now = func() time.Time { return time.Unix(0, clock.Load()) }

	for range 3 {
		start := time.Now()
		fams := scrape(t, s)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("a scrape waited %v for the cluster", d)
		}
		if _, ok := value(fams, "glassmq_cluster_replica_lag", nil); ok {
			t.Fatal("replica series before anything was read")
		}
		if _, ok := fams["glassmq_cluster_nodes"]; !ok {
			t.Fatal("the cluster counters went missing while the replication state is read")
		}
	}
	waitFor(t, func() bool { return c.calls.Load() == 1 })
	close(c.release) // the read returns; later ones do not wait
	var fams map[string]*dto.MetricFamily
	waitFor(t, func() bool {
		fams = scrape(t, s)
		_, ok := value(fams, "glassmq_cluster_replica_lag", nil)
		return ok
	})
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("%d reads for scrapes during one; want 1", n)
	}
	for _, w := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"glassmq_cluster_replica_lag", map[string]string{"asset": "glassmq_owners", "replica": "n2"}, 3},
		{"glassmq_cluster_replica_lag", map[string]string{"asset": "glassmq_owners", "replica": "n1"}, 0},
		{"glassmq_cluster_replica_current", map[string]string{"asset": "glassmq_owners", "replica": "n2"}, 1},
		{"glassmq_cluster_replica_current", map[string]string{"asset": "glassmq_owners", "replica": "n3"}, 0},
		{"glassmq_cluster_replica_offline", map[string]string{"asset": "glassmq_owners", "replica": "n3"}, 1},
		{"glassmq_cluster_stream_messages", map[string]string{"asset": "glassmq_owners"}, 4},
		{"glassmq_cluster_stream_bytes", map[string]string{"asset": "glassmq_owners"}, 512},
		{"glassmq_cluster_replication_age_seconds", nil, 0},
	} {
		if v, ok := value(fams, w.name, w.labels); !ok || v != w.want {
			t.Fatalf("%s%v = %v (present %v), want %v", w.name, w.labels, v, ok, w.want)
		}
	}

	// Fresh enough: no new read. Too old: one more, and the age shows.
	clock.Add(int64(replicationMaxAge))
	scrape(t, s)
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("%d reads with state %v old; want 1", n, replicationMaxAge)
	}
	clock.Add(int64(time.Second))
	fams = scrape(t, s)
	if v, _ := value(fams, "glassmq_cluster_replication_age_seconds", nil); v != replicationMaxAge.Seconds()+1 {
		t.Fatalf("age %v s, want %v", v, replicationMaxAge.Seconds()+1)
	}
	waitFor(t, func() bool { return c.calls.Load() == 2 })

	// GET /api/v1/cluster refreshes the state the scrapes show.
	waitFor(t, func() bool { s.cl.repl.mu.Lock(); defer s.cl.repl.mu.Unlock(); return !s.cl.repl.refreshing })
	newer := repl
	newer.Replicas = []ClusterReplica{{Name: "n1", Current: true}, {Name: "n2", Current: true, Lag: 9}}
	c.st.Replication = []ClusterAsset{newer} // no read is running now
	clock.Add(int64(time.Second))
	serve(t, s, &testReq{method: "GET", path: clusterPath})
	fams = scrape(t, s)
	if v, _ := value(fams, "glassmq_cluster_replica_lag", map[string]string{"asset": "glassmq_owners", "replica": "n2"}); v != 9 {
		t.Fatalf("lag after GET %s: %v, want 9", clusterPath, v)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
	}
}
