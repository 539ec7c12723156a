package sdktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Identities used by every test. The broker under test is configured with
// them when brokerConfig.credentials is set.
const (
	instanceID = "mqtt-local"

	tencentSecretID  = "AKIDglassmqSdkTest00000000000000000"
	tencentSecretKey = "glassmq-sdktest-tencent-secret-key"
	alibabaKeyID     = "LTAI5tGlassmqSdkTest0000"
	alibabaKeySecret = "glassmq-sdktest-alibaba-key-secret"

	// highRate is the admin rate limit of tests that do not test rate
	// limits, so that polling never meets a throttle.
	highRate = 1000

	startTimeout = 20 * time.Second
)

// The broker binary is built once, by the first test that needs it (so that
// go test -list builds nothing), into binDir, removed by TestMain.
var (
	binDir    string
	buildOnce sync.Once
	brokerBin string
	buildErr  error

	// notReady is set when a broker ran but never became ready: later
	// tests fail at once instead of waiting startTimeout each, which
	// would exceed go test's -timeout.
	notReadyMu sync.Mutex
	notReady   error
)

func TestMain(m *testing.M) {
	// Every request of this package goes to loopback; a proxy from the
	// environment would only get in the way (the darabonba SDK honours
	// HTTP_PROXY even for 127.0.0.1).
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		os.Unsetenv(k)
	}
	dir, err := os.MkdirTemp("", "glassmq-sdktest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdktest:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// glassmqBinary returns the broker under test: $GLASSMQ_BIN if set, else
// ../cmd/glassmq built with the go command from the repository root.
func glassmqBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if bin := os.Getenv("GLASSMQ_BIN"); bin != "" {
			brokerBin = bin
			return
		}
		brokerBin = filepath.Join(binDir, "glassmq")
		build := exec.Command("go", "build", "-o", brokerBin, "./cmd/glassmq")
		build.Dir = ".." // the repository root: the broker's own module
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build -o %s ./cmd/glassmq (in ..): %v\n%s", brokerBin, err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return brokerBin
}

// brokerConfig selects the flags of one broker process.
type brokerConfig struct {
	credentials  bool // -admin-credentials with the identities above
	rateDescribe int  // -rate-describe-mqtt-client; 0 means highRate
	rateQuery    int  // -rate-query-session-by-client-id; 0 means highRate
	extraArgs    []string
	dataDir      string // -data-dir; "" means a fresh temporary directory
}

// broker is one running glassmq process.
type broker struct {
	MQTT  string // host:port of the MQTT listener
	Admin string // host:port of the admin HTTP listener
	args  []string

	cmd  *exec.Cmd
	out  *syncBuffer // stdout and stderr
	done chan struct{}
	err  error // from Wait, valid once done is closed

	ended bool // ended on purpose by the test (restart, kill -9)
}

// startBroker starts a broker for t and stops it when t ends, failing t with
// the broker's output if it is not ready (MQTT port accepts TCP and
// /healthz answers 200) within startTimeout.
func startBroker(t *testing.T, cfg brokerConfig) *broker {
	t.Helper()
	bin := glassmqBinary(t)
	notReadyMu.Lock()
	earlier := notReady
	notReadyMu.Unlock()
	if earlier != nil {
		first, _, _ := strings.Cut(earlier.Error(), "\n")
		t.Fatalf("not starting a broker: an earlier one never became ready (its output is in the first failing test): %.300s", first)
	}
	for attempt := 1; ; attempt++ {
		b, err := tryStartBroker(t, bin, cfg)
		if err == nil {
			return b
		}
		// Free ports are picked by listening and closing, so another
		// process may take one in between; try again with fresh ports.
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			t.Logf("retrying broker start: %v", err)
			continue
		}
		t.Fatal(err)
	}
}

