package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/cluster"
)

// clusterFlags are the flags of a glassmq cluster on NATS (docs/CLUSTER.md).
type clusterFlags struct {
	name, node, listen, peers, natsURL *string
	// lease: how long a node cut off from the majority may keep its
	// clients (failure tests shorten it; docs/CLUSTER.md, Failures)
	lease *time.Duration
	// replicated session queues: the queue stream's bound in bytes
	// (docs/CLUSTER.md, "What survives a node's death")
	replicaMaxBytes *int64
}

func registerClusterFlags(fs *flag.FlagSet) *clusterFlags {
	return &clusterFlags{
		name:    fs.String("cluster-name", "glassmq", "`name` of the cluster; every node of one cluster uses the same"),
		node:    fs.String("node-name", "", "this node's `name`, unique in the cluster (required with -cluster-listen or -nats-url)"),
		listen:  fs.String("cluster-listen", "", "`host:port` where the embedded NATS server accepts routes from the other nodes; empty: a single node, no NATS"),
		peers:   fs.String("cluster-peers", "", "comma-separated `host:port` list of the other nodes' -cluster-listen"),
		natsURL: fs.String("nats-url", "", "nats://host:port[,nats://...] of an existing NATS cluster to join instead of embedding one"),
		// ownership lease (docs/CLUSTER.md, Failures)
		lease: fs.Duration("cluster-lease", 30*time.Second, "ownership lease: a node that cannot renew it for half this time closes its connections; a dead node's clients wait up to this long to attach elsewhere (2s to 10m)"),
		// replicated session queues (docs/CLUSTER.md)
		replicaMaxBytes: fs.Int64("cluster-replica-max-bytes", 1<<30, "`bytes` the replicated queues of persistent sessions (stream GLASSMQ_QUEUE) may hold on each JetStream server; when full, new records are refused and counted, and the acks waiting for them fail (0: no bound; else at least 1048576)"),
	}
}

// on reports whether this broker is a node of a cluster.
func (f *clusterFlags) on() bool { return *f.listen != "" || *f.natsURL != "" }

// config returns the cluster configuration, or every problem with the
// flags, each naming the flag, the value and what would be valid.
func (f *clusterFlags) config(dataDir string) (cluster.Config, error) {
	var errs []error
	bad := func(flag, v, valid string) {
		errs = append(errs, fmt.Errorf("glassmq: -%s %q: %s", flag, v, valid))
	}
	c := cluster.Config{Name: *f.name, NodeName: *f.node, Listen: *f.listen, NATSURL: *f.natsURL, DataDir: dataDir}
	if *f.lease < minLease || *f.lease > maxLease { // ownership lease
		bad("cluster-lease", f.lease.String(), fmt.Sprintf("must be from %v to %v, such as 30s", minLease, maxLease))
	}
	if v := *f.replicaMaxBytes; v != 0 && (v < minReplicaBytes || v > maxReplicaBytes) { // replicated session queues
		bad("cluster-replica-max-bytes", strconv.FormatInt(v, 10), fmt.Sprintf("must be 0 (no bound) or from %d (1 MiB) to %d (1 TiB), such as 1073741824 (1 GiB)", minReplicaBytes, maxReplicaBytes))
	}
	if *f.peers != "" {
		c.Peers = strings.Split(*f.peers, ",")
	}
	if !f.on() {
		if *f.peers != "" {
			bad("cluster-peers", *f.peers, "needs -cluster-listen, this node's own route address")
		}
		return c, errors.Join(errs...)
	}
	if *f.listen != "" && *f.natsURL != "" {
		bad("nats-url", *f.natsURL, "cannot be used with -cluster-listen: join an existing NATS cluster or embed one, not both")
	}
	if c.Name == "" || strings.ContainsAny(c.Name, " \t.*>") {
		bad("cluster-name", c.Name, "must be a non-empty name without spaces, '.', '*' or '>'")
	}
	if c.NodeName == "" || strings.ContainsAny(c.NodeName, " \t.*>") {
		bad("node-name", c.NodeName, "a cluster node needs a unique name without spaces, '.', '*' or '>', such as node-a")
	}
	if c.Listen != "" {
		if msg := routeAddr(c.Listen, true); msg != "" {
			bad("cluster-listen", c.Listen, msg)
		}
	}
	for _, p := range c.Peers {
		if msg := routeAddr(p, false); msg != "" {
			bad("cluster-peers", *f.peers, fmt.Sprintf("peer %q: %s", p, msg))
		} else if p == c.Listen {
			bad("cluster-peers", *f.peers, fmt.Sprintf("peer %q is this node's own -cluster-listen", p))
		}
	}
	if c.NATSURL != "" {
		for _, u := range strings.Split(c.NATSURL, ",") {
			pu, err := url.Parse(u)
			if err != nil || pu.Host == "" || (pu.Scheme != "nats" && pu.Scheme != "tls" && pu.Scheme != "ws" && pu.Scheme != "wss") {
				bad("nats-url", c.NATSURL, fmt.Sprintf("%q is not a URL such as nats://127.0.0.1:4222 (schemes nats, tls, ws, wss)", u))
			}
		}
	}
	return c, errors.Join(errs...)
}

