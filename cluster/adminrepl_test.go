package cluster

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestGlassmqStream: the replication list keeps glassmq's streams and
// buckets, the ownership bucket under a configured name too, and leaves
// out the other streams of a NATS that glassmq shares (-nats-url).
func TestGlassmqStream(t *testing.T) {
	for _, tc := range []struct {
		stream, owners string
		want           bool
	}{
		{"KV_glassmq_owners", "glassmq_owners", true},
		{"KV_glassmq_owners_leases", "glassmq_owners", true},
		{"KV_glassmq_sessions", "glassmq_owners", true},
		{"KV_glassmq_wills", "glassmq_owners", true},
		{"GLASSMQ_QUEUE", "glassmq_owners", true},
		{"GLASSMQ_ORPHAN", "glassmq_owners", true},
		{"GLASSMQ_RETAINED", "glassmq_owners", true},
		{"KV_fleet_owners", "fleet_owners", true},
		{"KV_fleet_owners_leases", "fleet_owners", true},
		{"KV_fleet_owners", "glassmq_owners", false},
		{"ORDERS", "glassmq_owners", false},
		{"KV_config", "glassmq_owners", false},
		{"OBJ_glassmq_x", "glassmq_owners", false},
	} {
		if got := glassmqStream(tc.stream, tc.owners); got != tc.want {
			t.Errorf("glassmqStream(%q, %q) = %v, want %v", tc.stream, tc.owners, got, tc.want)
		}
	}
}

// TestAssetStatus: a bucket shows under its own name with the leader
// first, current and without lag, then the other replicas as reported.
func TestAssetStatus(t *testing.T) {
	si := &jetstream.StreamInfo{Config: jetstream.StreamConfig{Name: "KV_glassmq_wills"},
		State: jetstream.StreamState{Msgs: 5, Bytes: 640},
		Cluster: &jetstream.ClusterInfo{Leader: "n2", Replicas: []*jetstream.PeerInfo{
			{Name: "n1", Current: true, Lag: 2}, {Name: "n3", Offline: true, Lag: 9}}}}
	got := assetStatus(si)
	if got.Name != "glassmq_wills" || got.Kind != "kv" || got.Stream != "KV_glassmq_wills" || got.Leader != "n2" ||
		got.Messages != 5 || got.Bytes != 640 || len(got.Replicas) != 3 ||
		got.Replicas[0] != (ReplicaStatus{Name: "n2", Current: true}) ||
		got.Replicas[1] != (ReplicaStatus{Name: "n1", Current: true, Lag: 2}) ||
		got.Replicas[2] != (ReplicaStatus{Name: "n3", Offline: true, Lag: 9}) {
		t.Fatalf("assetStatus = %+v", got)
	}
	got = assetStatus(&jetstream.StreamInfo{Config: jetstream.StreamConfig{Name: "GLASSMQ_QUEUE"},
		Cluster: &jetstream.ClusterInfo{Replicas: []*jetstream.PeerInfo{{Name: "n1"}}}})
	if got.Name != "GLASSMQ_QUEUE" || got.Kind != "stream" || got.Leader != "" || len(got.Replicas) != 1 {
		t.Fatalf("stream without a leader: %+v", got)
	}
}
