package admin

import (
	"encoding/json"
	"testing"
)

// TestClusterReplicationField: a cluster's description always carries a
// "replication" list (empty, not null, when JetStream gave none) beside the
// fields it had before, and /ui/session tells the dashboard to show its
// Cluster page only once the node is in a cluster.
func TestClusterReplicationField(t *testing.T) {
	s := newTestServer(t, newFakeBroker(seedInfo()), nil)
	var sess map[string]any
	resp := serve(t, s, &testReq{method: "GET", path: "/ui/session"})
	if err := json.Unmarshal(resp.Body(), &sess); err != nil || sess["cluster"] != nil {
		t.Fatalf("single node /ui/session: %s, %v; want no cluster field", resp.Body(), err)
	}
	s.UseCluster(fakeCluster{ClusterStatus{Name: "c", Node: "n1", Nodes: []ClusterNode{{Name: "n1", Alive: true}}}})
	resp = serve(t, s, &testReq{method: "GET", path: "/ui/session"})
	if err := json.Unmarshal(resp.Body(), &sess); err != nil || sess["cluster"] != true {
		t.Fatalf("cluster /ui/session: %s, %v; want \"cluster\":true", resp.Body(), err)
	}
	resp = serve(t, s, &testReq{method: "GET", path: clusterPath})
	var got map[string]json.RawMessage
	if err := json.Unmarshal(resp.Body(), &got); err != nil {
		t.Fatal(err)
	}
	if string(got["replication"]) != "[]" || got["jetstream"] == nil || got["counters"] == nil {
		t.Fatalf("cluster status %s; want \"replication\":[] beside jetstream and counters", resp.Body())
	}

	repl := ClusterAsset{Name: "glassmq_owners", Kind: "kv", Stream: "KV_glassmq_owners", Leader: "n1",
		Replicas: []ClusterReplica{{Name: "n1", Current: true}, {Name: "n2", Current: true, Lag: 3}, {Name: "n3", Offline: true}},
		Messages: 4, Bytes: 512}
	s2 := newTestServer(t, newFakeBroker(seedInfo()), nil)
	s2.UseCluster(fakeCluster{ClusterStatus{Name: "c", Node: "n1", Replication: []ClusterAsset{repl}}})
	resp = serve(t, s2, &testReq{method: "GET", path: clusterPath})
	const want = `[{"name":"glassmq_owners","kind":"kv","stream":"KV_glassmq_owners","leader":"n1","replicas":[` +
		`{"name":"n1","current":true,"offline":false,"lag":0},{"name":"n2","current":true,"offline":false,"lag":3},` +
		`{"name":"n3","current":false,"offline":true,"lag":0}],"messages":4,"bytes":512}]`
	if err := json.Unmarshal(resp.Body(), &got); err != nil || string(got["replication"]) != want {
		t.Fatalf("replication %s, %v; want %s", got["replication"], err, want)
	}
}
