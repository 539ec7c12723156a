package admin

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/valyala/fasthttp"
)

// fakeCluster is a Cluster with fixed answers.
type fakeCluster struct{ st ClusterStatus }

func (f fakeCluster) ClusterStatus() ClusterStatus     { return f.st }
func (f fakeCluster) ClusterCounters() ClusterCounters { return f.st.Counters }

// TestShareLimits: with four live nodes each action's bucket gets a quarter
// of its configured rate and burst; a rate change by SetRateLimits keeps the
// split; one node gets everything back.
func TestShareLimits(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	s.ShareLimits(4)
	b := s.limits.buckets[actionDescribe]
	if r, burst := float64(b.Limit()), b.Burst(); r != 5 || burst != 5 {
		t.Fatalf("DescribeMQTTClient shared by 4: %v/s burst %d, want 5/s burst 5", r, burst)
	}
	c := s.cfg
	c.DescribeRate = 40
	if err := s.SetRateLimits(c); err != nil {
		t.Fatal(err)
	}
	if r := float64(b.Limit()); r != 10 {
		t.Fatalf("after SetRateLimits to 40/s, shared by 4: %v/s, want 10/s", r)
	}
	if r := float64(s.limits.buckets[actionQuery].Limit()); r != 125 {
		t.Fatalf("QuerySessionByClientId shared by 4: %v/s, want 125/s", r)
	}
	s.ShareLimits(1)
	if r, burst := float64(b.Limit()), b.Burst(); r != 40 || burst != 40 {
		t.Fatalf("one node: %v/s burst %d, want 40/s burst 40", r, burst)
	}
	// Throttling follows the share: of a fresh server's 20, a quarter
	// passes back to back, the next request is throttled.
	s2 := newTestServer(t, newFakeBroker(seedInfo()), nil)
	s2.limits = newLimiter(&s2.cfg) // the configured buckets, full, instead of the tests' unlimited ones
	s2.ShareLimits(4)
	for i := range 6 {
		code := tencentCode(t, serve(t, s2, unsignedTC3(`{"InstanceId":"mqtt-local","ClientId":"sub_client2"}`)))
		if i < 5 && code != "" || i == 5 && code != "RequestLimitExceeded" {
			t.Fatalf("request %d: code %q", i+1, code)
		}
	}
}

// TestClusterEndpoint: /api/v1/cluster is 404 not_clustered on a single
// node and the cluster's status in one; the cluster counters reach
// /metrics.
func TestClusterEndpoint(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	resp := serve(t, s, &testReq{method: "GET", path: clusterPath})
	if resp.StatusCode() != fasthttp.StatusNotFound {
		t.Fatalf("single node: HTTP %d, want 404", resp.StatusCode())
	}
	s.UseCluster(fakeCluster{ClusterStatus{Name: "c", Node: "n1", Nodes: []ClusterNode{{Name: "n1", Alive: true}},
		Counters: ClusterCounters{LiveNodes: 1, Takeovers: 7, Forwarded: 11, RemoteIn: 13, Shed: 5, Unconfirmed: 2, RouteErrors: 3,
			SharedIn: 17, ReplicaRefused: 19, WillsWritten: 23, WillsDeleted: 29, WillsPublished: 31, WillsCancelled: 37, WillsErrors: 41, MarkersWithheld: 43}}})
	resp = serve(t, s, &testReq{method: "GET", path: clusterPath})
	var got ClusterStatus
	if err := json.Unmarshal(resp.Body(), &got); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("HTTP %d %s: %v", resp.StatusCode(), resp.Body(), err)
	}
	if got.Node != "n1" || len(got.Nodes) != 1 || got.Routes == nil || got.Counters.Takeovers != 7 ||
		got.Counters.SharedIn != 17 || got.Counters.ReplicaRefused != 19 || got.Counters.WillsPublished != 31 {
		t.Fatalf("status %+v", got)
	}
	for _, field := range []string{`"shared_in":17`, `"replica_refused":19`, `"wills_written":23`, `"wills_deleted":29`,
		`"wills_published":31`, `"wills_cancelled":37`, `"wills_errors":41`, `"markers_withheld":43`} {
		if !bytes.Contains(resp.Body(), []byte(field)) {
			t.Errorf("/api/v1/cluster body lacks %s: %s", field, resp.Body())
		}
	}
	resp = serve(t, s, &testReq{method: "GET", path: "/metrics"})
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(resp.Body()))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := value(fams, "glassmq_cluster_takeovers_total", nil); !ok || v != 7 {
		t.Fatalf("glassmq_cluster_takeovers_total = %v (present %v), want 7", v, ok)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"glassmq_cluster_messages_total", map[string]string{"direction": "out"}, 11},
		{"glassmq_cluster_messages_total", map[string]string{"direction": "in"}, 13},
		{"glassmq_cluster_shed_total", nil, 5},
		{"glassmq_cluster_unconfirmed_total", nil, 2},
		{"glassmq_cluster_errors_total", map[string]string{"kind": "route"}, 3},
		{"glassmq_cluster_shared_messages_total", nil, 17},
		{"glassmq_cluster_replica_refused_total", nil, 19},
		{"glassmq_cluster_wills_total", map[string]string{"event": "written"}, 23},
		{"glassmq_cluster_wills_total", map[string]string{"event": "deleted"}, 29},
		{"glassmq_cluster_wills_total", map[string]string{"event": "published"}, 31},
		{"glassmq_cluster_wills_total", map[string]string{"event": "cancelled"}, 37},
		{"glassmq_cluster_wills_total", map[string]string{"event": "errors"}, 41},
		{"glassmq_cluster_markers_withheld_total", nil, 43},
	} {
		if v, ok := value(fams, c.name, c.labels); !ok || v != c.want {
			t.Fatalf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
}
