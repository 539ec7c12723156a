package cluster

import (
	"context"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// The replication state of glassmq's JetStream assets, for
// GET /api/v1/cluster: the key-value buckets (ownership, leases, session
// records, wills) and the streams (queues of persistent sessions, records
// for dead nodes' sessions, retained messages). Every asset is one
// JetStream stream, a key-value bucket being the stream "KV_<bucket>";
// one paged listing of the streams' information reads them all.

// AssetStatus is the replication state of one JetStream stream or
// key-value bucket of glassmq.
type AssetStatus struct {
	Name     string // the bucket's name for a key-value bucket, else the stream's
	Kind     string // "kv" or "stream"
	Stream   string // the stream behind it ("KV_<bucket>" for a bucket)
	Leader   string // the replica that orders writes; "" with none elected
	Replicas []ReplicaStatus
	Messages uint64 // messages (bucket entries and their kept history) stored now
	Bytes    uint64
}

// glassmqStream reports whether a stream belongs to glassmq: the streams
// named GLASSMQ_*, the buckets named glassmq_*, and the ownership bucket
// (and its leases) under whatever name it was given.
func glassmqStream(name, ownersBucket string) bool {
	return strings.HasPrefix(name, "GLASSMQ_") || strings.HasPrefix(name, "KV_glassmq_") ||
		(ownersBucket != "" && strings.HasPrefix(name, "KV_"+ownersBucket))
}

// replication lists the replication state of glassmq's streams and
// buckets, sorted by kind (buckets first) and name, waiting at most until
// ctx ends. It returns what it read before an error, and the error.
func replication(ctx context.Context, js jetstream.JetStream, ownersBucket string) ([]AssetStatus, error) {
	var out []AssetStatus
	l := js.ListStreams(ctx)
	for si := range l.Info() {
		if si == nil || !glassmqStream(si.Config.Name, ownersBucket) {
			continue
		}
		out = append(out, assetStatus(si))
	}
	slices.SortFunc(out, func(x, y AssetStatus) int {
		if x.Kind != y.Kind {
			return strings.Compare(x.Kind, y.Kind) // "kv" before "stream"
		}
		return strings.Compare(x.Name, y.Name)
	})
	return out, l.Err()
}

// assetStatus reads one stream's information: the leader first (current,
// no lag), then the other replicas as the leader reports them.
func assetStatus(si *jetstream.StreamInfo) AssetStatus {
	as := AssetStatus{Name: si.Config.Name, Kind: "stream", Stream: si.Config.Name,
		Messages: si.State.Msgs, Bytes: si.State.Bytes}
	if b, ok := strings.CutPrefix(si.Config.Name, "KV_"); ok {
		as.Name, as.Kind = b, "kv"
	}
	if ci := si.Cluster; ci != nil {
		as.Leader = ci.Leader
		if ci.Leader != "" {
			as.Replicas = append(as.Replicas, ReplicaStatus{Name: ci.Leader, Current: true})
		}
		for _, r := range ci.Replicas {
			if r != nil {
				as.Replicas = append(as.Replicas, ReplicaStatus{Name: r.Name, Current: r.Current, Offline: r.Offline, Lag: r.Lag})
			}
		}
	}
	return as
}
