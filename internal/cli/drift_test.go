package cli_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
)

// Istio's build-tools Dockerfile at two release branches, and istio/proxy's
// .bazelversion at the same two.
const (
	tools112 = "ARG GO_VERSION=1.17.5\nFROM golang:${GO_VERSION} AS tools\nENV KIND_VERSION=v0.11.1\nRUN go install github.com/golangci/golangci-lint/cmd/golangci-lint@v1.43.0\nFROM ubuntu:focal\n"
	tools114 = "ARG GO_VERSION=1.18.2\nFROM golang:${GO_VERSION} AS tools\nENV KIND_VERSION=v0.14.0\nRUN go install github.com/golangci/golangci-lint/cmd/golangci-lint@v1.46.2\nENV HELM_VERSION=v3.9.0\nFROM ubuntu:jammy\n"
	// Ours for 2.2 follows release-1.12 with our own name for Go.
	builder22 = "ARG GOLANG_VERSION=1.17.5\nFROM golang:${GOLANG_VERSION} AS tools\nENV KIND_VERSION=0.11.1\nRUN go install github.com/golangci/golangci-lint/cmd/golangci-lint@v1.43.0\nFROM ubuntu:focal\nARG BAZEL_VERSION\nARG ISTIO_VERSION\n"
)

// upstreamRepos makes tools.git and proxy.git in a directory.
func upstreamRepos(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testutil.GitRepo(t, dir, "tools", map[string]map[string]string{
		"release-1.12": {"docker/build-tools/Dockerfile": tools112},
		"release-1.14": {"docker/build-tools/Dockerfile": tools114},
	})
	testutil.GitRepo(t, dir, "proxy", map[string]map[string]string{
		"release-1.12": {".bazelversion": "4.2.1\n"},
		"release-1.14": {".bazelversion": "5.1.1\n"},
	})
	return dir
}

// driftProject writes a builder project whose 2.2 and 2.3 follow
// release-1.12 and release-1.14 of the repositories at base (tools.git and
// proxy.git), both from builder22; aliases is the drift: section.
func driftProject(t *testing.T, base, aliases string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b_2.2.Dockerfile"), builder22)
	writeFile(t, filepath.Join(dir, "b_2.3.Dockerfile"), builder22)
	writeFile(t, filepath.Join(dir, "polyarch.yaml"), aliases+`images:
  - name: builder
    context: .
    platforms: [linux/amd64]
    dockerfile: b_{{.Version}}.Dockerfile
    versions:
      - version: "2.2"
        args: {ISTIO_VERSION: "1.12", BAZEL_VERSION: 4.2.1}
        upstream:
          dockerfile: {git: `+base+`/tools.git, ref: release-1.12, path: docker/build-tools/Dockerfile}
          files: [{git: `+base+`/proxy.git, ref: release-1.12, path: .bazelversion}]
      - version: "2.3"
        args: {ISTIO_VERSION: "1.14", BAZEL_VERSION: 4.2.1}
        upstream:
          dockerfile: {git: `+base+`/tools.git, ref: release-1.14, path: docker/build-tools/Dockerfile}
          files: [{git: `+base+`/proxy.git, ref: release-1.14, path: .bazelversion}]
      - version: "2.1"
        dockerfile: b_2.2.Dockerfile
`)
	return filepath.Join(dir, "polyarch.yaml")
}

// row finds the table row of tool in out, its columns split.
func row(out, tool string) []string {
	for _, l := range strings.Split(out, "\n") {
		f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), -1)
		if len(f) == 6 && f[0] == tool {
			return f
		}
	}
	return nil
}

