package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/internal/testutil"
)

// freshBuilder is a builder state directory of the test's own, stopped and
// deleted when the test ends (the shared one keeps its cache).
func freshBuilder(t *testing.T) string {
	t.Helper()
	localBuilder(t) // the tools and root it needs
	dir, err := os.MkdirTemp("", "polyarch-fresh-builder-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropBuilder(t, dir) })
	return dir
}

// dropBuilder stops a builder node and deletes its state directory.
func dropBuilder(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command(polyarchBinary(t), "builder", "stop", "--builder-dir", dir).CombinedOutput(); err != nil {
		t.Errorf("polyarch builder stop: %v\n%s", err, out)
	}
	if left, _ := localnode.MountsBelow(dir); len(left) > 0 {
		t.Errorf("mounts left below %s: %v", dir, left)
		return
	}
	os.RemoveAll(dir)
}

// gitProject is a project committed to a fresh git repository, so that its
// builds are reproducible (SOURCE_DATE_EPOCH from the commit).
func gitProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := project(t, files)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir, "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z", "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "--quiet", "--initial-branch=main")
	git("add", ".")
	git("commit", "--quiet", "-m", "first")
	return dir
}

var (
	stepLine   = regexp.MustCompile(`^#(\d+) \[[^\]]*\] RUN (.*)$`)
	cachedLine = regexp.MustCompile(`^#(\d+) CACHED$`)
)

// runSteps reads BuildKit's plain progress: the RUN steps of the build that
// ran, and those taken from a cache.
func runSteps(log string) (ran, cached []string) {
	steps := map[string]string{}
	var order []string
	isCached := map[string]bool{}
	for _, l := range strings.Split(log, "\n") {
		if m := stepLine.FindStringSubmatch(l); m != nil {
			if _, seen := steps[m[1]]; !seen {
				order = append(order, m[1])
			}
			steps[m[1]] = m[2]
		}
		if m := cachedLine.FindStringSubmatch(l); m != nil {
			isCached[m[1]] = true
		}
	}
	for _, id := range order {
		if isCached[id] {
			cached = append(cached, steps[id])
		} else {
			ran = append(ran, steps[id])
		}
	}
	return ran, cached
}

// buildLogs runs polyarch build and returns its output, the digest of each
// platform (from the table) and each platform's build log.
func buildLogs(t *testing.T, proj, builder string, args ...string) (out string, code int, digests, logs map[string]string) {
	t.Helper()
	logDir := t.TempDir()
	out, code = polyarchIn(t, proj, append([]string{"build", "--builder-dir", builder, "--log-dir", logDir}, args...)...)
	digests, logs = map[string]string{}, map[string]string{}
	row := regexp.MustCompile(`(?m)^\S+\s+\S+\s+(linux/\S+)\s+local\s+\S+\s+(sha256:[0-9a-f]+)`)
	for _, m := range row.FindAllStringSubmatch(out, -1) {
		digests[m[1]] = m[2]
	}
	files, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		// build.Run names them image_os-arch[-variant].log.
		_, plat, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".log"), "_")
		logs[strings.ReplaceAll(plat, "-", "/")] = string(b)
	}
	return out, code, digests, logs
}

const cacheDockerfile = "RUN uname -m > /built-on && echo step one\nRUN echo step two > /two\n"

