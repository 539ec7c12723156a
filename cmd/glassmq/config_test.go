package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/broker"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "glassmq.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFile: the file sets flags, the command line wins, lists feed
// repeatable flags.
func TestConfigFile(t *testing.T) {
	path := writeConfig(t, `# glassmq settings
listen = "127.0.0.1:1884"
max-inflight = 64
max-queued = 5_000
session-expiry = "30m"
allow-anonymous = false
rate-limit = ["DescribeClientList=20:40", "KickOutClient=5"]
rate-describe-mqtt-client = 7.5
`)
	_, st, cmdline, cf, err := loadSettings([]string{"-config", path, "-max-inflight", "7"})
	if err != nil {
		t.Fatal(err)
	}
	b, a := st.bcfg, st.acfg
	if b.Listen != "127.0.0.1:1884" || b.MaxInflight != 7 || b.MaxQueued != 5000 || b.SessionExpiry != 30*time.Minute || *st.allowAnonymous {
		t.Errorf("got listen %q inflight %d queued %d expiry %v anonymous %v; want 127.0.0.1:1884 7 (command line) 5000 30m false",
			b.Listen, b.MaxInflight, b.MaxQueued, b.SessionExpiry, *st.allowAnonymous)
	}
	if a.DescribeRate != 7.5 || a.Limits["DescribeClientList"] != (admin.Limit{Rate: 20, Burst: 40}) || a.Limits["KickOutClient"].Rate != 5 {
		t.Errorf("admin rates %v %v; want 7.5 and both -rate-limit entries", a.DescribeRate, a.Limits)
	}
	if !cmdline["max-inflight"] || cmdline["listen"] || cf.line("session-expiry") != 5 {
		t.Errorf("cmdline %v, session-expiry on line %d; want only max-inflight, line 5", cmdline, cf.line("session-expiry"))
	}
}

// TestConfigFileEveryFlag: every flag of glassmq is a key of the file,
// found from the flag set (so flags added later are keys too): a file
// setting each flag to its default loads.
func TestConfigFileEveryFlag(t *testing.T) {
	fs, _ := newFlags()
	var b strings.Builder
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		g, ok := f.Value.(flag.Getter)
		if !ok {
			fmt.Fprintf(&b, "%s = []\n", f.Name) // a repeatable flag: a list
			n++
			return
		}
		switch g.Get().(type) {
		case bool, int, int64, uint, uint64, float64:
			fmt.Fprintf(&b, "%s = %s\n", f.Name, f.DefValue)
		default:
			fmt.Fprintf(&b, "%s = %q\n", f.Name, f.DefValue)
		}
		n++
	})
	path := writeConfig(t, b.String())
	_, _, _, cf, err := loadSettings([]string{"-config", path})
	if err != nil {
		t.Fatalf("a file of every flag's default: %v\n%s", err, b.String())
	}
	if len(cf.settings) != n || n < 40 {
		t.Errorf("%d settings read, want %d (at least 40 flags)", len(cf.settings), n)
	}
}

// TestConfigFileErrors: each mistake names the file, the line, the key
// and what is valid; all of them are reported at once.
func TestConfigFileErrors(t *testing.T) {
	path := writeConfig(t, `listen = ":1883"
max-inflihgt = 3
max-queued = "many"
session-expiry = 30
loops = [1, 2]
[broker]
listen = ":1883"
`)
	_, _, _, _, err := loadSettings([]string{"-config", path})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		path + `:2: unknown key "max-inflihgt"; did you mean max-inflight?`,
		path + `:3: key "max-queued" = "many": want a whole number`,
		path + `:4: key "session-expiry" = "30": want a duration string with a unit`,
		path + `:5: key "loops": a list, but the flag takes one value (a whole number)`,
		path + `:6: tables are not used`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, c := range []struct{ text, want string }{
		{"listen = \":1\"\nlisten = \":2\"\n", `:2: key "listen" is set again (first on line 1)`},
		{"listen = \n", `:1: not TOML`},
		{"config = \"other.conf\"\n", `:1: unknown key "config"`},
	} {
		_, _, _, _, err := loadSettings([]string{"-config", writeConfig(t, c.text)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
	if _, _, _, _, err := loadSettings([]string{"-config", filepath.Join(t.TempDir(), "none.conf")}); err == nil || !strings.Contains(err.Error(), "none.conf") {
		t.Errorf("missing file: %v", err)
	}

	// A value out of range is found by the broker's validation, which
	// now says where the file set it.
	var stderr bytes.Buffer
	path = writeConfig(t, "listen = \"127.0.0.1:0\"\n\nmax-inflight = 0\n")
	if code := run([]string{"-config", path}, &stderr); code != 2 || !strings.Contains(stderr.String(), "-max-inflight 0: must be 1 to 65535 ("+path+":3)") {
		t.Errorf("run with max-inflight = 0: exit %d, %q", code, stderr.String())
	}
}

// TestConfigReload: SIGHUP's reload applies changed rate limits to the
// running admin server (seen on its /metrics) and says a restart is
// needed for anything else; a bad file changes nothing.
func TestConfigReload(t *testing.T) {
	path := writeConfig(t, "max-inflight = 10\nrate-limit = [\"KickOutClient=5\"]\n")
	args := []string{"-config", path, "-admin-listen", "127.0.0.1:0"}
	fs, st, _, _, err := loadSettings(args)
	if err != nil {
		t.Fatal(err)
	}
	eng := broker.NewEngine(broker.DefaultConfig())
	adm, err := admin.New(st.acfg, eng, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go adm.Serve(ln)
	defer adm.Shutdown()
	limitOf := func(action string) string {
		t.Helper()
		resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(body), "\n") {
			if rest, ok := strings.CutPrefix(l, `glassmq_admin_rate_limit{action="`+action+`"} `); ok {
				return rest
			}
		}
		t.Fatalf("no rate limit of %s in /metrics", action)
		return ""
	}
	if got := limitOf("KickOutClient"); got != "5" {
		t.Fatalf("KickOutClient limit %s at start, want 5", got)
	}
	var logs []string
	h := &hup{args: args, values: flagValues(fs), adm: adm, logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }}

	os.WriteFile(path, []byte("max-inflight = 20\nrate-limit = [\"KickOutClient=9\"]\n"), 0o644)
	h.reload()
	if got := limitOf("KickOutClient"); got != "9" {
		t.Errorf("KickOutClient limit %s after SIGHUP, want 9", got)
	}
	joined := strings.Join(logs, "\n")
	if !strings.Contains(joined, `max-inflight changed from "10" to "20" (`+path+`:1), but cannot change while running: restart`) ||
		!strings.Contains(joined, "admin rate limits now in force: rate-limit") {
		t.Errorf("logs:\n%s", joined)
	}

	logs = nil
	os.WriteFile(path, []byte("max-inflight = 20\nrate-limit = [\"KickOutClient=9\"]\nlog-level = \"debug\"\n"), 0o644)
	h.reload()
	if logLevel.Level() != slog.LevelDebug || !strings.Contains(strings.Join(logs, "\n"), "log-level now debug") {
		t.Errorf("log level %v after SIGHUP with log-level = debug; logs:\n%s", logLevel.Level(), strings.Join(logs, "\n"))
	}
	logLevel.Set(slog.LevelInfo)

	logs = nil
	os.WriteFile(path, []byte("rate-limit = [\"KickOutClient=-1\"]\n"), 0o644)
	h.reload()
	if got := limitOf("KickOutClient"); got != "9" || !strings.Contains(strings.Join(logs, "\n"), "keeping the admin rate limits in force: admin: -rate-limit KickOutClient -1") {
		t.Errorf("after a bad file: limit %s, logs %q; want 9 kept and one line saying so", got, logs)
	}
}

// TestConfigExample: docs/glassmq.conf.example loads and passes the
// broker's and admin's validation.
func TestConfigExample(t *testing.T) {
	_, st, _, cf, err := loadSettings([]string{"-config", "../../docs/glassmq.conf.example"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.settings) < 20 {
		t.Errorf("the example sets %d keys, want at least 20", len(cf.settings))
	}
	if err := errors.Join(st.bcfg.Validate(), st.acfg.Validate()); err != nil {
		t.Errorf("the example does not validate: %v", err)
	}
}
