package broker

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// pahoModule is the Eclipse Paho Go client; its version is the one in go.mod.
const pahoModule = "github.com/eclipse/paho.mqtt.golang"

// pahoFVTSkip lists the tests of Paho's fvt_client_test.go that TestPahoFVT
// does not run, each with the reason.
var pahoFVTSkip = map[string]string{
	// It publishes at QoS 2, then expects the packet ID still in use and,
	// after Disconnect(500), the publish token to carry a connection-lost
	// error. Against a loopback broker the PUBLISH, PUBREC, PUBREL, PUBCOMP
	// exchange often completes first, so the token succeeds: a timing
	// assumption of the client test, not broker behaviour.
	"Test_cleanUpMids_2": "client-side race when the broker is fast: the QoS 2 flow completes before Disconnect, so no error reaches the token",
}

// pahoFVTResult matches the per-test result lines of `go test -v`.
var pahoFVTResult = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// TestPahoFVT runs the Paho Go client's own functional tests (every Test in
// its fvt_client_test.go) against a real glassmq. They run in a `go test`
// subprocess on the Paho package, which reaches the broker at
// "tcp://" + $TEST_FVT_ADDR + ":1883"; TEST_FVT_ADDR "127.0.0.1:PORT/#" turns
// that into 127.0.0.1:PORT with the ":1883" left in the URL fragment. The
// broker runs in this process, so `go test -race` checks it under load from a
// client that was not written for it.
func TestPahoFVT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Paho client's functional tests in a subprocess (about 40s)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("needs the go command to build Paho's tests: %v", err)
	}
	names := pahoFVTNames(t, goBin)

	s := startBroker(t, func(c *Config) {
		c.Loops = 2 // publisher and subscriber often on different loops: cross-loop delivery
	})

	// The child's own -timeout makes a hung test print every goroutine's stack;
	// the context is the backstop, with room for compiling.
	runFor := 3 * time.Minute
	if dl, ok := t.Deadline(); ok {
		runFor = min(runFor, time.Until(dl)-45*time.Second)
	}
	if runFor < 30*time.Second {
		t.Skipf("only %v left before the test deadline; Paho's tests need about 40s", runFor)
	}
	ctx, cancel := context.WithTimeout(t.Context(), runFor+30*time.Second)
	defer cancel()

	skip := make([]string, 0, len(pahoFVTSkip))
	for name, why := range pahoFVTSkip {
		skip = append(skip, name)
		t.Logf("skipping paho %s: %s", name, why)
	}
	// In source order, not shuffled: the tests reuse client IDs ("Start",
	// "auto_reconnect") and some leave persistent sessions behind.
	cmd := exec.CommandContext(ctx, goBin, "test", "-count=1", "-v",
		"-timeout="+runFor.String(),
		"-run=^("+strings.Join(names, "|")+")$",
		"-skip=^("+strings.Join(skip, "|")+")$",
		pahoModule)
	// GOFLAGS is cleared so that a caller's -race or -shuffle does not reach
	// the client's tests: the broker is what is under test, and the race
	// detector runs on it in this process.
	cmd.Env = append(os.Environ(), "TEST_FVT_ADDR="+brokerAddr(s)+"/#", "GOFLAGS=")
	out := &lineLogger{t: t, prefix: "paho: "}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second // the test binary may outlive a killed go command

	start := time.Now()
	runErr := cmd.Run()
	out.flush()
	t.Logf("paho: go test took %v", time.Since(start).Round(time.Millisecond))

	result := make(map[string]string)
	for _, line := range out.lines {
		if m := pahoFVTResult.FindStringSubmatch(line); m != nil {
			result[m[2]] = m[1]
		}
	}
	var passed, failed []string
	var missing []string
	for _, name := range names {
		switch result[name] {
		case "PASS":
			passed = append(passed, name)
		case "FAIL":
			failed = append(failed, name)
		default:
			if _, skipped := pahoFVTSkip[name]; !skipped {
				missing = append(missing, name)
			}
		}
	}
	t.Logf("paho: %d of %d tests passed, %d skipped on purpose", len(passed), len(names), len(pahoFVTSkip))
	if runErr != nil {
		t.Errorf("go test %s: %v", pahoModule, runErr)
	}
	if len(failed) > 0 {
		t.Errorf("paho tests failed against glassmq: %s", strings.Join(failed, ", "))
	}
	if len(missing) > 0 {
		t.Errorf("paho tests with no PASS or FAIL line (did not run, or the run stopped): %s", strings.Join(missing, ", "))
	}
	if len(passed) == 0 {
		t.Errorf("no paho test passed; want %d", len(names)-len(pahoFVTSkip))
	}
}

// pahoFVTNames returns the names of the Test functions in Paho's
// fvt_client_test.go, in source order, from the module version in go.mod.
func pahoFVTNames(t *testing.T, goBin string) []string {
	t.Helper()
	cmd := exec.Command(goBin, "list", "-f", "{{.Dir}}", pahoModule)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	dir, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list %s: %v\n%s", pahoModule, err, stderr)
	}
	path := filepath.Join(strings.TrimSpace(string(dir)), "fvt_client_test.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var names []string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
			names = append(names, fn.Name.Name)
		}
	}
	for name := range pahoFVTSkip {
		if !slices.Contains(names, name) {
			t.Fatalf("%s has no %s to skip: update pahoFVTSkip for this Paho version", path, name)
		}
	}
	if len(names) <= len(pahoFVTSkip) {
		t.Fatalf("%s: found tests %v, want more than the skipped ones", path, names)
	}
	return names
}

// lineLogger passes a subprocess's output to t.Log line by line and keeps
// the lines. exec.Cmd calls Write from one goroutine at a time when Stdout
// and Stderr are the same writer.
type lineLogger struct {
	t       *testing.T
	prefix  string
	partial []byte
	lines   []string
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.emit(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

func (l *lineLogger) flush() {
	if len(l.partial) > 0 {
		l.emit(string(l.partial))
		l.partial = nil
	}
}

func (l *lineLogger) emit(line string) {
	l.lines = append(l.lines, line)
	l.t.Log(l.prefix + line)
}
