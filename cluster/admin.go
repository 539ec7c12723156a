package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// Cluster-wide administration: the admin API of any node answers for any
// client of the cluster.
//
// Admin wraps this node's broker (LocalAdmin) with the same methods, which
// the admin package reads through its own interfaces. A question about a
// client is answered locally when this node has its session; otherwise the
// owner named in the ownership bucket answers over NATS request/reply on
// "<prefix>.admin.<node>", with the same session.Info in JSON. A list
// (RangeSessions) is gathered from every live node at once and merged: each
// client ID once, preferring a connected session, then the owner's; admin
// then sorts and pages it by client ID, so paging is stable across nodes.
//
// Every node says hello on "<prefix>.admin.hello" every HelloInterval with
// its name, MQTT address and counts; a node heard within three intervals is
// alive. Scatter-gather waits for the live nodes, at most Timeout, so a
// dead node slows a list by the timeout once and then no more.

// LocalAdmin is what the admin API reads and changes on this node's broker;
// broker.Engine implements it. Implementations are safe for concurrent use
// and never block on an event loop.
type LocalAdmin interface {
	SessionInfo(clientID string, dst *session.Info) bool
	RangeSessions(fn func(clientID string, connected bool) bool)
	Kick(clientID string, publishWill bool) bool
	Publish(topic string, payload []byte, qos byte, retain bool) (traceID uint64)
	PublishTo(clientID, topic string, payload []byte, qos byte) (traceID uint64, ok bool)
	Subscribe(clientID, filter string, qos byte) bool
	Unsubscribe(clientID, filter string) bool
	Will(clientID string) (w *session.Message, connected bool)
	DeleteSession(clientID string) bool
	RetainedWithPrefix(prefix string, dst []*session.Message) []*session.Message
}

// AdminConfig configures cluster-wide administration.
type AdminConfig struct {
	NC            *nats.Conn
	Name          string         // the cluster's name, for /api/v1/cluster
	Node          string         // this node's name
	Address       string         // this node's MQTT listen address, shown to operators
	Prefix        string         // subject prefix; "glassmq" when empty
	Timeout       time.Duration  // a remote question's wait; 2s when 0
	HelloInterval time.Duration  // presence announcements; 1s when 0
	Stats         *stats.Broker  // this node's counters, announced; may be nil
	Owners        *Owners        // where a client's owner is found; nil: ask every node
	Server        *server.Server // the embedded nats-server, for routes and JetStream health; nil with -nats-url
	Logger        *slog.Logger
	// OnNodes is called with the number of live nodes whenever it
	// changes, from a goroutine of Admin's: admin splits its rate limits
	// by it.
	OnNodes func(n int)
}

// AdminStats counts remote administration, for /metrics.
type AdminStats struct {
	Requests atomic.Uint64 // questions this node asked other nodes
	Served   atomic.Uint64 // questions this node answered for others
	Errors   atomic.Uint64 // questions that failed or timed out
	Gathers  atomic.Uint64 // scatter-gather lists
}

// Admin answers the admin API for the whole cluster. Create it with
// StartAdmin. Its methods are safe for concurrent use; those about a
// remote client block on the network up to the timeout.
type Admin struct {
	cfg   AdminConfig
	local LocalAdmin
	log   *slog.Logger
	subs  []*nats.Subscription
	stop  chan struct{}
	done  chan struct{}

	Stats AdminStats

	mu    sync.Mutex
	peers map[string]peer // by node name, this node included; guarded by mu
	live  int             // live nodes at the last check; guarded by mu
	where map[string]string
}

// peer is what a node's hello said, and when it was heard.
type peer struct {
	hello
	seen time.Time
}

// hello is a node's presence announcement.
type hello struct {
	Node        string `json:"node"`
	Address     string `json:"address"`
	Connections int64  `json:"connections"`
	Sessions    int64  `json:"sessions"`
}

