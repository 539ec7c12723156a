// Command glassmq is the glassmq MQTT broker: MQTT 3.1.1 and 3.1 over TCP,
// with an HTTP admin port that speaks Tencent Cloud's DescribeMQTTClient,
// Alibaba Cloud's QuerySessionByClientId and a native JSON API.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/auth"
	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/session/store"
	"github.com/glassmq/glassmq/trace"
)

// flagGroups orders -help by topic: each flag name's prefix picks its group.
var flagGroups = []struct {
	title string
	names []string
}{
	{"Listeners", []string{"listen", "admin-listen", "admin-realtime-priority", "instance-id", "loops", "tls-listen", "ws-listen", "wss-listen", "tls-"}},
	{"Storage", []string{"data-dir", "session-expiry", "persistence", "fsync", "fsync-interval", "store-max-pending"}},
	{"Limits", []string{"max-packet-size", "max-connections", "max-inflight", "max-queued",
		"max-subscriptions", "max-client-id-len", "max-outbound", "connect-timeout", "max-session-expiry", "receive-maximum"}},
	// Server capabilities (broker/capabilities.go).
	{"Server capabilities", []string{"max-qos", "retain-available", "wildcard-subscriptions", "subscription-identifiers"}},
	{"Shared subscriptions", []string{"shared-subscriptions", "shared-subscription-strategy"}},
	{"MQTT 5.0 topic aliases, keep-alive and message expiry", []string{"topic-alias-maximum", "server-keep-alive", "max-message-expiry"}},
	{"Admin rate limits (requests per second)", []string{"rate-"}},
	{"Admin credentials", []string{"admin-credentials", "admin-tls", "tencent-", "alibaba-", "admin-"}},
	{"Client authentication", []string{"password-file", "acl-file", "allow-anonymous", "alibaba-device-auth"}},
	{"Traces", []string{"trace-", "message-trace"}},
	{"Cluster", []string{"cluster-", "node-name", "nats-url"}},
	{"Operations", []string{"config", "sys-interval", "log-", "shutdown-timeout", "cpuprofile", "memprofile", "gc-heap-floor"}},
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "passwd" {
		os.Exit(auth.RunPasswd(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "ctl" {
		os.Exit(runCtl(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

// The engine serves the admin actions that change the broker (publish,
// server-side subscriptions, wills, session deletion).
var _ admin.Operations = (*broker.Engine)(nil)

// authorizer adapts auth.Checker to broker.Authorizer.
type authorizer struct{ *auth.Checker }

func (a authorizer) For(user, clientID string) broker.Permissions {
	return a.Checker.For(user, clientID)
}

// Authenticate returns Check's verdict, including whether the user name was
// proven (a name accepted without a password file is not).
func (a authorizer) Authenticate(clientID, username string, password []byte, hasUsername, hasPassword bool, tlsCN string) (byte, string, bool) {
	r := a.Checker.Check(auth.Credentials{ClientID: clientID, Username: username, Password: password,
		HasUsername: hasUsername, HasPassword: hasPassword, TLSCommonName: tlsCN})
	return r.Code, r.User, r.Authenticated
}

// settings holds where each flag of glassmq is parsed to.
type settings struct {
	bcfg            broker.Config
	acfg            admin.Config
	shutdownTimeout *time.Duration
	adminTLS        *bool
	cpuProfile      *string
	memProfile      *string
	heapFloor       *int
	passwordFile    *string
	aclFile         *string
	allowAnonymous  *bool
	configPath      *string
	logLevel        *string
	logFormat       *string
	deviceAuth      *bool
	traceMax        *int
	traceRetention  *time.Duration
	messageTrace    *string
	// Trace persistence (issue 14).
	tracePersist *bool
	// cluster on NATS (cluster.go)
	cluster *clusterFlags
}

// newFlags returns glassmq's flag set, with the embedded defaults, and
// where it parses to.
func newFlags() (*flag.FlagSet, *settings) {
	fs := flag.NewFlagSet("glassmq", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are reported by flagError, usage by -help
	st := &settings{bcfg: broker.DefaultConfig(), acfg: admin.DefaultConfig()}
	broker.RegisterFlags(fs, &st.bcfg)
	admin.RegisterFlags(fs, &st.acfg)
	st.shutdownTimeout = fs.Duration("shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take")
	st.adminTLS = fs.Bool("admin-tls", false, "serve the admin API over HTTPS with -tls-cert and -tls-key")
	st.cpuProfile = fs.String("cpuprofile", "", "write a CPU profile to `file` until shutdown (for go tool pprof)")
	st.memProfile = fs.String("memprofile", "", "write a heap profile to `file` at shutdown")
	st.heapFloor = fs.Int("gc-heap-floor", 64, "no garbage collection while the Go heap is below this many `MiB`; above it, Go's usual GOGC=100 (0: Go's default floor of 4; ignored when GOGC is set)")
	st.passwordFile = fs.String("password-file", "", "`file` of user:hash lines (bcrypt, argon2id or SCRAM-SHA-256, which MQTT 5.0 clients can also prove by enhanced authentication; add users with glassmq passwd [-hash scram-sha-256] FILE USER); reloaded on SIGHUP")
	st.aclFile = fs.String("acl-file", "", "`file` of allow/deny publish/subscribe rules per user, client ID pattern or anonymous; reloaded on SIGHUP")
	st.allowAnonymous = fs.Bool("allow-anonymous", true, "accept CONNECTs without a user name (default true only while no -password-file is given)")
	st.logLevel = fs.String("log-level", "info", "least severe `level` of log records written: debug, info, warn or error")
	st.logFormat = fs.String("log-format", "text", "log record `format`: text (key=value) or json, one record per line on standard error")
	st.deviceAuth = fs.Bool("alibaba-device-auth", false, "check CONNECTs of Alibaba Cloud devices (user name Signature|AccessKeyId|InstanceId or DeviceCredential|DeviceAccessKeyId|InstanceId, password the HMAC-SHA1 signature of the client ID) with the Alibaba keys of -admin-credentials and the device credentials of RegisterDeviceCredential")
	st.traceMax = fs.Int("trace-max-events", trace.DefaultMaxEvents, "connection and message trace events kept in memory, oldest evicted (about 50 bytes each)")
	st.traceRetention = fs.Duration("trace-retention", trace.DefaultRetention, "trace events older than this are dropped (0: kept until evicted by -trace-max-events)")
	st.messageTrace = fs.String("message-trace", "qos12", "which messages get a message ID and a trace: off, qos12 or all (QoS 0 too)")
	// Trace persistence (issue 14).
	st.tracePersist = fs.Bool("trace-persist", false, "keep the trace events in the store, so they and their message IDs outlive a restart (bounded like in memory by -trace-max-events and -trace-retention; written every 2s); needs -persistence on")
	st.cluster = registerClusterFlags(fs) // cluster on NATS (cluster.go)
	st.configPath = fs.String("config", "", "TOML `file` of settings: each key is a flag name without the dash (listen = \":1883\", session-expiry = \"2h\"); flags on the command line win; SIGHUP rereads it")
	return fs, st
}

// loadSettings parses args and the configuration file they name into a
// new flag set. cmdline reports the flags given on the command line.
func loadSettings(args []string) (fs *flag.FlagSet, st *settings, cmdline map[string]bool, cf *configFile, err error) {
	fs, st = newFlags()
	if err := fs.Parse(args); err != nil {
		return fs, st, nil, nil, err
	}
	cmdline = map[string]bool{} // flags given on the command line, which win over the file
	fs.Visit(func(f *flag.Flag) { cmdline[f.Name] = true })
	if *st.configPath != "" {
		var readErr error
		if cf, readErr = readConfigFile(fs, *st.configPath, "config"); cf != nil {
			err = cf.apply(fs, cmdline)
		}
		err = errors.Join(readErr, err)
	}
	return fs, st, cmdline, cf, err
}

func run(args []string, stderr io.Writer) int {
	fs, st, cmdline, cfgFile, err := loadSettings(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(fs, stderr)
			return 0
		}
		if cmdline == nil { // the command line, not the file
			fmt.Fprintln(stderr, flagError(fs, err))
		} else {
			fmt.Fprintln(stderr, err)
		}
		return 2
	}
	bcfg, acfg := st.bcfg, st.acfg
	inForce := flagValues(fs) // before the defaults below that depend on other flags
	shutdownTimeout, adminTLS, cpuProfile, memProfile, heapFloor := st.shutdownTimeout, st.adminTLS, st.cpuProfile, st.memProfile, st.heapFloor
	passwordFile, aclFile, allowAnonymous := st.passwordFile, st.aclFile, st.allowAnonymous
	anonymousSet := false
	fs.Visit(func(f *flag.Flag) { anonymousSet = anonymousSet || f.Name == "allow-anonymous" })
	if *passwordFile != "" && !anonymousSet {
		*allowAnonymous = false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "glassmq: unexpected argument %q; all settings are flags, see -help\n", fs.Arg(0))
		return 2
	}
	var tlsErr, floorErr error
	tcfg := trace.Config{MaxEvents: *st.traceMax, Retention: *st.traceRetention}
	tmode, modeErr := trace.ParseMode(*st.messageTrace)
	tcfg.Messages = tmode
	traceErr := errors.Join(modeErr, tcfg.Validate())
	if *st.tracePersist && bcfg.Persistence != "on" {
		traceErr = errors.Join(traceErr, fmt.Errorf("glassmq: -trace-persist needs -persistence on (it is %q): traces are kept in the store", bcfg.Persistence))
	}
	if *adminTLS && (bcfg.TLSCert == "" || bcfg.TLSKey == "") {
		tlsErr = fmt.Errorf("glassmq: -admin-tls needs -tls-cert and -tls-key")
	}
	if *heapFloor < 0 || *heapFloor > 1<<20 {
		floorErr = fmt.Errorf("glassmq: -gc-heap-floor %d: want a size in MiB from 0 to 1048576", *heapFloor)
	}
	logger, logErr := newLogger(stderr, *st.logLevel, *st.logFormat)
	ccfg, clusterErr := st.cluster.config(bcfg.DataDir) // cluster on NATS (cluster.go)
	if err := errors.Join(bcfg.Validate(), acfg.Validate(), tlsErr, floorErr, logErr, traceErr, clusterErr); err != nil {
		fmt.Fprintln(stderr, cfgFile.annotate(err, cmdline))
		return 2
	}
	slog.SetDefault(logger) // before NewEngine and admin.New, which keep the default logger
	if err := os.MkdirAll(bcfg.DataDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "glassmq: -data-dir %q: %v\n", bcfg.DataDir, err)
		return 1
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "glassmq: -cpuprofile %q: %v\n", *cpuProfile, err)
			return 2
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *memProfile != "" {
		defer func() {
			f, err := os.Create(*memProfile)
			if err != nil {
				slog.Error("cannot write the heap profile", "file", *memProfile, "reason", err)
				return
			}
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}()
	}
	defer startGCFloor(*heapFloor)()
	bcfg.Loops = spareProc(bcfg.Loops, os.Getenv("GOMAXPROCS") != "")
	realtimeProcs(acfg.RealtimePriority, os.Getenv("GOMAXPROCS") != "") // real-time admin threads
	eng := broker.NewEngine(bcfg)
	var authz broker.Authorizer
	tracer := trace.New(tcfg, eng.TraceRings(), time.Now())
	eng.SetTracer(tracer)
	var checker *auth.Checker
	if *passwordFile != "" || *aclFile != "" || !*allowAnonymous {
		var err error
		if checker, err = auth.Load(auth.Options{PasswordFile: *passwordFile, ACLFile: *aclFile, AllowAnonymous: *allowAnonymous}); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		authz = authorizer{checker}
		eng.SetAuthorizer(authz)
		if *passwordFile != "" { // MQTT 5.0 enhanced authentication: SCRAM-SHA-256
			eng.SetEnhancedAuth(scramMethods{checker})
		}
	}
	var db *store.DB
	stopTraces := func() {} // -trace-persist: writes the last trace events
	if bcfg.Persistence == "on" {
		mode := store.FsyncInterval
		if bcfg.Fsync == "always" {
			mode = store.FsyncAlways
		}
		var err error
		if db, err = store.Open(store.Options{Dir: bcfg.DataDir, Fsync: mode, Interval: bcfg.FsyncInterval, MaxPending: bcfg.StoreMaxPending}); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer db.Close()
		if err := eng.UseStore(db); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	own, stopCluster, err := startCluster(st.cluster, ccfg, eng) // cluster on NATS (cluster.go)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer stopCluster()
	srv := broker.NewServer(eng)
	adm, err := admin.New(acfg, own.broker(eng), eng.Stats()) // in a cluster: answers for every node's clients
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	own.attach(adm) // /api/v1/cluster, cluster metrics, rate limits shared by the nodes (clusterown.go)
	adm.UseTracer(tracer)
	if *st.deviceAuth {
		eng.SetAuthorizer(deviceAuthorizer{adm: adm, next: authz})
	}
	if db != nil {
		adm.WatchStore(db) // /healthz answers 503 while the store fails
		// Device credentials (issue 14): kept in the store, loaded here.
		if err := useStoredCredentials(adm, db, bcfg.Fsync == "always"); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if *st.tracePersist { // before the broker starts: it restores the rings' message IDs
			if stopTraces, err = keepTraces(tracer, db); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
		}
	}
	ln, err := net.Listen("tcp", acfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "glassmq: -admin-listen %q: %v\n", acfg.Listen, err)
		return 1
	}
	adminScheme := "http"
	if *adminTLS {
		tc, err := broker.TLSConfig(broker.Config{TLSCert: bcfg.TLSCert, TLSKey: bcfg.TLSKey})
		if err != nil {
			ln.Close()
			fmt.Fprintln(stderr, err)
			return 2
		}
		ln, adminScheme = tls.NewListener(ln, tc), "https"
	}
	if err := srv.Start(); err != nil {
		ln.Close()
		fmt.Fprintln(stderr, err)
		return 1
	}
	var ns *broker.NetServer
	if bcfg.TLSListen != "" || bcfg.WSListen != "" || bcfg.WSSListen != "" {
		ns = broker.NewNetServer(eng)
		if err := ns.Start(); err != nil {
			ln.Close()
			srv.Shutdown(*shutdownTimeout)
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, name := range []string{"tls", "ws", "wss"} {
			if a := ns.Addr(name); a != nil {
				slog.Info("listening", "transport", strings.ToUpper(name), "addr", a.String())
			}
		}
	}
	sig := make(chan os.Signal, 1) // before the start record: whoever waits for it may signal at once
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	adminDone := make(chan error, 1)
	go func() { adminDone <- adm.Serve(ln) }()
	slog.Info("glassmq started", "version", broker.Version, "mqtt", srv.Addr().String(),
		"admin", adminScheme+"://"+ln.Addr().String(), "data", bcfg.DataDir)
	h := &hup{args: args, values: inForce, adm: adm, logf: func(format string, a ...any) { slog.Info(fmt.Sprintf(format, a...)) }}
	status := 0
wait:
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				reload(checker)
				if cfgFile != nil {
					h.reload()
				}
				continue
			}
			slog.Info("shutting down", "signal", s.String())
			break wait
		case err := <-adminDone:
			slog.Error("admin server stopped, shutting down", "reason", err)
			status = 1
			break wait
		}
	}
	signal.Stop(sig)
	own.leaving() // hand-overs wait until this node stopped taking from the others (cluster/leave.go)
	if err := adm.Shutdown(); err != nil {
		slog.Error("admin shutdown", "reason", err)
	}
	if ns != nil {
		ns.Shutdown(*shutdownTimeout) // closes every client, TLS/WS and TCP alike
	}
	if err := srv.Shutdown(*shutdownTimeout); err != nil {
		slog.Error("broker shutdown", "reason", err)
		status = 1
	}
	own.leave() // before the store closes: what this node took is stored, the rest kept by the others
	if db != nil {
		stopTraces()
		if err := db.Close(); err != nil {
			slog.Error("closing the store", "reason", err)
			status = 1
		}
	}
	return status
}

// reload re-reads the password and ACL files on SIGHUP; a bad file keeps
// the rules in force, and the log says what is wrong where.
func reload(c *auth.Checker) {
	if c == nil {
		slog.Warn("SIGHUP: no -password-file or -acl-file to reload")
		return
	}
	if err := c.Reload(); err != nil {
		slog.Error("SIGHUP: keeping the rules in force", "reason", err)
		return
	}
	slog.Info("SIGHUP: password and ACL files reloaded", "generation", c.Generation())
}

var flagErrRE = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-([^:]+): (.*)$`) // Go words a bad boolean without "flag"

// flagError turns a flag package error into one sentence naming the flag,
// the value and what would be valid.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return fmt.Sprintf("glassmq: unknown flag %s; run glassmq -help for the list", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Sprintf("glassmq: flag %s needs a value; run glassmq -help", name)
	}
	m := flagErrRE.FindStringSubmatch(msg)
	if m == nil {
		return "glassmq: " + msg
	}
	valid := "see glassmq -help"
	if f := fs.Lookup(m[2]); f != nil {
		var v any
		if g, ok := f.Value.(flag.Getter); ok { // -rate-limit's value is not one
			v = g.Get()
		}
		switch v.(type) {
		case time.Duration:
			valid = "want a duration with a unit, such as 500ms, 10s or 2h"
		case int, int64, uint, uint64:
			valid = "want a whole number"
		case float64:
			valid = "want a number"
		case bool:
			valid = "want true or false"
		}
	}
	return fmt.Sprintf("glassmq: -%s %q: %s", m[2], m[1], valid)
}

// usage prints the flags grouped by topic.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: glassmq [flags]\n\nglassmq is an MQTT 3.1.1 broker with a cloud-compatible admin API.\n")
	seen := map[string]bool{}
	for _, g := range flagGroups {
		var lines []string
		fs.VisitAll(func(f *flag.Flag) {
			if seen[f.Name] || !matchesGroup(f.Name, g.names) {
				return
			}
			seen[f.Name] = true
			lines = append(lines, flagLine(f))
		})
		if len(lines) > 0 {
			fmt.Fprintf(w, "\n%s:\n%s", g.title, strings.Join(lines, ""))
		}
	}
	var rest []string
	fs.VisitAll(func(f *flag.Flag) {
		if !seen[f.Name] {
			rest = append(rest, flagLine(f))
		}
	})
	if len(rest) > 0 {
		fmt.Fprintf(w, "\nOther:\n%s", strings.Join(rest, ""))
	}
}

func matchesGroup(name string, names []string) bool {
	for _, n := range names {
		if name == n || strings.HasSuffix(n, "-") && strings.HasPrefix(name, n) {
			return true
		}
	}
	return false
}

func flagLine(f *flag.Flag) string {
	arg, usage := flag.UnquoteUsage(f)
	s := "  -" + f.Name
	if arg != "" {
		s += " " + arg
	}
	s += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
	if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
		s += fmt.Sprintf(" (default %q)", f.DefValue)
	}
	return s + "\n"
}

// spareProc fixes the number of event loops (one per processor Go may use
// when loops is 0) and then lets Go run one goroutine more than there are
// loops, unless the operator set GOMAXPROCS. A saturated event loop never
// gives its processor back between rounds, so with exactly one processor
// per loop the admin API's goroutines wait for the runtime to preempt a loop
// (about 10 ms); the spare processor serves them at once, and the kernel
// shares the cores between the loops' threads and the admin's. It returns
// the number of loops.
func spareProc(loops int, operatorSet bool) int {
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	if !operatorSet {
		runtime.GOMAXPROCS(loops + 1)
	}
	return loops
}