// The "done means": a fresh builder node (state directory deleted)
// rebuilds an unchanged commit from the registry cache, running no RUN step,
// and gets the same per-arch digests.
func TestFreshBuilderRebuildsFromTheRegistryCache(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)
	proj := gitProject(t, map[string]string{
		"app/Dockerfile": "FROM " + base + "\n" + cacheDockerfile,
		"polyarch.yaml": "registry: " + srv.host + "\nimages:\n  - name: app\n    repository: org/app\n    context: app\n" +
			"    platforms: [linux/amd64, linux/arm64]\n    version: \"1.0\"\n",
	})

	first := freshBuilder(t)
	out, code, cold, logs := buildLogs(t, proj, first)
	if code != 0 || len(cold) != 2 {
		t.Fatalf("cold build: exit %d, digests %v\n%s", code, cold, out)
	}
	for p, log := range logs {
		if ran, _ := runSteps(log); len(ran) != 2 {
			t.Fatalf("%s cold build ran %q, want both RUN steps: the test proves nothing\n%s", p, ran, log)
		}
	}
	// One cache per platform, in a repository of its own.
	for _, p := range []string{"linux-amd64", "linux-arm64"} {
		var m struct {
			MediaType string
			Config    struct{ MediaType string }
		}
		if err := json.Unmarshal([]byte(run(t, crane, "--insecure", "manifest", srv.host+"/org/app-buildcache:"+p)), &m); err != nil {
			t.Fatal(err)
		}
		if m.Config.MediaType != "application/vnd.buildkit.cacheconfig.v0" {
			t.Errorf("cache %s: %+v, want an image manifest of BuildKit's cache config", p, m)
		}
	}
	if tags := strings.Fields(run(t, crane, "--insecure", "ls", srv.host+"/org/app")); strings.Join(tags, " ") != "1.0-amd64 1.0-arm64" {
		t.Errorf("the image's repository holds %v", tags)
	}

	// The runner is gone: its node and state with it.
	dropBuilder(t, first)
	second := freshBuilder(t)
	out, code, warm, logs := buildLogs(t, proj, second)
	if code != 0 {
		t.Fatalf("rebuild on a fresh node: exit %d\n%s", code, out)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		if warm[p] != cold[p] {
			t.Errorf("%s: rebuilt as %s, first built as %s", p, warm[p], cold[p])
		}
		ran, cached := runSteps(logs[p])
		if len(ran) != 0 || len(cached) != 2 {
			t.Errorf("%s on a fresh node: ran %q, cached %q; want every RUN step from the registry cache\n%s", p, ran, cached, logs[p])
		}
	}

	// --no-cache runs every step again.
	out, code, _, logs = buildLogs(t, proj, second, "--no-cache", "--platform", "linux/amd64")
	if ran, _ := runSteps(logs["linux/amd64"]); code != 0 || len(ran) != 2 {
		t.Errorf("--no-cache: exit %d, ran %q\n%s", code, ran, out)
	}

	// --no-cache-export leaves the registry's cache as it was.
	cacheRef := srv.host + "/org/app-buildcache:linux-amd64"
	before := strings.TrimSpace(run(t, crane, "--insecure", "digest", cacheRef))
	os.WriteFile(filepath.Join(proj, "app", "Dockerfile"), []byte("FROM "+base+"\n"+cacheDockerfile+"RUN echo step three > /three\n"), 0o644)
	if out, code, _, _ := buildLogs(t, proj, second, "--no-cache-export", "--platform", "linux/amd64"); code != 0 {
		t.Fatalf("--no-cache-export: exit %d\n%s", code, out)
	}
	if after := strings.TrimSpace(run(t, crane, "--insecure", "digest", cacheRef)); after != before {
		t.Errorf("--no-cache-export moved the cache from %s to %s", before, after)
	}
	if out, code, _, _ := buildLogs(t, proj, second, "--platform", "linux/amd64"); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, out)
	}
	if after := strings.TrimSpace(run(t, crane, "--insecure", "digest", cacheRef)); after == before {
		t.Errorf("a build of a changed Dockerfile left the cache at %s", before)
	}
}

// cacheRefusing is a registry in front of another that refuses the forms
// of BuildKit cache it is told to, as some hosted registries do.
type cacheRefusing struct {
	proxy         *httputil.ReverseProxy
	imageManifest atomic.Bool // refuse an image manifest of BuildKit's cache config
	index         atomic.Bool // refuse an index holding BuildKit's cache config
	refused       atomic.Int32
}

