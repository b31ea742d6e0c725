package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/internal/testutil"
)

// Istio-like upstreams made here: tools.git's build-tools Dockerfile on
// release-1.12 and release-1.14, proxy.git's .bazelversion on both.
func driftUpstreams(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testutil.GitRepo(t, dir, "tools", map[string]map[string]string{
		"release-1.12": {"docker/build-tools/Dockerfile": "ARG GO_VERSION=1.17.5\nFROM golang:${GO_VERSION} AS tools\nENV KIND_VERSION=v0.11.1\nFROM ubuntu:focal\n"},
		"release-1.14": {"docker/build-tools/Dockerfile": "ARG GO_VERSION=1.18.2\nFROM golang:${GO_VERSION} AS tools\nENV KIND_VERSION=v0.14.0\nFROM ubuntu:jammy\n"},
	})
	testutil.GitRepo(t, dir, "proxy", map[string]map[string]string{
		"release-1.12": {".bazelversion": "4.2.1\n"},
		"release-1.14": {".bazelversion": "5.1.1\n"},
	})
	return dir
}

func TestDriftAgainstGitAndURLUpstreams(t *testing.T) {
	up := driftUpstreams(t)
	git := testutil.ServeGit(t, up)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tools/release-1.14/Dockerfile" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ENV KIND_VERSION=v0.14.0\n"))
	}))
	defer web.Close()
	ours := "ARG GOLANG_VERSION=1.17.5\nFROM golang:${GOLANG_VERSION} AS tools\nENV KIND_VERSION=0.11.1\nFROM ubuntu:focal\nARG BAZEL_VERSION=4.2.1\n"
	proj := project(t, map[string]string{
		"b_2.2.Dockerfile": ours,
		"b_2.3.Dockerfile": ours,
		"polyarch.yaml": `# aliases pair our GOLANG_VERSION with upstream's GO_VERSION
drift:
  aliases: {GOLANG_VERSION: go}
images:
  - name: builder
    context: .
    platforms: [linux/amd64]
    dockerfile: b_{{.Version}}.Dockerfile
    versions:
      - version: "2.2"
        upstream:
          dockerfile: {git: ` + git.URL + `/tools.git, ref: release-1.12, path: docker/build-tools/Dockerfile}
          files: [{git: file://` + up + `/proxy.git, ref: release-1.12, path: .bazelversion}]
      - version: "2.3"
        upstream:
          dockerfile: {git: ` + git.URL + `/tools.git, ref: release-1.14, path: docker/build-tools/Dockerfile}
          files: [{git: file://` + up + `/proxy.git, ref: release-1.14, path: .bazelversion}]
      - version: "2.4"
        dockerfile: b_2.3.Dockerfile
        upstream: {dockerfile: {url: "` + web.URL + `/tools/release-1.14/Dockerfile"}}
`,
	})

	out, code := polyarchIn(t, proj, "drift", "builder@2.2")
	if code != 0 || !strings.Contains(out, "builder@2.2: no drift (4 same)") {
		t.Errorf("2.2 follows release-1.12: exit %d\n%s", code, out)
	}

	out, code = polyarchIn(t, proj, "drift", "builder@2.3")
	tools := git.URL + "/tools.git@release-1.14:docker/build-tools/Dockerfile"
	for _, line := range []string{
		`^go\s+1\.17\.5\s+1\.18\.2\s+differs\s+b_2\.3\.Dockerfile:1\s+` + regexpQuote(tools) + `:1$`,
		`^kind\s+0\.11\.1\s+v0\.14\.0\s+differs\s+b_2\.3\.Dockerfile:3\s+` + regexpQuote(tools) + `:3$`,
		`^ubuntu\s+focal\s+jammy\s+differs\s+b_2\.3\.Dockerfile:4\s+` + regexpQuote(tools) + `:4$`,
		`^bazel\s+4\.2\.1\s+5\.1\.1\s+differs\s+b_2\.3\.Dockerfile:5\s+` + regexpQuote("file://"+up+"/proxy.git@release-1.14:.bazelversion:1") + `$`,
		`^polyarch: drift in builder@2.3$`,
	} {
		if !regexpLine(out, line) {
			t.Errorf("no line %s:\n%s", line, out)
		}
	}
	if code != 1 {
		t.Errorf("drift: exit %d, want 1", code)
	}

	out, code = polyarchIn(t, proj, "drift", "builder@2.4", "--json")
	if code != 1 || !strings.Contains(out, `"file": "`+web.URL+`/tools/release-1.14/Dockerfile"`) || !strings.Contains(out, `"status": "only ours"`) {
		t.Errorf("a URL upstream, --json: exit %d\n%s", code, out)
	}

	// Offline from the cache, then with the upstreams gone.
	if _, err := os.Stat(filepath.Join(proj, ".polyarch", "upstream", "git")); err != nil {
		t.Fatalf("no cache: %v", err)
	}
	out, code = polyarchIn(t, proj, "drift", "builder@2.2", "--offline")
	if code != 0 || !strings.Contains(out, "note: builder@2.2: offline: "+git.URL+"/tools.git@release-1.12 read from the cache (commit ") {
		t.Errorf("--offline: exit %d\n%s", code, out)
	}
	git.Close()
	os.RemoveAll(filepath.Join(up, "proxy.git"))
	out, code = polyarchIn(t, proj, "drift")
	if code != 1 ||
		!regexpLine(out, `^note: builder@2\.2: `+regexpQuote(git.URL)+`/tools\.git@release-1\.12 is unreachable \(.+\): read from the cache \(commit [0-9a-f]{12}, fetched `) ||
		!regexpLine(out, `^note: builder@2\.3: file://`+regexpQuote(up)+`/proxy\.git@release-1\.14 is unreachable \(.+\): read from the cache`) ||
		!regexpLine(out, `^polyarch: drift in builder@2\.3, builder@2\.4$`) {
		t.Errorf("upstreams gone, cached: exit %d\n%s", code, out)
	}

	// An upstream never fetched, now unreachable, is named in the error.
	fresh := filepath.Join(proj, ".polyarch", "upstream")
	os.RemoveAll(fresh)
	out, code = polyarchIn(t, proj, "drift", "builder@2.3")
	if code != 1 || !strings.Contains(out, "polyarch: builder@2.3: reading "+tools+": fetching release-1.14 from "+git.URL+"/tools.git") {
		t.Errorf("unreachable, not cached: exit %d\n%s", code, out)
	}
}