func TestDrift(t *testing.T) {
	repos := upstreamRepos(t)
	srv := testutil.ServeGit(t, repos)
	for _, transport := range []struct{ name, base string }{{"file://", "file://" + repos}, {"http", srv.URL}} {
		t.Run(transport.name, func(t *testing.T) {
			cfg := driftProject(t, transport.base, "drift:\n  aliases: {GOLANG_VERSION: go}\n")
			t.Chdir(filepath.Dir(cfg))
			tools := transport.base + "/tools.git@release-1.14:docker/build-tools/Dockerfile"

			stdout, stderr, code := polyarch(t, "drift", "builder@2.3")
			if code != cli.ExitFailed || stderr != "polyarch: drift in builder@2.3\n" {
				t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
			}
			for tool, want := range map[string][]string{
				"go":            {"go", "1.17.5", "1.18.2", "differs", "b_2.3.Dockerfile:1", tools + ":1"},
				"kind":          {"kind", "0.11.1", "v0.14.0", "differs", "b_2.3.Dockerfile:3", tools + ":3"},
				"golangci-lint": {"golangci-lint", "v1.43.0", "v1.46.2", "differs", "b_2.3.Dockerfile:4", tools + ":4"},
				"ubuntu":        {"ubuntu", "focal", "jammy", "differs", "b_2.3.Dockerfile:5", tools + ":6"},
				"helm":          {"helm", "-", "v3.9.0", "only upstream", "-", tools + ":5"},
				"bazel":         {"bazel", "4.2.1", "5.1.1", "differs", "polyarch.yaml:15", transport.base + "/proxy.git@release-1.14:.bazelversion:1"},
				"istio":         {"istio", "1.14", "-", "only ours", "polyarch.yaml:15", "-"},
			} {
				if got := row(stdout, tool); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("row %s:\n got %q\nwant %q\n%s", tool, got, want, stdout)
				}
			}
			if !strings.Contains(stdout, "builder@2.3: drift (5 differs, 1 only upstream, 1 only ours)") {
				t.Errorf("no summary:\n%s", stdout)
			}

			stdout, stderr, code = polyarch(t, "drift", "builder@2.2")
			if code != cli.ExitOK || stderr != "" || !strings.Contains(stdout, "builder@2.2: no drift (1 only ours, 5 same)") {
				t.Errorf("2.2 follows release-1.12: exit %d, stderr %q\n%s", code, stderr, stdout)
			}
			if got := row(stdout, "go"); len(got) != 6 || got[3] != "same" {
				t.Errorf("the alias pairs GOLANG_VERSION with GO_VERSION: %q\n%s", got, stdout)
			}

			// Every version with an upstream; 2.1 names none.
			stdout, _, code = polyarch(t, "drift", "--json")
			var reports []struct {
				Image, Version string
				Drift          bool
				Tools          []struct {
					Tool, Status string
					Ours         *struct {
						Version, File string
						Line          int
					}
				}
			}
			if err := json.Unmarshal([]byte(stdout), &reports); err != nil || code != cli.ExitFailed {
				t.Fatalf("--json: exit %d, %v\n%s", code, err, stdout)
			}
			if len(reports) != 2 || reports[0].Version != "2.2" || reports[0].Drift || !reports[1].Drift {
				t.Errorf("--json reports %+v", reports)
			}
			for _, tl := range reports[1].Tools {
				if tl.Tool == "bazel" && (tl.Status != "differs" || tl.Ours.Version != "4.2.1" || tl.Ours.Line != 15) {
					t.Errorf("--json bazel %+v", tl)
				}
			}
		})
	}

	t.Run("without the alias", func(t *testing.T) {
		cfg := driftProject(t, "file://"+repos, "")
		stdout, _, code := polyarch(t, "drift", "-f", cfg, "builder@2.2")
		if code != cli.ExitFailed || row(stdout, "go")[3] != "only upstream" || row(stdout, "golang")[3] != "only ours" {
			t.Errorf("exit %d\n%s", code, stdout)
		}
	})
}