func tryStartBroker(t *testing.T, bin string, cfg brokerConfig) (*broker, error) {
	rateDescribe, rateQuery := cfg.rateDescribe, cfg.rateQuery
	if rateDescribe == 0 {
		rateDescribe = highRate
	}
	if rateQuery == 0 {
		rateQuery = highRate
	}
	dataDir := cfg.dataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	b := &broker{
		MQTT:  freeAddr(t),
		Admin: freeAddr(t),
		out:   new(syncBuffer),
		done:  make(chan struct{}),
	}
	b.args = []string{
		"-listen", b.MQTT,
		"-admin-listen", b.Admin,
		"-instance-id", instanceID,
		"-data-dir", dataDir,
		"-rate-describe-mqtt-client", strconv.Itoa(rateDescribe),
		"-rate-query-session-by-client-id", strconv.Itoa(rateQuery),
	}
	if cfg.credentials {
		b.args = append(b.args, "-admin-credentials", writeCredentials(t))
	}
	b.args = append(b.args, cfg.extraArgs...)
	b.cmd = exec.Command(bin, b.args...)
	b.cmd.Stdout = b.out
	b.cmd.Stderr = b.out
	b.cmd.SysProcAttr = &syscall.SysProcAttr{}
	setDeathSignal(b.cmd.SysProcAttr)
	if err := b.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", bin, err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() { b.stop(t) })

	if err := b.waitReady(); err != nil {
		b.kill()
		err = fmt.Errorf("%s %s: %w\n--- broker output ---\n%s", bin, strings.Join(b.args, " "), err, b.out.String())
		if errors.Is(err, errNotReady) {
			notReadyMu.Lock()
			notReady = err
			notReadyMu.Unlock()
		}
		return nil, err
	}
	return b, nil
}

var errNotReady = errors.New("not ready")

// waitReady polls until the MQTT port accepts a TCP connection and
// GET /healthz answers 200, the process exits, or startTimeout passes.
func (b *broker) waitReady() error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(startTimeout)
	last := "not polled yet"
	for {
		select {
		case <-b.done:
			return fmt.Errorf("exited before it was ready: %v", b.err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v: %s", errNotReady, startTimeout, last)
		}
		last = b.probe(hc)
		if last == "" {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe returns why the broker is not ready, or "" if it is.
func (b *broker) probe(hc *http.Client) string {
	c, err := net.DialTimeout("tcp", b.MQTT, time.Second)
	if err != nil {
		return "MQTT port: " + err.Error()
	}
	c.Close()
	resp, err := hc.Get("http://" + b.Admin + "/healthz")
	if err != nil {
		return "GET /healthz: " + err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "GET /healthz: " + resp.Status
	}
	return ""
}

// stop ends the process (SIGTERM, then SIGKILL after 5 s). A broker that
// died during the test fails it; a failed test gets the broker's output.
func (b *broker) stop(t *testing.T) {
	select {
	case <-b.done:
		if !t.Failed() && !b.ended {
			t.Errorf("broker exited during the test: %v\n--- broker output ---\n%s", b.err, b.out.String())
		}
		return
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		t.Logf("broker did not exit 5s after SIGTERM; killing it")
		b.kill()
	}
	if t.Failed() {
		t.Logf("--- broker output (%s) ---\n%s", strings.Join(b.args, " "), b.out.tail(8<<10))
	}
}

// restart ends the process, gracefully (SIGTERM) or with SIGKILL, and
// starts a new one with the same flags and data directory but fresh ports.
func (b *broker) restart(t *testing.T, cfg brokerConfig, kill bool) *broker {
	t.Helper()
	b.ended = true
	if kill {
		b.kill()
	} else {
		b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("broker did not exit 10s after SIGTERM\n--- broker output ---\n%s", b.out.tail(8<<10))
		}
		if b.err != nil {
			t.Fatalf("broker exited with %v after SIGTERM\n--- broker output ---\n%s", b.err, b.out.tail(8<<10))
		}
	}
	return startBroker(t, cfg)
}

func (b *broker) kill() {
	b.cmd.Process.Kill()
	<-b.done
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writeCredentials writes the -admin-credentials file and returns its path.
func writeCredentials(t *testing.T) string {
	t.Helper()
	type tencent struct {
		SecretID  string `json:"secretId"`
		SecretKey string `json:"secretKey"`
	}
	type alibaba struct {
		AccessKeyID     string `json:"accessKeyId"`
		AccessKeySecret string `json:"accessKeySecret"`
	}
	data, err := json.Marshal(struct {
		Tencent []tencent `json:"tencent"`
		Alibaba []alibaba `json:"alibaba"`
	}{
		[]tencent{{tencentSecretID, tencentSecretKey}},
		[]alibaba{{alibabaKeyID, alibabaKeySecret}},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer collects a process's output; safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// tail returns at most the last n bytes of the output.
func (s *syncBuffer) tail(n int) string {
	out := s.String()
	if len(out) > n {
		out = "…" + out[len(out)-n:]
	}
	return out
}

// errorsAs is errors.As with the target allocated for the caller.
func errorsAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}