// The ownership lease's bounds: renewals run every second (a tenth of a
// shorter lease), and a lease much shorter than a JetStream leader election
// would fence healthy nodes whenever one dies.
const (
	minLease = 2 * time.Second
	maxLease = 10 * time.Minute
)

// The bounds of -cluster-replica-max-bytes other than 0 (no bound): a
// stream smaller than a few sessions' queues would refuse records at once.
const (
	minReplicaBytes = 1 << 20
	maxReplicaBytes = 1 << 40
)

// routeAddr returns "" if s is a usable route address, else what is wrong.
// A listen address may leave the host empty (all interfaces); a peer may not.
func routeAddr(s string, listen bool) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "want host:port, such as 127.0.0.1:7222"
	}
	if host == "" && !listen {
		return "missing host, such as 127.0.0.1:" + port
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "port must be a number from 1 to 65535"
	}
	return ""
}

// The engine reports messages from other nodes it did not store, so the
// Router answers no marker behind them (cluster/quiet.go).
var _ cluster.RemoteStore = (*broker.Engine)(nil)

// startCluster joins the cluster and makes eng one of its nodes; the
// returned function leaves it. With no cluster flags it does nothing (own
// is nil).
func startCluster(f *clusterFlags, cfg cluster.Config, eng *broker.Engine) (own *clusterOwn, stop func(), err error) {
	if !f.on() {
		return nil, func() {}, nil
	}
	cfg.Logger = slog.Default()
	node, err := cluster.Start(cfg)
	if err != nil {
		return nil, nil, err
	}
	r, err := cluster.NewRouter(node, eng)
	if err != nil {
		node.Close()
		return nil, nil, err
	}
	eng.UseCluster(r)
	if own, err = startOwnership(node, eng, *f.lease); err != nil { // one owner per client ID, cluster-wide admin (clusterown.go)
		r.Close()
		node.Close()
		return nil, nil, err
	}
	rep, err := startReplica(node, eng, own, *f.replicaMaxBytes) // replicated sessions (clusterrepl.go)
	if err != nil {
		own.close()
		r.Close()
		node.Close()
		return nil, nil, err
	}
	wills, err := startWills(node, eng, own) // wills of dead nodes' clients (clusterwill.go)
	if err != nil {
		if rep != nil {
			rep.Close()
		}
		own.close()
		r.Close()
		node.Close()
		return nil, nil, err
	}
	own.router, own.replica, own.wills = r, rep, wills // counters for /metrics and /api/v1/cluster
	r.UseFence(own.owners)                             // a fenced node answers no marker (cluster/quiet.go)
	// Messages for a dead node's sessions (docs/CLUSTER.md): only with
	// replicated sessions, which are what gets rebuilt.
	if rep != nil && os.Getenv("GLASSMQ_TEST_NO_ORPHANS") == "" {
		if err := r.StartOrphans(cluster.OrphanConfig{Owners: own.owners, Lease: *f.lease, Replicas: node.Replicas()}); err != nil {
			rep.Close()
			own.close()
			r.Close()
			node.Close()
			return nil, nil, err
		}
	} else {
		r.WithoutOrphans()
	}
	own.owners.Ready() // hand-overs: the sessions a replay after a stop is for are known (cluster/orphan_resume.go)
	slog.Info("cluster node started", "cluster", cfg.Name, "node", cfg.NodeName, "routes", cfg.Listen, "peers", cfg.Peers, "nats", cfg.NATSURL)
	return own, func() {
		wills.Close()
		if rep != nil {
			rep.Close()
		}
		own.close()
		r.Close()
		node.Close()
	}, nil
}
