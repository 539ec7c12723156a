// The import rules of the whole module live here, at its root, as data:
// which of our packages and which third-party modules each package may use.
// go test ./... (and so make test and make test-short) checks them, the way
// the Go tree checks its own import graph in go/build's deps_test.go.
package glassmq_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/glassmq/glassmq"

// rule says what one package (and the packages below it that have no rule
// of their own) may import besides the standard library.
type rule struct {
	own   []string // our packages, relative to the module: "session" is exactly that package
	third []string // third-party import path prefixes
	never []string // our packages it must never import, with why (kept apart for a clearer failure)
	why   string
}

// importRules maps a package, relative to the module, to its rule. A
// package under cmd/ may import anything; any other package needs a rule
// (its own or that of a directory above it).
var importRules = map[string]rule{
	"codec":             {},
	"internal/longtest": {}, // imported by tests only
	"stats":             {own: []string{"codec"}},
	"trace":             {}, // connection and message trace rings: the standard library only
	"session": {own: []string{"codec", "stats"},
		third: []string{"github.com/cespare/xxhash/"}},
	"session/store": {own: []string{"codec", "session", "stats"},
		third: []string{"go.etcd.io/bbolt"}},
	"broker": {own: []string{"codec", "session", "stats", "trace"},
		third: []string{"github.com/panjf2000/gnet/", "github.com/gorilla/websocket",
			"golang.org/x/sys/"}}, // x/sys: socket calls gnet does not offer (the bound address)
	"admin": {own: []string{"codec", "session", "stats", "trace"},
		third: []string{"github.com/valyala/fasthttp", "github.com/prometheus/", "golang.org/x/time/",
			"github.com/google/uuid"},
		never: []string{"broker"}, why: "it reads the broker through an interface of its own"},
	"auth": {own: []string{"codec"},
		third: []string{"golang.org/x/crypto/", "golang.org/x/term", "github.com/xdg-go/scram", "github.com/xdg-go/stringprep"}},
	"bench": {own: []string{"codec"},
		third: []string{"gonum.org/", "github.com/schollz/progressbar/"},
		never: []string{"broker", "session"}, why: "it measures any broker from outside, over TCP"},
	"cluster": {own: []string{"codec", "session", "session/store", "stats"},
		third: []string{"github.com/nats-io/nats-server/", "github.com/nats-io/nats.go"},
		never: []string{"broker", "admin"}, why: "it implements interfaces that broker and admin declare"},
}

// ruleFor returns the rule of pkg or of the nearest directory above it,
// and the name the rule is filed under; ok is false for no rule.
func ruleFor(pkg string) (name string, r rule, ok bool) {
	for name = pkg; ; {
		if r, ok = importRules[name]; ok {
			return name, r, true
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return "", rule{}, false
		}
		name = name[:i]
	}
}

// violations checks imports (package relative to the module → its import
// paths) against importRules and returns one sentence per broken rule.
func violations(imports map[string][]string) []string {
	var bad []string
	for _, pkg := range sortedKeys(imports) {
		if pkg == "cmd" || strings.HasPrefix(pkg, "cmd/") {
			continue
		}
		name, r, ok := ruleFor(pkg)
		if !ok {
			bad = append(bad, pkg+" has no import rule; give it one in deps_test.go")
			continue
		}
		for _, imp := range imports[pkg] {
			if msg := r.check(pkg, name, imp); msg != "" {
				bad = append(bad, msg)
			}
		}
	}
	return bad
}

// check returns the sentence for pkg (under rule name) importing imp, or ""
// when the rule allows it.
func (r rule) check(pkg, name, imp string) string {
	if isStd(imp) {
		return ""
	}
	if own, ok := strings.CutPrefix(imp, module+"/"); ok {
		if own == pkg || strings.HasPrefix(own, pkg+"/") || slices.Contains(r.own, own) {
			return ""
		}
		for _, n := range r.never {
			if own == n || strings.HasPrefix(own, n+"/") {
				return pkg + " imports " + own + "; " + name + " must never import " + n + ": " + r.why
			}
		}
		return pkg + " imports " + own + "; " + r.describe(name)
	}
	for _, p := range r.third {
		if imp == strings.TrimSuffix(p, "/") || strings.HasPrefix(imp, p) {
			return ""
		}
	}
	return pkg + " imports " + imp + "; " + r.describe(name)
}

// describe says what name may import, as the end of a sentence.
func (r rule) describe(name string) string {
	allowed := append(slices.Clone(r.own), r.third...)
	if len(allowed) == 0 {
		return name + " may import only the standard library"
	}
	return name + " may import only the standard library and " + strings.Join(allowed, ", ")
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestImportRules lists every package of the module with go list and checks
// its non-test imports against importRules.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imps, _ := strings.Cut(line, "|")
		if pkg == module {
			continue // this test's own package
		}
		imports[strings.TrimPrefix(pkg, module+"/")] = strings.Fields(imps)
	}
	for _, p := range []string{"codec", "stats", "session", "session/store", "broker", "admin", "bench"} {
		if _, ok := imports[p]; !ok {
			t.Fatalf("go list did not list %s; its output changed?\n%s", p, out)
		}
	}
	for _, v := range violations(imports) {
		t.Error(v)
	}
}

// TestImportRulesCatch feeds violations made-up import lists, so the check
// is known to fail when a rule is broken.
func TestImportRulesCatch(t *testing.T) {
	for _, tc := range []struct {
		imports map[string][]string
		want    []string
	}{
		{map[string][]string{"codec": {"errors", module + "/session"}},
			[]string{"codec imports session; codec may import only the standard library"}},
		{map[string][]string{"stats": {module + "/codec", "github.com/cespare/xxhash/v2"}},
			[]string{"stats imports github.com/cespare/xxhash/v2; stats may import only the standard library and codec"}},
		{map[string][]string{"admin": {module + "/broker", module + "/session"}},
			[]string{"admin imports broker; admin must never import broker: it reads the broker through an interface of its own"}},
		{map[string][]string{"admin": {module + "/session/store"}},
			[]string{"admin imports session/store; admin may import only the standard library and codec, session, stats, trace, " +
				"github.com/valyala/fasthttp, github.com/prometheus/, golang.org/x/time/, github.com/google/uuid"}},
		{map[string][]string{"cluster/kv": {module + "/broker", "github.com/nats-io/nats.go/jetstream"}},
			[]string{"cluster/kv imports broker; cluster must never import broker: it implements interfaces that broker and admin declare"}},
		{map[string][]string{"bench": {module + "/session"}},
			[]string{"bench imports session; bench must never import session: it measures any broker from outside, over TCP"}},
		{map[string][]string{"web": {"net/http"}},
			[]string{"web has no import rule; give it one in deps_test.go"}},
		{map[string][]string{"cmd/glassmq": {module + "/broker", "github.com/anything/at/all"},
			"broker": {module + "/codec", "github.com/panjf2000/gnet/v2", "golang.org/x/sys/unix"}},
			nil},
	} {
		if got := violations(tc.imports); !slices.Equal(got, tc.want) {
			t.Errorf("violations(%v):\ngot  %q\nwant %q", tc.imports, got, tc.want)
		}
	}
}
