package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says how a node joins the cluster. Either NATSURL is set (connect
// to an existing NATS cluster) or the node embeds nats-server, listening for
// routes on Listen and dialling Peers.
type Config struct {
	Name     string       // cluster name; every node of one cluster uses the same
	NodeName string       // this node's name, unique in the cluster
	Listen   string       // host:port for NATS cluster routes (embedded server)
	Peers    []string     // host:port of other nodes' Listen (embedded server)
	NATSURL  string       // nats://host:port[,...] of an external NATS cluster; "" embeds one
	DataDir  string       // JetStream storage goes under DataDir/nats (embedded server)
	Replicas int          // JetStream replicas of cluster state; 0 means min(3, nodes)
	Logger   *slog.Logger // nil: slog.Default()

	// MaxPayload is the largest NATS message the embedded server accepts,
	// bytes; 0 means 8 MiB. Larger MQTT messages are not forwarded.
	MaxPayload int
}

// Node is one glassmq node's membership in the cluster: the embedded
// nats-server (nil with NATSURL) and the one nats.go connection the broker
// uses. Safe for concurrent use.
type Node struct {
	cfg Config
	srv *server.Server // nil when connected to an external NATS
	nc  *nats.Conn
	// sc is a second connection, with echo, that carries only shared
	// subscription traffic (shared.go): its queue subscriptions make this
	// node a candidate for its own publishes, which nc's NoEcho would hide.
	sc  *nats.Conn
	js  jetstream.JetStream
	log *slog.Logger
}

// readyTimeout bounds the wait for the embedded server to accept
// connections.
const readyTimeout = 30 * time.Second

// Start joins the cluster: it starts the embedded nats-server (routes to
// Peers, JetStream under DataDir/nats, no client port) and connects to it
// in-process, or connects to NATSURL. JetStream may still be electing its
// leader when Start returns; see JetStreamReady. Safe for concurrent use.
func Start(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NodeName == "" {
		return nil, errors.New("cluster: a node needs a name")
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName)}
	opts := []nats.Option{
		nats.Name("glassmq " + cfg.NodeName),
		nats.MaxReconnects(-1), // a broker never gives up on its cluster
		nats.ReconnectBufSize(64 << 20),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			n.log.Warn("cluster: nats error", "subject", subj, "err", err)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				n.log.Warn("cluster: disconnected from nats", "err", err)
			}
		}),
	}
	var err error
	if cfg.NATSURL != "" {
		n.nc, err = nats.Connect(cfg.NATSURL, append(opts, nats.NoEcho())...) // the publishing node delivers locally itself
		if err != nil {
			return nil, fmt.Errorf("cluster: connect to %s: %w", cfg.NATSURL, err)
		}
		if n.sc, err = nats.Connect(cfg.NATSURL, sharedOptions(opts, cfg.NodeName)...); err != nil {
			n.nc.Close()
			return nil, fmt.Errorf("cluster: connect to %s: %w", cfg.NATSURL, err)
		}
	} else {
		var b [16]byte
		rand.Read(b[:])
		token := hex.EncodeToString(b[:])
		if n.srv, err = startServer(cfg, token, n.log); err != nil {
			return nil, err
		}
		n.nc, err = nats.Connect("", append(opts, nats.NoEcho(), nats.InProcessServer(n.srv), nats.Token(token))...)
		if err != nil {
			n.srv.Shutdown()
			return nil, fmt.Errorf("cluster: in-process connection: %w", err)
		}
		n.sc, err = nats.Connect("", append(sharedOptions(opts, cfg.NodeName), nats.InProcessServer(n.srv), nats.Token(token))...)
		if err != nil {
			n.nc.Close()
			n.srv.Shutdown()
			return nil, fmt.Errorf("cluster: in-process connection: %w", err)
		}
	}
	if n.js, err = jetstream.New(n.nc); err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	return n, nil
}