func (c *cacheRefusing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var m struct {
			MediaType string
			Config    struct{ MediaType string }
			Manifests []struct{ MediaType string }
		}
		json.Unmarshal(body, &m)
		isCache := m.Config.MediaType == "application/vnd.buildkit.cacheconfig.v0"
		for _, d := range m.Manifests {
			isCache = isCache || d.MediaType == "application/vnd.buildkit.cacheconfig.v0"
		}
		if isCache && (c.imageManifest.Load() && len(m.Manifests) == 0 || c.index.Load() && len(m.Manifests) > 0) {
			c.refused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"unsupported config media type"}]}`)
			return
		}
	}
	c.proxy.ServeHTTP(w, r)
}

// refusingRegistry serves the registry at host through a cacheRefusing proxy.
func refusingRegistry(t *testing.T, host string) (*cacheRefusing, string) {
	t.Helper()
	upstream, _ := url.Parse("http://" + host)
	reg := &cacheRefusing{proxy: httputil.NewSingleHostReverseProxy(upstream)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: reg}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return reg, ln.Addr().String()
}

func TestCacheFallsBackWhereARegistryRefusesOneForm(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	// distribution refuses the index form itself (an index's children must
	// be manifests it has) unless told not to check them; the proxy
	// refuses the image-manifest form.
	lenient := startServe(t, "--config", writeConfig(t, "version: 0.1\nstorage: {filesystem: {rootdirectory: /nonexistent}, delete: {enabled: true}}\n"+
		"validation: {manifests: {indexes: {platforms: none}}}\n"))
	base := testutil.Busybox(t, lenient.host)
	reg, host := refusingRegistry(t, lenient.host)
	reg.imageManifest.Store(true)
	proj := func(host, base string) string {
		return gitProject(t, map[string]string{
			"app/Dockerfile": "FROM " + base + "\n" + cacheDockerfile,
			"polyarch.yaml": "registry: " + host + "\nimages:\n  - name: app\n    repository: org/app\n    context: app\n" +
				"    platforms: [linux/amd64, linux/arm64]\n    version: \"1.0\"\n",
		})
	}
	builder := freshBuilder(t)

	out, code, digests, _ := buildLogs(t, proj(host, base), builder)
	if code != 0 || len(digests) != 2 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if reg.refused.Load() == 0 {
		t.Fatal("no cache was refused: the test proves nothing")
	}
	warning := regexp.MustCompile(`(?m)^warning: registry ` + regexp.QuoteMeta(host) + ` refused BuildKit's image-manifest cache \(.*manifest invalid.*\); exporting the cache as an OCI index instead$`)
	if n := len(warning.FindAllString(out, -1)); n != 1 {
		t.Errorf("%d warnings, want one line for the registry (two builds):\n%s", n, out)
	}
	for _, p := range []string{"linux-amd64", "linux-arm64"} {
		var m struct{ MediaType string }
		json.Unmarshal([]byte(run(t, crane, "--insecure", "manifest", lenient.host+"/org/app-buildcache:"+p)), &m)
		if m.MediaType != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("cache %s is %q, want the OCI index form", p, m.MediaType)
		}
	}

	// A registry that takes neither: the build succeeds, and says so.
	strict := startServe(t)
	base = testutil.Busybox(t, strict.host)
	reg, host = refusingRegistry(t, strict.host)
	reg.imageManifest.Store(true)
	out, code, _, _ = buildLogs(t, proj(host, base), builder, "--platform", "linux/amd64")
	if code != 0 || !regexpLine(out, `^warning: registry `+regexp.QuoteMeta(host)+` refused BuildKit's OCI index cache too \(.*\): its builds are not cached in the registry$`) {
		t.Errorf("both forms refused: exit %d\n%s", code, out)
	}
}

// The gobuild example, a real compile: cross-compiled for amd64, arm64 and
// s390x, released and verified; then a fresh builder node rebuilds it from
// the registry cache without compiling, to the same digests.
func TestGobuildExampleRebuildsFromTheRegistryCacheOnAFreshNode(t *testing.T) {
	srv := startServe(t)
	testutil.Busybox(t, srv.host)
	goImage(t, srv.host)
	root := testutil.RepoRoot()
	example := filepath.Join(root, "examples", "gobuild")
	out, code, rep, _ := release(t, root, "-f", "examples/gobuild/polyarch.yaml", "--registry", srv.host, "gobuild")
	if code != 0 || !rep.OK || len(rep.Units) != 1 || len(rep.Units[0].Targets) != 3 {
		t.Fatalf("release gobuild: exit %d\n%s", code, out)
	}
	released := map[string]string{}
	for _, tr := range rep.Units[0].Targets {
		released[tr.Platform] = tr.Digest
	}
	if out, code := polyarchIn(t, root, "verify", srv.host+"/examples/gobuild:1.0"); code != 0 {
		t.Errorf("polyarch verify: exit %d\n%s", code, out)
	}

	// polyarch build has no --registry: a copy of the config that names
	// it, and the example's directory as the context.
	cfg, err := os.ReadFile(filepath.Join(example, "polyarch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	yaml := regexp.MustCompile(`(?m)^registry: .*$`).ReplaceAllString(string(cfg), "registry: "+srv.host)
	yaml = strings.ReplaceAll(yaml, "    context: .\n", "    context: "+example+"\n")
	local := filepath.Join(t.TempDir(), "polyarch.yaml")
	writeFile(t, local, yaml)
	out, code, digests, logs := buildLogs(t, root, freshBuilder(t), "-f", local, "gobuild")
	if code != 0 {
		t.Fatalf("build on a fresh node: exit %d\n%s", code, out)
	}
	for p, want := range released {
		if len(digests[p]) < len("sha256:")+12 || !strings.HasPrefix(want, digests[p]) { // the table shows digests short
			t.Errorf("%s: rebuilt as %s, released as %s", p, digests[p], want)
		}
		ran, cached := runSteps(logs[p])
		if len(ran) != 0 || len(cached) == 0 {
			t.Errorf("%s on a fresh node: ran %q; want the compile from the registry cache\n%s", p, ran, logs[p])
		}
	}
}