// adminRequest is a question to one node about one client, or a list.
type adminRequest struct {
	Op       string `json:"op"`
	ClientID string `json:"client_id,omitempty"`
	Topic    string `json:"topic,omitempty"`
	Filter   string `json:"filter,omitempty"`
	Payload  []byte `json:"payload,omitempty"`
	QoS      byte   `json:"qos,omitempty"`
	Flag     bool   `json:"flag,omitempty"` // publishWill (kick)
}

// adminReply is a node's answer.
type adminReply struct {
	OK        bool             `json:"ok"`
	TraceID   uint64           `json:"trace,omitempty"` // publish_to: the message's trace ID on the owner's node
	Connected bool             `json:"connected,omitempty"`
	Info      *session.Info    `json:"info,omitempty"`
	Will      *session.Message `json:"will,omitempty"`
	List      []listed         `json:"list,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// listed is one session in a node's list.
type listed struct {
	ID        string `json:"id"`
	Connected bool   `json:"c,omitempty"`
}

// listChunk bounds the clients in one list reply, so a reply stays well
// under NATS's default 1 MiB payload limit.
const listChunk = 2000

// StartAdmin starts answering other nodes' questions and announcing this
// node. Close stops it.
func StartAdmin(cfg AdminConfig, local LocalAdmin) (*Admin, error) {
	if cfg.NC == nil || cfg.Node == "" || local == nil {
		return nil, errors.New("cluster: StartAdmin: want a NATS connection, a node name and a LocalAdmin")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "glassmq"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.HelloInterval <= 0 {
		cfg.HelloInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Admin{cfg: cfg, local: local, log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{}),
		peers: make(map[string]peer), where: make(map[string]string)}
	for subj, h := range map[string]nats.MsgHandler{
		a.nodeSubject(cfg.Node):     a.serve,
		cfg.Prefix + ".admin.all":   a.serve,
		cfg.Prefix + ".admin.hello": a.heard,
	} {
		s, err := cfg.NC.Subscribe(subj, h)
		if err != nil {
			a.unsubscribe()
			return nil, err
		}
		a.subs = append(a.subs, s)
	}
	if err := cfg.NC.Flush(); err != nil {
		a.unsubscribe()
		return nil, err
	}
	a.announce()
	go a.helloLoop()
	return a, nil
}

// Close stops answering and announcing. Safe for concurrent use; call once.
func (a *Admin) Close() error {
	close(a.stop)
	<-a.done
	a.unsubscribe()
	return nil
}

func (a *Admin) unsubscribe() {
	for _, s := range a.subs {
		s.Unsubscribe()
	}
}

func (a *Admin) nodeSubject(node string) string { return a.cfg.Prefix + ".admin." + OwnerKey(node) }

// helloLoop announces this node and recounts the live ones.
func (a *Admin) helloLoop() {
	defer close(a.done)
	t := time.NewTicker(a.cfg.HelloInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.announce()
			a.recount()
		}
	}
}

func (a *Admin) announce() {
	b, _ := json.Marshal(a.self())
	if err := a.cfg.NC.Publish(a.cfg.Prefix+".admin.hello", b); err != nil {
		a.Stats.Errors.Add(1)
	}
}

// self is this node's hello.
func (a *Admin) self() hello {
	h := hello{Node: a.cfg.Node, Address: a.cfg.Address}
	if st := a.cfg.Stats; st != nil {
		h.Connections, h.Sessions = st.Connections.Load(), st.Sessions.Load()
	}
	return h
}

// heard records another node's hello.
func (a *Admin) heard(m *nats.Msg) {
	var h hello
	if json.Unmarshal(m.Data, &h) != nil || h.Node == "" {
		return
	}
	a.mu.Lock()
	_, known := a.peers[h.Node]
	a.peers[h.Node] = peer{hello: h, seen: time.Now()}
	a.mu.Unlock()
	if !known {
		a.recount()
	}
}

// recount updates the number of live nodes and tells OnNodes of a change.
func (a *Admin) recount() {
	n := len(a.liveNodes())
	a.mu.Lock()
	changed := n != a.live
	a.live = n
	a.mu.Unlock()
	if changed && a.cfg.OnNodes != nil {
		a.cfg.OnNodes(n)
	}
}

// alive reports whether a hello seen at seen is recent.
func (a *Admin) alive(seen time.Time) bool {
	return time.Since(seen) < 3*a.cfg.HelloInterval
}

// liveNodes returns the names of the nodes heard recently, this one
// included, sorted.
func (a *Admin) liveNodes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	names := []string{a.cfg.Node}
	for name, p := range a.peers {
		if name != a.cfg.Node && a.alive(p.seen) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// LiveNodes returns how many nodes are alive, this one included. Safe for
// concurrent use.
func (a *Admin) LiveNodes() int { return len(a.liveNodes()) }

// serve answers one question from another node (or a list for everyone).
func (a *Admin) serve(m *nats.Msg) {
	var req adminRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || m.Reply == "" {
		a.Stats.Errors.Add(1)
		return
	}
	a.Stats.Served.Add(1)
	if req.Op == "list" {
		if m.Header.Get(nodeHeader) == a.cfg.Node {
			return // the asker reads its own list directly
		}
		a.serveList(m)
		return
	}
	rep := a.answer(&req)
	b, err := json.Marshal(rep)
	if err != nil {
		b, _ = json.Marshal(adminReply{Error: err.Error()})
	}
	if m.Respond(b) != nil {
		a.Stats.Errors.Add(1)
	}
}

// answer runs req on this node's broker.
func (a *Admin) answer(req *adminRequest) adminReply {
	l, id := a.local, req.ClientID
	switch req.Op {
	case "info":
		var info session.Info
		if !l.SessionInfo(id, &info) {
			return adminReply{}
		}
		return adminReply{OK: true, Info: &info}
	case "kick":
		return adminReply{OK: l.Kick(id, req.Flag)}
	case "publish_to":
		tid, ok := l.PublishTo(id, req.Topic, req.Payload, req.QoS)
		return adminReply{OK: ok, TraceID: tid}
	case "subscribe":
		return adminReply{OK: l.Subscribe(id, req.Filter, req.QoS)}
	case "unsubscribe":
		return adminReply{OK: l.Unsubscribe(id, req.Filter)}
	case "will":
		w, connected := l.Will(id)
		return adminReply{OK: true, Will: w, Connected: connected}
	case "delete":
		return adminReply{OK: l.DeleteSession(id)}
	}
	return adminReply{Error: "unknown op " + req.Op}
}

// serveList sends this node's sessions in chunks to the asker's inbox; the
// last chunk has OK set.
func (a *Admin) serveList(m *nats.Msg) {
	var chunk []listed
	send := func(last bool) bool {
		b, _ := json.Marshal(adminReply{OK: last, List: chunk})
		out := nats.NewMsg(m.Reply)
		out.Header.Set(nodeHeader, a.cfg.Node)
		out.Data = b
		if a.cfg.NC.PublishMsg(out) != nil {
			a.Stats.Errors.Add(1)
			return false
		}
		chunk = chunk[:0]
		return true
	}
	ok := true
	a.local.RangeSessions(func(id string, connected bool) bool {
		chunk = append(chunk, listed{ID: id, Connected: connected})
		if len(chunk) == listChunk {
			ok = send(false)
		}
		return ok
	})
	if ok {
		send(true)
	}
}

// ask sends req to node and decodes its reply.
func (a *Admin) ask(node string, req *adminRequest) (adminReply, error) {
	a.Stats.Requests.Add(1)
	b, _ := json.Marshal(req)
	msg, err := a.cfg.NC.Request(a.nodeSubject(node), b, a.cfg.Timeout)
	var rep adminReply
	if err == nil {
		err = json.Unmarshal(msg.Data, &rep)
	}
	if err == nil && rep.Error != "" {
		err = errors.New(rep.Error)
	}
	if err != nil {
		a.Stats.Errors.Add(1)
		a.log.Warn("cluster: admin question to another node failed", "node", node, "op", req.Op, "err", err)
	}
	return rep, err
}

// ownerOf returns the node that owns clientID: the one a recent list saw
// it on (cached true) unless fresh, else the ownership bucket's; "" when
// unknown or this node.
func (a *Admin) ownerOf(clientID string, fresh bool) (node string, cached bool) {
	if !fresh {
		a.mu.Lock()
		node, cached = a.where[clientID]
		a.mu.Unlock()
	}
	if !cached && a.cfg.Owners != nil {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timeout)
		defer cancel()
		if e, err := a.cfg.Owners.KV().Get(ctx, OwnerKey(clientID)); err == nil {
			node = string(e.Value())
		}
	}
	if node == a.cfg.Node {
		return "", cached
	}
	return node, cached
}

// remote asks the owner of req.ClientID, when it is another node. A node
// remembered from a list that no longer has the client is forgotten, and
// the bucket asked.
func (a *Admin) remote(req *adminRequest) (adminReply, bool) {
	rep, _, ok := a.remoteAt(req)
	return rep, ok
}

// remoteAt is remote that also names the node that answered.
func (a *Admin) remoteAt(req *adminRequest) (rep adminReply, node string, ok bool) {
	node, cached := a.ownerOf(req.ClientID, false)
	if node == "" && !cached {
		return adminReply{}, "", false
	}
	var err error
	if node != "" {
		rep, err = a.ask(node, req)
		if err == nil && (rep.OK || !cached) {
			return rep, node, true
		}
	}
	if !cached {
		return rep, node, false
	}
	a.mu.Lock()
	delete(a.where, req.ClientID)
	a.mu.Unlock()
	if node, _ = a.ownerOf(req.ClientID, true); node == "" {
		return adminReply{}, "", false
	}
	rep, err = a.ask(node, req)
	return rep, node, err == nil
}

// SessionInfo fills dst with the session of clientID, from this node or
// from its owner. Safe for concurrent use.
//
// A connected local session is the answer. An offline one is too, unless
// the client's owner is another node that has a session for it: a node
// that was down while its client moved keeps a stale offline copy.
func (a *Admin) SessionInfo(clientID string, dst *session.Info) bool {
	_, ok := a.SessionInfoAt(clientID, dst)
	return ok
}

// SessionInfoAt is SessionInfo that also names the node whose session
// answered: this node's name when it holds the session, else the owner's
// that answered over NATS. Safe for concurrent use.
func (a *Admin) SessionInfoAt(clientID string, dst *session.Info) (node string, ok bool) {
	local := a.local.SessionInfo(clientID, dst)
	if local && dst.Connected {
		return a.cfg.Node, true
	}
	rep, node, ok := a.remoteAt(&adminRequest{Op: "info", ClientID: clientID})
	if !ok || !rep.OK || rep.Info == nil {
		if local {
			return a.cfg.Node, true
		}
		return "", false
	}
	*dst = *rep.Info
	return node, true
}

// RangeSessions calls fn for every session of the cluster, each client ID
// once (a connected session before an offline one, then the lowest node
// name), in no order; admin sorts. Nodes that do not answer within the
// timeout are left out. Safe for concurrent use.
func (a *Admin) RangeSessions(fn func(clientID string, connected bool) bool) {
	type seen struct {
		node      string
		connected bool
	}
	all := make(map[string]seen)
	add := func(node, id string, connected bool) {
		if s, ok := all[id]; ok {
			if s.connected && !connected || s.connected == connected && s.node < node {
				return // the one kept is connected, or as connected and on a lower node
			}
		}
		all[id] = seen{node, connected}
	}
	a.local.RangeSessions(func(id string, connected bool) bool {
		add(a.cfg.Node, id, connected)
		return true
	})
	for node, list := range a.gather() {
		for _, l := range list {
			add(node, l.ID, l.Connected)
		}
	}
	where := make(map[string]string, len(all))
	for id, s := range all {
		if s.node != a.cfg.Node {
			where[id] = s.node
		}
	}
	a.mu.Lock()
	a.where = where // SessionInfo of a listed client asks its node directly
	a.mu.Unlock()
	for id, s := range all {
		if !fn(id, s.connected) {
			return
		}
	}
}

// gather asks every node for its list and returns the lists by node, from
// the nodes that finished within the timeout (this node excluded).
func (a *Admin) gather() map[string][]listed {
	a.Stats.Gathers.Add(1)
	want := len(a.liveNodes()) - 1
	got := make(map[string][]listed)
	if want <= 0 {
		return got
	}
	inbox := a.cfg.NC.NewRespInbox()
	sub, err := a.cfg.NC.SubscribeSync(inbox)
	if err != nil {
		a.Stats.Errors.Add(1)
		return got
	}
	defer sub.Unsubscribe()
	req := nats.NewMsg(a.cfg.Prefix + ".admin.all")
	req.Reply = inbox
	req.Header.Set(nodeHeader, a.cfg.Node)
	req.Data, _ = json.Marshal(adminRequest{Op: "list"})
	if err := a.cfg.NC.PublishMsg(req); err != nil {
		a.Stats.Errors.Add(1)
		return got
	}
	partial := make(map[string][]listed)
	deadline := time.Now().Add(a.cfg.Timeout)
	for done := 0; done < want; {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			a.Stats.Errors.Add(1)
			a.log.Warn("cluster: client list incomplete", "nodes_answered", done, "nodes_alive", want+1, "err", err)
			break
		}
		node, ok := a.nodeOfReply(m)
		var rep adminReply
		if !ok || node == a.cfg.Node || json.Unmarshal(m.Data, &rep) != nil {
			continue
		}
		partial[node] = append(partial[node], rep.List...)
		if _, twice := got[node]; rep.OK && !twice {
			got[node] = partial[node]
			done++
		}
	}
	return got
}

// nodeOfReply tells which node sent a list chunk, by its nodeHeader.
func (a *Admin) nodeOfReply(m *nats.Msg) (string, bool) {
	if m.Header == nil {
		return "", false
	}
	n := m.Header.Get(nodeHeader)
	return n, n != ""
}

// nodeHeader names the node that asked for a list, or sent a chunk of one.
const nodeHeader = "Glassmq-Node"

// Kick closes the client's connection on whichever node has it. Safe for
// concurrent use.
func (a *Admin) Kick(clientID string, publishWill bool) bool {
	if a.local.Kick(clientID, publishWill) {
		return true
	}
	rep, ok := a.remote(&adminRequest{Op: "kick", ClientID: clientID, Flag: publishWill})
	return ok && rep.OK
}

// Publish publishes as the broker on this node; routing carries it to the
// subscribers of every node. Safe for concurrent use.
func (a *Admin) Publish(topic string, payload []byte, qos byte, retain bool) (traceID uint64) {
	return a.local.Publish(topic, payload, qos, retain)
}

// PublishTo queues a message for one client's session, on its node, and
// returns its trace ID there (traces are kept per node). Safe for
// concurrent use.
func (a *Admin) PublishTo(clientID, topic string, payload []byte, qos byte) (traceID uint64, ok bool) {
	if a.hasLocal(clientID) {
		return a.local.PublishTo(clientID, topic, payload, qos)
	}
	rep, ok := a.remote(&adminRequest{Op: "publish_to", ClientID: clientID, Topic: topic, Payload: payload, QoS: qos})
	return rep.TraceID, ok && rep.OK
}

// Subscribe adds a subscription to a client's session, on its node. Safe
// for concurrent use.
func (a *Admin) Subscribe(clientID, filter string, qos byte) bool {
	if a.hasLocal(clientID) {
		return a.local.Subscribe(clientID, filter, qos)
	}
	rep, ok := a.remote(&adminRequest{Op: "subscribe", ClientID: clientID, Filter: filter, QoS: qos})
	return ok && rep.OK
}

// Unsubscribe removes a subscription from a client's session, on its node.
// Safe for concurrent use.
func (a *Admin) Unsubscribe(clientID, filter string) bool {
	if a.hasLocal(clientID) {
		return a.local.Unsubscribe(clientID, filter)
	}
	rep, ok := a.remote(&adminRequest{Op: "unsubscribe", ClientID: clientID, Filter: filter})
	return ok && rep.OK
}

// Will returns the will of a client's connection, from its node. Safe for
// concurrent use.
func (a *Admin) Will(clientID string) (*session.Message, bool) {
	if a.hasLocal(clientID) {
		return a.local.Will(clientID)
	}
	rep, ok := a.remote(&adminRequest{Op: "will", ClientID: clientID})
	if !ok || !rep.OK {
		return nil, false
	}
	return rep.Will, rep.Connected
}

// DeleteSession deletes a client's session on its node. Safe for
// concurrent use.
func (a *Admin) DeleteSession(clientID string) bool {
	if a.hasLocal(clientID) {
		return a.local.DeleteSession(clientID)
	}
	rep, ok := a.remote(&adminRequest{Op: "delete", ClientID: clientID})
	return ok && rep.OK
}

// RetainedWithPrefix reads this node's retained messages: every node holds
// them all. Safe for concurrent use.
func (a *Admin) RetainedWithPrefix(prefix string, dst []*session.Message) []*session.Message {
	return a.local.RetainedWithPrefix(prefix, dst)
}

// hasLocal reports whether this node holds clientID's session: connected
// here, or offline here while the bucket names no other owner.
func (a *Admin) hasLocal(clientID string) bool {
	var info session.Info
	if !a.local.SessionInfo(clientID, &info) {
		return false
	}
	if info.Connected {
		return true
	}
	node, _ := a.ownerOf(clientID, true)
	return node == ""
}

// Status is the cluster as this node sees it, for GET /api/v1/cluster.
type Status struct {
	Name      string
	Node      string
	Nodes     []NodeStatus
	Routes    []RouteStatus
	JetStream JetStreamStatus
	Owners    OwnerCounts
	Admin     AdminCounts
	// Replication is the state of every glassmq stream and bucket
	// (adminrepl.go); ReplicationError says why it is incomplete.
	Replication      []AssetStatus
	ReplicationError string
}

// NodeStatus is one node as its hellos describe it.
type NodeStatus struct {
	Name        string
	Address     string
	Alive       bool
	LastSeenMs  int64 // epoch ms of its last hello
	Connections int64
	Sessions    int64
}

// RouteStatus is one NATS route of the embedded server.
type RouteStatus struct {
	Remote  string // the peer's server name
	Address string // ip:port
	RTT     string
	InMsgs  int64
	OutMsgs int64
}

// JetStreamStatus is the health of JetStream and of the ownership bucket.
type JetStreamStatus struct {
	MetaLeader     string // "" when unknown (external NATS) or no leader elected
	MetaSize       int
	Bucket         string
	BucketLeader   string
	BucketReplicas []ReplicaStatus
	Error          string // why the health could not be read, "" when it was
}

// ReplicaStatus is one replica of the ownership bucket, or of another
// replicated stream or bucket (AssetStatus).
type ReplicaStatus struct {
	Name    string
	Current bool
	Offline bool
	Lag     uint64
}

// OwnerCounts are OwnerStats read at one moment.
type OwnerCounts struct {
	Claims, Conflicts, Takeovers, HandedOver, Received, Fenced, Errors uint64
}

// AdminCounts are AdminStats read at one moment.
type AdminCounts struct {
	Requests, Served, Errors, Gathers uint64
}

// Counters reads the ownership and remote-admin counters; it never
// blocks. Safe for concurrent use.
func (a *Admin) Counters() (OwnerCounts, AdminCounts) {
	var oc OwnerCounts
	if o := a.cfg.Owners; o != nil {
		s := &o.Stats
		oc = OwnerCounts{s.Claims.Load(), s.Conflicts.Load(), s.Takeovers.Load(), s.HandedOver.Load(),
			s.Received.Load(), s.Fenced.Load(), s.Errors.Load()}
	}
	s := &a.Stats
	return oc, AdminCounts{s.Requests.Load(), s.Served.Load(), s.Errors.Load(), s.Gathers.Load()}
}

// Status describes the cluster: the nodes heard, the routes and JetStream
// health of the embedded server, the ownership bucket's replicas and the
// replication state of every glassmq stream and bucket. It may wait up to
// the timeout for JetStream, in all. Safe for concurrent use.
func (a *Admin) Status() Status {
	st := Status{Name: a.cfg.Name, Node: a.cfg.Node}
	me := a.self()
	st.Nodes = append(st.Nodes, NodeStatus{Name: me.Node, Address: me.Address, Alive: true,
		LastSeenMs: time.Now().UnixMilli(), Connections: me.Connections, Sessions: me.Sessions})
	a.mu.Lock()
	for name, p := range a.peers {
		if name != a.cfg.Node { // a NoEcho connection never hears itself; another may
			st.Nodes = append(st.Nodes, NodeStatus{Name: name, Address: p.Address, Alive: a.alive(p.seen),
				LastSeenMs: p.seen.UnixMilli(), Connections: p.Connections, Sessions: p.Sessions})
		}
	}
	a.mu.Unlock()
	slices.SortFunc(st.Nodes, func(x, y NodeStatus) int { return strings.Compare(x.Name, y.Name) })
	if s := a.cfg.Server; s != nil {
		if rz, err := s.Routez(&server.RoutezOptions{}); err == nil {
			for _, r := range rz.Routes {
				st.Routes = append(st.Routes, RouteStatus{Remote: r.RemoteName, Address: joinHostPort(r.IP, r.Port),
					RTT: r.RTT, InMsgs: r.InMsgs, OutMsgs: r.OutMsgs})
			}
			slices.SortFunc(st.Routes, func(x, y RouteStatus) int { return strings.Compare(x.Remote+x.Address, y.Remote+y.Address) })
		}
		if jz, err := s.Jsz(&server.JSzOptions{}); err == nil && jz.Meta != nil {
			st.JetStream.MetaLeader, st.JetStream.MetaSize = jz.Meta.Leader, jz.Meta.Size
		}
	}
	if o := a.cfg.Owners; o != nil {
		st.JetStream.Bucket = o.cfg.Bucket
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timeout)
		defer cancel()
		if kst, err := o.KV().Status(ctx); err != nil {
			st.JetStream.Error = err.Error()
		} else if bs, ok := kst.(*jetstream.KeyValueBucketStatus); ok {
			if ci := bs.StreamInfo().Cluster; ci != nil {
				st.JetStream.BucketLeader = ci.Leader
				st.JetStream.BucketReplicas = append(st.JetStream.BucketReplicas, ReplicaStatus{Name: ci.Leader, Current: true})
				for _, r := range ci.Replicas {
					st.JetStream.BucketReplicas = append(st.JetStream.BucketReplicas,
						ReplicaStatus{Name: r.Name, Current: r.Current, Offline: r.Offline, Lag: r.Lag})
				}
			}
		}
		var err error
		if st.Replication, err = replication(ctx, o.cfg.JS, o.cfg.Bucket); err != nil {
			st.ReplicationError = err.Error()
		}
	}
	st.Owners, st.Admin = a.Counters()
	return st
}

func joinHostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }
