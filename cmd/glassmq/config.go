package main

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/glassmq/glassmq/admin"
)

// The configuration file (-config FILE) is TOML whose keys are the flag
// names, at the top level, with values of the flag's kind:
//
//	listen = ":1883"
//	max-inflight = 64
//	session-expiry = "2h"          # durations are strings with a unit
//	allow-anonymous = false
//	rate-limit = ["DescribeClientList=20:40", "KickOutClient=5"]   # repeatable flags take a list
//
// Every flag is a key, found from the flag set itself, so a flag added
// anywhere is a key without a change here. A flag given on the command
// line wins over the file. Mistakes name the file, line, key and what is
// valid. The file is read with go-toml's parser, which reports where each
// key is.

// fileSetting is one key of the configuration file.
type fileSetting struct {
	name   string   // the flag's name
	values []string // one per Set call: several for a list
	line   int
}

// configFile is a parsed configuration file.
type configFile struct {
	path     string
	settings []fileSetting // in file order
}

// line returns the line of key name, or 0.
func (c *configFile) line(name string) int {
	for _, s := range c.settings {
		if s.name == name {
			return s.line
		}
	}
	return 0
}

// readConfigFile parses path, checking every key against fs. notKeys are
// flags that make no sense in a file (-config itself). With an error it
// still returns the settings it could read, so that apply can report
// their bad values too; it returns a nil file only when it cannot read it.
func readConfigFile(fs *flag.FlagSet, path string, notKeys ...string) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("glassmq: -config: %w", err)
	}
	cf := &configFile{path: path}
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("glassmq: %s:%d: %s", path, line, fmt.Sprintf(format, args...)))
	}
	var p unstable.Parser
	p.Reset(data)
	seen := map[string]int{}
	inTable := false
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			if inTable {
				continue // reported with its table
			}
		case unstable.Table, unstable.ArrayTable:
			line := 0
			if it := e.Key(); it.Next() {
				line = p.Shape(it.Node().Raw).Start.Line
			}
			bad(line, "tables are not used: every key is a flag name at the top of the file, such as listen = \":1883\"")
			inTable = true
			continue
		default:
			continue
		}
		var parts []string
		line := 0
		for it := e.Key(); it.Next(); {
			k := it.Node()
			parts = append(parts, string(k.Data))
			if line == 0 {
				line = p.Shape(k.Raw).Start.Line
			}
		}
		name := strings.Join(parts, ".")
		f := fs.Lookup(name)
		switch {
		case f == nil || slices.Contains(notKeys, name):
			hint := "keys are the flag names of glassmq -help, without the dash"
			if s := closestFlag(fs, name, notKeys); s != "" {
				hint = "did you mean " + s + "? " + hint
			}
			bad(line, "unknown key %q; %s", name, hint)
			continue
		case seen[name] != 0:
			bad(line, "key %q is set again (first on line %d)", name, seen[name])
			continue
		}
		seen[name] = line
		values, err := tomlValues(e.Value(), f, isList(f))
		if err != nil {
			bad(line, "key %q: %v", name, err)
			continue
		}
		cf.settings = append(cf.settings, fileSetting{name: name, values: values, line: line})
	}
	if err := p.Error(); err != nil {
		line := 0
		var pe *unstable.ParserError
		if errors.As(err, &pe) && pe.Highlight != nil {
			line = p.Shape(p.Range(pe.Highlight)).Start.Line
		}
		bad(line, "not TOML: %v", err)
	}
	return cf, errors.Join(errs...)
}

// isList reports whether f may be given more than once (a list in the
// file): its value accumulates, as -rate-limit's does.
func isList(f *flag.Flag) bool {
	_, scalar := f.Value.(flag.Getter)
	return !scalar
}

// tomlValues converts a TOML value into the strings to Set f with.
func tomlValues(v *unstable.Node, f *flag.Flag, list bool) ([]string, error) {
	if v.Kind == unstable.Array {
		if !list {
			return nil, fmt.Errorf("a list, but the flag takes one value (%s)", flagKind(f))
		}
		var out []string
		for it := v.Children(); it.Next(); {
			s, err := tomlScalar(it.Node(), f)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := tomlScalar(v, f)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func tomlScalar(v *unstable.Node, f *flag.Flag) (string, error) {
	switch v.Kind {
	case unstable.String, unstable.Bool:
		return string(v.Data), nil
	case unstable.Integer, unstable.Float:
		return strings.ReplaceAll(string(v.Data), "_", ""), nil
	default:
		return "", fmt.Errorf("a TOML %s; want %s", v.Kind, flagKind(f))
	}
}

// flagKind says what values f takes.
func flagKind(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return "a string, or a list of them"
	}
	switch g.Get().(type) {
	case bool:
		return "true or false"
	case int, int64, uint, uint64:
		return "a whole number"
	case float64:
		return "a number"
	case time.Duration:
		return `a duration string with a unit, such as "500ms", "10s" or "2h"`
	default:
		return "a string"
	}
}

// apply sets, in fs, every setting of c whose flag is not in keep (the
// flags given on the command line).
func (c *configFile) apply(fs *flag.FlagSet, keep map[string]bool) error {
	var errs []error
	for _, s := range c.settings {
		if keep[s.name] {
			continue
		}
		f := fs.Lookup(s.name)
		for _, v := range s.values {
			if err := fs.Set(s.name, v); err != nil {
				errs = append(errs, fmt.Errorf("glassmq: %s:%d: key %q = %q: want %s", c.path, s.line, s.name, v, flagKind(f)))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// annotate adds "(FILE:LINE)" to each line of a validation error that
// names a flag set by the file, so the operator knows where to look.
func (c *configFile) annotate(err error, keep map[string]bool) error {
	if err == nil || c == nil {
		return err
	}
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		for _, s := range c.settings {
			if !keep[s.name] && (strings.Contains(l, "-"+s.name+" ") || strings.Contains(l, "-"+s.name+":")) {
				lines[i] = l + " (" + c.path + ":" + strconv.Itoa(s.line) + ")"
				break
			}
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// closestFlag returns the flag name nearest to name by edit distance, if
// it is close enough to be a typo.
func closestFlag(fs *flag.FlagSet, name string, notKeys []string) string {
	best, bestD := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(notKeys, f.Name) {
			return
		}
		if d := editDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// hup rereads the configuration file on SIGHUP and applies what can change
// while the broker runs: the admin rate limits (every -rate-* key). For
// any other key that changed it logs that a restart is needed. The
// password and ACL files are reloaded beside it (see reload).
type hup struct {
	args   []string          // the command line, which still wins
	values map[string]string // each flag's value in force
	adm    *admin.Server
	logf   func(format string, args ...any)
}

// flagValues returns each flag's value as text.
func flagValues(fs *flag.FlagSet) map[string]string {
	v := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { v[f.Name] = f.Value.String() })
	return v
}

// live reports whether flag name can change while the broker runs.
func live(name string) bool { return strings.HasPrefix(name, "rate-") }

func (h *hup) reload() {
	fs, st, _, cf, err := loadSettings(h.args)
	if err != nil {
		h.logf("glassmq: SIGHUP: keeping the settings in force: %v", err)
		return
	}
	now := flagValues(fs)
	var rates []string
	for _, name := range slices.Sorted(maps.Keys(now)) {
		old, v := h.values[name], now[name]
		if v == old {
			continue
		}
		if name == "log-level" {
			if lv, ok := logLevels[v]; ok {
				logLevel.Set(lv)
				h.values[name] = v
				h.logf("glassmq: SIGHUP: log-level now %s", v)
			} else {
				h.logf("glassmq: SIGHUP: log-level %q: want debug, info, warn or error; keeping %s", v, old)
			}
			continue
		}
		if live(name) {
			rates = append(rates, name)
			continue
		}
		where := ""
		if l := cf.line(name); l > 0 {
			where = fmt.Sprintf(" (%s:%d)", cf.path, l)
		}
		h.logf("glassmq: SIGHUP: %s changed from %q to %q%s, but cannot change while running: restart to apply it", name, old, v, where)
	}
	if len(rates) == 0 {
		return
	}
	if err := h.adm.SetRateLimits(st.acfg); err != nil {
		h.logf("glassmq: SIGHUP: keeping the admin rate limits in force: %v", cf.annotate(err, nil))
		return
	}
	for _, name := range rates {
		h.values[name] = now[name]
	}
	h.logf("glassmq: SIGHUP: admin rate limits now in force: %s", strings.Join(rates, ", "))
}
