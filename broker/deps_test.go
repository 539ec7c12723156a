package broker

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/glassmq/glassmq"

// allowedImports is the import lattice of STYLE.md section 1: for each package
// (relative to the module), the non-standard-library import path prefixes it
// may use. Packages not listed here (cmd/...) may import anything.
var allowedImports = map[string][]string{
	"codec":         {},
	"stats":         {"codec"},
	"session":       {"codec", "stats", "github.com/cespare/xxhash/"},
	"session/store": {"codec", "session", "stats", "go.etcd.io/bbolt"},
	"broker": {"codec", "session", "stats", "github.com/panjf2000/gnet/",
		"github.com/gorilla/websocket", "golang.org/x/crypto/",
		"golang.org/x/sys/", "trace"}, // x/sys: socket calls beside gnet (the bound address)
	"admin": {"session", "stats", "codec", "github.com/valyala/fasthttp",
		"github.com/prometheus/", "golang.org/x/time/", "github.com/google/uuid", "trace"},
	"trace": {},
	"bench": {"codec", "gonum.org/", "github.com/schollz/progressbar/"},
	"auth":  {"codec", "golang.org/x/crypto/", "golang.org/x/term"},
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}", module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, "|")
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		allowed, ok := allowedImports[rel]
		if !ok {
			continue
		}
		checked++
		for _, imp := range strings.Fields(imports) {
			if isStd(imp) {
				continue
			}
			if !permitted(imp, allowed) {
				t.Errorf("%s imports %s; %s may import only the standard library%s", rel, imp, rel, describe(allowed))
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked %d packages, want at least 5: go list output changed?\n%s", checked, out)
	}
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func permitted(imp string, allowed []string) bool {
	for _, a := range allowed {
		if isStd(a) { // a package of ours, or one below it
			own := module + "/" + a
			if imp == own || strings.HasPrefix(imp, own+"/") {
				return true
			}
			continue
		}
		if imp == strings.TrimSuffix(a, "/") || strings.HasPrefix(imp, a) {
			return true
		}
	}
	return false
}

func describe(allowed []string) string {
	if len(allowed) == 0 {
		return ""
	}
	return " and " + strings.Join(allowed, ", ")
}