// startServer starts the embedded nats-server and waits until it accepts
// connections.
func startServer(cfg Config, token string, log *slog.Logger) (*server.Server, error) {
	host, port, err := splitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen %q: %w", cfg.Listen, err)
	}
	maxPayload := cfg.MaxPayload
	if maxPayload <= 0 {
		maxPayload = 8 << 20
	}
	o := &server.Options{
		ServerName: cfg.NodeName,
		// nats-server starts its routes only after its client listener, so
		// there is one: on loopback, on a random port, behind a random
		// token that only this process knows. The broker itself connects
		// in-process.
		Host:          "127.0.0.1",
		Port:          server.RANDOM_PORT,
		Authorization: token,
		NoSigs:        true,
		JetStream:     true,
		StoreDir:      filepath.Join(cfg.DataDir, "nats"),
		MaxPayload:    int32(maxPayload),
		// A subject carries an encoded MQTT topic (up to three bytes per
		// topic byte), so the protocol line must fit a long one.
		MaxControlLine: 256 << 10,
		Cluster:        server.ClusterOpts{Name: cfg.Name, Host: host, Port: port},
	}
	for _, p := range cfg.Peers {
		o.Routes = append(o.Routes, &url.URL{Scheme: "nats", Host: p})
	}
	if len(o.Routes) == 0 {
		// A first node with no peers yet: clustered JetStream insists on a
		// configured route, and NATS recognises and skips a route to itself.
		o.Routes = []*url.URL{{Scheme: "nats", Host: net.JoinHostPort(host, strconv.Itoa(port))}}
	}
	if port != 0 {
		// nats-server reports a busy route port only when its start times
		// out; find out at once.
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("cluster: cannot listen for routes on %s: %w", cfg.Listen, err)
		}
		ln.Close()
	}
	s, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("cluster: nats-server: %w", err)
	}
	s.SetLoggerV2(serverLog{log}, false, false, false)
	s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		return nil, fmt.Errorf("cluster: nats-server not ready after %v (is %s free?)", readyTimeout, cfg.Listen)
	}
	return s, nil
}

func splitHostPort(hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not 0..65535", p)
	}
	if h == "" {
		h = "0.0.0.0"
	}
	return h, port, nil
}

// NC returns the node's one NATS connection. Safe for concurrent use.
func (n *Node) NC() *nats.Conn { return n.nc }

// JS returns JetStream on the node's connection. Safe for concurrent use.
func (n *Node) JS() jetstream.JetStream { return n.js }

// Name returns the node's name. Safe for concurrent use.
func (n *Node) Name() string { return n.cfg.NodeName }

// ClusterName returns the cluster's name ("" with an external NATS whose
// name the node was not told). Safe for concurrent use.
func (n *Node) ClusterName() string { return n.cfg.Name }

// Server returns the embedded nats-server, nil when the node uses an
// external NATS. Safe for concurrent use.
func (n *Node) Server() *server.Server { return n.srv }

// Replicas returns the number of JetStream replicas for cluster state: the
// configured number, or min(3, nodes) where nodes counts this node and its
// peers (or the servers the NATS connection knows). Safe for concurrent use.
func (n *Node) Replicas() int {
	if n.cfg.Replicas > 0 {
		return n.cfg.Replicas
	}
	nodes := len(n.cfg.Peers) + 1
	if n.srv == nil {
		nodes = max(1, len(n.nc.Servers()))
	}
	return min(3, nodes)
}

// JetStreamReady waits until JetStream answers on the node's connection
// (in a cluster: its meta leader is elected) or ctx ends. Safe for
// concurrent use.
func (n *Node) JetStreamReady(ctx context.Context) error {
	for {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := n.js.AccountInfo(c)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: jetstream not ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Leaving moves the JetStream leaders this node's embedded server holds
// to the other servers, and keeps new ones off it, before the node stops:
// the streams and buckets then go on at once instead of electing leaders
// once its heartbeats are missed, while the other nodes rebuild the
// sessions of its clients. The server keeps serving this node's
// connections until Close (nats-server's lame duck mode, whose grace
// period, 10 s, outlasts a graceful stop). Nothing with -nats-url. Safe
// for concurrent use.
func (n *Node) Leaving() {
	if n.srv != nil {
		go n.srv.LameDuckShutdown()
	}
}

// Close closes the NATS connection (without draining: the Router is
// closed first) and shuts the embedded server down. Safe for concurrent
// use; later calls do nothing.
func (n *Node) Close() error {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.sc != nil {
		n.sc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	return nil
}

// serverLog sends nats-server's log to slog: its notices (a banner, each
// route) at Debug, the rest at
// their level. Fatal is logged as an error (the server then shuts itself
// down; we never exit the process from a library).
type serverLog struct{ l *slog.Logger }

func (s serverLog) Noticef(f string, v ...any) { s.l.Debug("nats: " + fmt.Sprintf(f, v...)) }
func (s serverLog) Warnf(f string, v ...any)   { s.l.Warn("nats: " + fmt.Sprintf(f, v...)) }
func (s serverLog) Fatalf(f string, v ...any)  { s.l.Error("nats: " + fmt.Sprintf(f, v...)) }
func (s serverLog) Errorf(f string, v ...any) {
	msg := "nats: " + fmt.Sprintf(f, v...)
	if strings.HasPrefix(f, "Error trying to connect to route") {
		s.l.Warn(msg) // a peer not up yet: NATS retries, as nodes start in any order
		return
	}
	s.l.Error(msg)
}
func (s serverLog) Debugf(f string, v ...any) { s.l.Debug("nats: " + fmt.Sprintf(f, v...)) }
func (s serverLog) Tracef(f string, v ...any) {}
