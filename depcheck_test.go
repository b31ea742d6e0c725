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
	low := []string{"platform", "naming", "index", "client", "verify", "registry", "config", "importer", "sign", "evidence", "drift", "versions", "ci"}
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

// allDeps lists every package pkg depends on, polyarch's and others'.
func allDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
	}
	return strings.Fields(string(out))
}

// A renderer imports data types, not the machinery that produced them: the
// run report does not pull in the builder, the image-test runner or gRPC.
func TestReportImportsDataOnly(t *testing.T) {
	const grpc = "google.golang.org/grpc"
	forbidden := []string{module + "/build", module + "/imagetest", module + "/pipeline", module + "/index", grpc}
	allowed := map[string]bool{module + "/imagetest/result": true}
	// Not vacuous: the release pipeline, which fills the report in, does
	// reach all of them.
	pipelineDeps := allDeps(t, "pipeline")
	for _, f := range []string{module + "/build", module + "/imagetest", module + "/index", grpc} {
		if !slices.ContainsFunc(pipelineDeps, func(d string) bool { return under(d, f) }) {
			t.Fatalf("pipeline does not depend on %s: the check below would prove nothing", f)
		}
	}
	reportDeps := allDeps(t, "report")
	if !slices.Contains(reportDeps, "html/template") {
		t.Fatalf("report's %d dependencies do not include html/template: misread", len(reportDeps))
	}
	for _, f := range forbidden {
		for _, d := range reportDeps {
			if under(d, f) && !allowed[d] {
				t.Errorf("report depends on %s: it must import data types only", d)
				break
			}
		}
	}
}