func TestDriftOfflineAndUnreachable(t *testing.T) {
	repos := upstreamRepos(t)
	srv := testutil.ServeGit(t, repos)
	cfg := driftProject(t, srv.URL, "drift:\n  aliases: {GOLANG_VERSION: go}\n")

	// Never fetched: --offline has nothing to read.
	_, stderr, code := polyarch(t, "drift", "-f", cfg, "builder@2.2", "--offline")
	if code != cli.ExitFailed || !strings.Contains(stderr, "offline, and release-1.12 of "+srv.URL+"/tools.git is not in the cache") {
		t.Errorf("--offline before any fetch: exit %d, %s", code, stderr)
	}
	if _, _, code := polyarch(t, "drift", "-f", cfg, "builder@2.2"); code != cli.ExitOK {
		t.Fatalf("exit %d", code)
	}
	cache := filepath.Join(filepath.Dir(cfg), ".polyarch", "upstream", "git")
	if entries, _ := os.ReadDir(cache); len(entries) != 2 {
		t.Errorf("cache %s holds %d repositories, want tools and proxy", cache, len(entries))
	}

	stdout, stderr, code := polyarch(t, "drift", "-f", cfg, "builder@2.2", "--offline")
	if code != cli.ExitOK || !strings.Contains(stdout, "builder@2.2: no drift") ||
		!strings.Contains(stderr, "note: builder@2.2: offline: "+srv.URL+"/tools.git@release-1.12 read from the cache (commit ") ||
		!strings.Contains(stderr, "note: builder@2.2: offline: "+srv.URL+"/proxy.git@release-1.12 read from the cache (commit ") {
		t.Errorf("--offline: exit %d, stderr:\n%s\n%s", code, stderr, stdout)
	}

	srv.Close()
	stdout, stderr, code = polyarch(t, "drift", "-f", cfg, "builder@2.2")
	if code != cli.ExitOK || !strings.Contains(stdout, "builder@2.2: no drift") ||
		!regexp.MustCompile(`note: builder@2.2: `+regexp.QuoteMeta(srv.URL)+`/tools.git@release-1.12 is unreachable \(.*\): read from the cache \(commit [0-9a-f]{12}, fetched `).MatchString(stderr) {
		t.Errorf("unreachable, cached: exit %d, stderr:\n%s\n%s", code, stderr, stdout)
	}
	// 2.3's ref was never fetched: the error names the upstream and the ref.
	stdout, stderr, code = polyarch(t, "drift", "-f", cfg)
	if code != cli.ExitFailed || !strings.Contains(stderr, "fetching release-1.14 from "+srv.URL+"/tools.git") || !strings.Contains(stdout, "builder@2.2: no drift") {
		t.Errorf("unreachable, not cached: exit %d, stderr:\n%s\nstdout:\n%s", code, stderr, stdout)
	}
}

func TestDriftURLUpstreamAndBadSelections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/istio/tools/release-1.12/Dockerfile" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(tools112))
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), builder22)
	cfg := filepath.Join(dir, "polyarch.yaml")
	writeFile(t, cfg, `drift: {aliases: {golang: go}}
images:
  - name: builder
    context: .
    platforms: [linux/amd64]
    versions:
      - version: "2.2"
        upstream: {dockerfile: {url: "`+srv.URL+`/istio/tools/release-1.12/Dockerfile"}}
      - version: "2.3"
`)
	stdout, stderr, code := polyarch(t, "drift", "-f", cfg)
	if code != cli.ExitOK || !strings.Contains(stdout, "builder@2.2: no drift (4 same)") {
		t.Errorf("exit %d, %s\n%s", code, stderr, stdout)
	}
	if got := row(stdout, "kind"); len(got) != 6 || got[5] != srv.URL+"/istio/tools/release-1.12/Dockerfile:3" {
		t.Errorf("kind row %q\n%s", got, stdout)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a version without upstream", []string{"drift", "-f", cfg, "builder@2.3"}, cli.ExitFailed, "polyarch.yaml:9: images[0].versions[1]: builder@2.3 names no upstream"},
		{"an unknown version", []string{"drift", "-f", cfg, "builder@9"}, cli.ExitFailed, `image "builder" has no version "9" (it has 2.2, 2.3)`},
		{"an unknown image", []string{"drift", "-f", cfg, "nope"}, cli.ExitFailed, `no image "nope"`},
		{"unknown flag", []string{"drift", "--offlin"}, cli.ExitUsage, "unknown flag: --offlin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			checkFailure(t, tc.args, stdout, stderr, code, tc.code, tc.want)
		})
	}
}
