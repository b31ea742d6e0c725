package polyarch_test

// The dependency direction of the tree (STYLE.md): data flows from the CLI
// to the library to the registry or builder, so the low layers never import
// the high ones. Modelled on go-containerregistry's
// pkg/registry/depcheck_test.go.

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/polyarch/polyarch"

// deps returns each package's polyarch dependencies (transitive, from `go
// list`), without the module prefix: "platform", "build/buildkit"...
func deps(t *testing.T, pkgs ...string) map[string][]string {
	t.Helper()
	args := []string{"list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`}
	for _, p := range pkgs {
		args = append(args, module+"/"+p)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, msg)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module+"/")
		m[pkg] = []string{}
		for _, d := range f[1:] {
			if d == module || strings.HasPrefix(d, module+"/") {
				m[pkg] = append(m[pkg], strings.TrimPrefix(d, module+"/"))
			}
		}
	}
	for _, p := range pkgs {
		if _, ok := m[p]; !ok {
			t.Fatalf("go list said nothing about %s", p)
		}
	}
	return m
}

// under reports whether pkg is dir or inside it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

func TestLowLayersDoNotImportHighOnes(t *testing.T) {
	low := []string{"platform", "naming", "index", "client", "verify", "registry", "config", "importer"}
	high := []string{"build", "pipeline", "imagetest", "report", "internal/cli", "cmd"}
	all := deps(t, low...)
	// The lists are not vacuous: config is known to use naming and platform.
	if !slices.Contains(all["config"], "naming") || !slices.Contains(all["config"], "platform") {
		t.Fatalf("config's polyarch dependencies read as %v", all["config"])
	}
	for _, pkg := range low {
		t.Run(pkg, func(t *testing.T) {
			for _, d := range all[pkg] {
				for _, h := range high {
					if under(d, h) {
						t.Errorf("%s depends on %s: a low-level package must not reach %s/", pkg, d, h)
					}
				}
			}
		})
	}
}

func TestPlatformAndNamingAreLeaves(t *testing.T) {
	allowed := map[string][]string{
		"platform": {},
		"naming":   {"platform"},
	}
	all := deps(t, "platform", "naming")
	for pkg, ok := range allowed {
		t.Run(pkg, func(t *testing.T) {
			for _, d := range all[pkg] {
				if !slices.Contains(ok, d) {
					t.Errorf("%s depends on %s; it may depend on %v only", pkg, d, ok)
				}
			}
		})
	}
}
