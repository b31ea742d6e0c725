package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/internal/testutil"
)

// A release split across CI runners, simulated on this machine: three
// clones of one project, three builder nodes (each its own state directory
// and socket), one registry. The runners share nothing but the registry
// and the project's origin.

var fanPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}

// indexWrites counts the writes of the index's main tag, in front of the
// registry, for every runner and tool alike.
type indexWrites struct {
	proxy *httputil.ReverseProxy
	path  string
	n     atomic.Int32
}

func (c *indexWrites) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Path == c.path {
		c.n.Add(1)
	}
	c.proxy.ServeHTTP(w, r)
}

// fanRunner is one CI job: its platform, its clone, its builder node.
type fanRunner struct {
	platform, clone, builder, job string
}

type fanout struct {
	t       *testing.T
	host    string
	index   string
	src     string
	writes  *indexWrites
	runners []*fanRunner
	commits int
	crane   string
	skopeo  string
}

// fanRun is what one `polyarch release` of a runner did.
type fanRun struct {
	runner *fanRunner
	out    string
	code   int
	rep    runReport
}

func (r fanRun) status() string {
	if len(r.rep.Units) == 0 {
		return ""
	}
	return r.rep.Units[0].Status
}

// digest is what the run built and tested for its platform.
func (r fanRun) digest() string {
	for _, u := range r.rep.Units {
		for _, tr := range u.Targets {
			if tr.Platform == r.runner.platform {
				return tr.Digest
			}
		}
	}
	return ""
}

func newFanout(t *testing.T) *fanout {
	f := &fanout{t: t, crane: testutil.Tool(t, "crane"), skopeo: testutil.Tool(t, "skopeo")}
	testutil.Tool(t, "git")
	srv := startServe(t)
	upstream, _ := url.Parse("http://" + srv.host)
	f.writes = &indexWrites{proxy: httputil.NewSingleHostReverseProxy(upstream), path: "/v2/fan/app/manifests/1.0"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: f.writes}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	f.host = ln.Addr().String()
	f.index = f.host + "/fan/app:1.0"
	testutil.Busybox(t, f.host)

	// The project's origin, then one clone and one builder per runner.
	f.src = t.TempDir()
	f.git(t, f.src, "init", "-q", "-b", "main")
	os.MkdirAll(filepath.Join(f.src, "app"), 0o755)
	writeFile(t, filepath.Join(f.src, "app", "Dockerfile"), "ARG POLYARCH_REGISTRY\nFROM ${POLYARCH_REGISTRY}/base/busybox:latest\nCOPY version /version\nRUN uname -m > /arch\n")
	f.commit(t, "", "first")
	bin := polyarchBinary(t)
	var wg sync.WaitGroup
	errs := make([]error, len(fanPlatforms))
	for i, p := range fanPlatforms {
		r := &fanRunner{platform: p, clone: filepath.Join(t.TempDir(), "clone"), job: "release-" + strings.ReplaceAll(strings.TrimPrefix(p, "linux/"), "/", "")}
		dir, err := os.MkdirTemp("", "polyarch-fan-builder-")
		if err != nil {
			t.Fatal(err)
		}
		r.builder = dir
		f.git(t, "", "clone", "-q", f.src, r.clone)
		f.runners = append(f.runners, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := exec.Command(bin, "builder", "start", "--builder-dir", r.builder).CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("builder start --builder-dir %s: %v\n%s", r.builder, err, out)
			}
		}()
		t.Cleanup(func() {
			if out, err := exec.Command(bin, "builder", "stop", "--builder-dir", r.builder).CombinedOutput(); err != nil {
				t.Errorf("builder stop --builder-dir %s: %v\n%s", r.builder, err, out)
			}
			if left, _ := localnode.MountsBelow(r.builder); len(left) > 0 {
				t.Errorf("builder stop left mounts: %v", left)
				return
			}
			os.RemoveAll(r.builder)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fanout) git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	env := append(os.Environ(), "GIT_AUTHOR_NAME=polyarch", "GIT_AUTHOR_EMAIL=ci@polyarch.invalid",
		"GIT_COMMITTER_NAME=polyarch", "GIT_COMMITTER_EMAIL=ci@polyarch.invalid",
		// Each commit an hour after the last, so commit times order them.
		fmt.Sprintf("GIT_COMMITTER_DATE=2026-11-01T%02d:00:00Z", f.commits), fmt.Sprintf("GIT_AUTHOR_DATE=2026-11-01T%02d:00:00Z", f.commits))
	return strings.TrimSpace(runEnv(t, env, "git", args...))
}

// commit writes a new commit of the project (extra is the image's test
// section) and returns its hash.
func (f *fanout) commit(t *testing.T, extra, content string) string {
	t.Helper()
	f.commits++
	writeFile(t, filepath.Join(f.src, "polyarch.yaml"), "registry: "+f.host+"\nimages:\n  - name: app\n    repository: fan/app\n    context: app\n"+
		"    platforms: [linux/amd64, linux/arm64, linux/arm/v7]\n    archRef: \"fan/app-{{.Arch}}:{{.Version}}\"\n"+
		"    version: \"1.0\"\n    tags: [\"{{.Version}}\", latest]\n"+extra)
	writeFile(t, filepath.Join(f.src, "app", "version"), content+"\n")
	f.git(t, f.src, "add", "-A")
	f.git(t, f.src, "commit", "-q", "-m", content)
	return f.git(t, f.src, "rev-parse", "HEAD")
}

// pull brings every clone to the origin's newest commit.
func (f *fanout) pull(t *testing.T) {
	for _, r := range f.runners {
		f.git(t, r.clone, "pull", "-q", "--ff-only")
	}
}

// release runs `polyarch release --platform P` as runner r's CI job would.
func (f *fanout) release(t *testing.T, r *fanRunner, args ...string) fanRun {
	t.Helper()
	cmd, jsonFile := f.releaseCmd(t, r, args...)
	out, err := cmd.CombinedOutput()
	return f.finish(t, r, string(out), err, jsonFile)
}

func (f *fanout) releaseCmd(t *testing.T, r *fanRunner, args ...string) (*exec.Cmd, string) {
	tmp := t.TempDir()
	jsonFile := filepath.Join(tmp, "run.json")
	if len(args) == 0 {
		args = []string{"--platform", r.platform}
	}
	args = append([]string{"release", "--builder-dir", r.builder, "--quiet-build",
		"--log-dir", filepath.Join(tmp, "logs"), "--report", jsonFile, "--html", filepath.Join(tmp, "run.html")}, args...)
	cmd := exec.Command(polyarchBinary(t), args...)
	cmd.Dir = r.clone
	cmd.Env = append(os.Environ(), "GITHUB_RUN_ID=4242", "GITHUB_RUN_ATTEMPT=1", "GITHUB_JOB="+r.job,
		"GITHUB_REPOSITORY=polyarch/fan", "GITHUB_SERVER_URL=https://github.example")
	return cmd, jsonFile
}

func (f *fanout) finish(t *testing.T, r *fanRunner, out string, err error, jsonFile string) fanRun {
	t.Helper()
	run := fanRun{runner: r, out: out}
	if ee, ok := err.(*exec.ExitError); ok {
		run.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(jsonFile); err == nil {
		run.rep = readReport(t, jsonFile)
	}
	if os.Getenv("POLYARCH_FANOUT_LOG") == "1" {
		t.Logf("%s runner: exit %d\n%s", r.platform, run.code, out)
	}
	return run
}

// all runs every runner at once.
func (f *fanout) all(t *testing.T) []fanRun {
	runs := make([]fanRun, len(f.runners))
	var wg sync.WaitGroup
	for i, r := range f.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd, jsonFile := f.releaseCmd(t, r)
			out, err := cmd.CombinedOutput()
			runs[i] = f.finish(t, r, string(out), err, jsonFile)
		}()
	}
	wg.Wait()
	return runs
}

func (f *fanout) runner(p string) *fanRunner {
	for _, r := range f.runners {
		if r.platform == p {
			return r
		}
	}
	panic("no runner for " + p)
}

// published returns the index's digest and its children by platform, as
// crane sees them; "" when there is no index.
func (f *fanout) published(t *testing.T) (string, map[string]string) {
	t.Helper()
	d, err := runErr(nil, f.crane, "--insecure", "digest", f.index)
	if err != nil {
		return "", nil
	}
	children := map[string]string{}
	for _, p := range fanPlatforms {
		if d, err := runErr(nil, f.crane, "--insecure", "digest", "--platform", p, f.index); err == nil {
			children[p] = strings.TrimSpace(d)
		}
	}
	return strings.TrimSpace(d), children
}

// checkComplete asserts that crane and skopeo see the whole index, each
// platform's child the digest its runner tested, and that the index was
// written once since the counter was reset.
func (f *fanout) checkComplete(t *testing.T, tested map[string]string, commit string) string {
	t.Helper()
	digest, children := f.published(t)
	if digest == "" {
		t.Fatalf("no index at %s", f.index)
	}
	for _, p := range fanPlatforms {
		if children[p] != tested[p] || tested[p] == "" {
			t.Errorf("crane: a %s host gets %s, its runner tested %s", p, children[p], tested[p])
		}
	}
	var m struct {
		Annotations map[string]string
		Manifests   []struct {
			Digest   string
			Platform struct{ Architecture, Variant string }
		}
	}
	raw := run(t, f.skopeo, "inspect", "--tls-verify=false", "--raw", "docker://"+f.index)
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("skopeo inspect --raw: %v\n%s", err, raw)
	}
	seen := map[string]string{}
	for _, c := range m.Manifests {
		p := "linux/" + c.Platform.Architecture
		if c.Platform.Variant != "" {
			p += "/" + c.Platform.Variant
		}
		seen[p] = c.Digest
	}
	for _, p := range fanPlatforms {
		if seen[p] != tested[p] {
			t.Errorf("skopeo: the index lists %s as %s, its runner tested %s", p, seen[p], tested[p])
		}
	}
	if len(m.Manifests) != len(fanPlatforms) {
		t.Errorf("skopeo: %d children, want %d", len(m.Manifests), len(fanPlatforms))
	}
	if m.Annotations["org.opencontainers.image.revision"] != commit {
		t.Errorf("index revision %q, want %s", m.Annotations["org.opencontainers.image.revision"], commit)
	}
	if n := f.writes.n.Load(); n != 1 {
		t.Errorf("the index was written %d times for commit %s, want once", n, commit[:12])
	}
	if latest := strings.TrimSpace(run(t, f.crane, "--insecure", "digest", f.host+"/fan/app:latest")); latest != digest {
		t.Errorf(":latest is %s, :1.0 is %s", latest, digest)
	}
	return digest
}

func expectRun(t *testing.T, r fanRun, code int, status string) {
	t.Helper()
	if r.code != code || r.status() != status {
		t.Errorf("%s runner: exit %d, status %q; want exit %d, %q\n%s", r.runner.platform, r.code, r.status(), code, status, r.out)
	}
}

func TestReleaseSplitAcrossRunners(t *testing.T) {
	f := newFanout(t)
	first := f.git(t, f.src, "rev-parse", "HEAD")

	t.Run("a --platform release after a full release keeps the full index", func(t *testing.T) {
		f.writes.n.Store(0)
		amd64 := f.runner("linux/amd64")
		full := f.release(t, amd64, "--platform", strings.Join(fanPlatforms, ","))
		if full.code != 0 || full.status() != "published" {
			t.Fatalf("full release: exit %d, status %q\n%s", full.code, full.status(), full.out)
		}
		tested := map[string]string{}
		for _, tr := range full.rep.Units[0].Targets {
			tested[tr.Platform] = tr.Digest
		}
		before := f.checkComplete(t, tested, first)
		partial := f.release(t, f.runner("linux/arm64"))
		if partial.code != 0 || partial.status() != "unchanged" && partial.status() != "published" {
			t.Fatalf("--platform linux/arm64 after the full release: exit %d, status %q\n%s", partial.code, partial.status(), partial.out)
		}
		tested["linux/arm64"] = partial.digest()
		after, children := f.published(t)
		if len(children) != 3 || children["linux/amd64"] != tested["linux/amd64"] || children["linux/arm/v7"] != tested["linux/arm/v7"] || children["linux/arm64"] != tested["linux/arm64"] {
			t.Errorf("after the --platform linux/arm64 release the index has %v, want every platform: %v", children, tested)
		}
		if partial.status() == "unchanged" && after != before {
			t.Errorf("unchanged, yet the index moved from %s to %s", before, after)
		}
	})

	orders := []struct {
		name  string
		order []string
	}{
		{"amd64 first, arm64 last", []string{"linux/amd64", "linux/arm/v7", "linux/arm64"}},
		{"arm64 first, amd64 last", []string{"linux/arm64", "linux/arm/v7", "linux/amd64"}},
	}
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			commit := f.commit(t, "", o.name)
			f.pull(t)
			f.writes.n.Store(0)
			tested := map[string]string{}
			for i, p := range o.order {
				r := f.release(t, f.runner(p))
				tested[p] = r.digest()
				if i < len(o.order)-1 {
					expectRun(t, r, 0, "waiting")
					if i == 0 && !strings.Contains(r.out, "built from another commit") {
						t.Errorf("first runner of a new commit: the others' images are of the last commit, yet it does not say so:\n%s", r.out)
					}
					continue
				}
				expectRun(t, r, 0, "published")
			}
			f.checkComplete(t, tested, commit)
		})
	}

	t.Run("all three at once", func(t *testing.T) {
		commit := f.commit(t, "", "all at once")
		f.pull(t)
		f.writes.n.Store(0)
		tested := map[string]string{}
		published := 0
		for _, r := range f.all(t) {
			tested[r.runner.platform] = r.digest()
			if r.code != 0 {
				t.Errorf("%s runner: exit %d\n%s", r.runner.platform, r.code, r.out)
			}
			switch r.status() {
			case "published":
				published++
			case "waiting", "unchanged":
			default:
				t.Errorf("%s runner: status %q\n%s", r.runner.platform, r.status(), r.out)
			}
		}
		if published != 1 {
			t.Errorf("%d runners published, want 1", published)
		}
		f.checkComplete(t, tested, commit)
	})
	complete, _ := f.published(t)

	t.Run("one runner's tests fail", func(t *testing.T) {
		f.commit(t, "    test:\n      commands:\n        - name: not on arm64\n          shell: '[ \"$(uname -m)\" != aarch64 ]'\n", "arm64 fails")
		f.pull(t)
		f.writes.n.Store(0)
		runs := f.all(t)
		for _, r := range runs {
			if r.runner.platform == "linux/arm64" {
				if r.code != 1 || !strings.Contains(r.out, "not on arm64") {
					t.Errorf("arm64 runner: exit %d, want 1 naming the failed test\n%s", r.code, r.out)
				}
				continue
			}
			expectRun(t, r, 0, "waiting")
		}
		if d, _ := f.published(t); d != complete || f.writes.n.Load() != 0 {
			t.Errorf("the index moved from %s to %s (%d writes) although linux/arm64 failed", complete, d, f.writes.n.Load())
		}
		out, code := polyarchIn(t, f.runner("linux/amd64").clone, "publish", "--require-publish")
		if code != 1 || !regexpLine(out, `linux/arm64: tests failed: command: not on arm64`) || strings.Contains(out, "linux/amd64: ") {
			t.Errorf("publish --require-publish: exit %d, want 1 naming linux/arm64 and its failed test only\n%s", code, out)
		}
	})

	t.Run("a runner killed mid-build, then rerun", func(t *testing.T) {
		commit := f.commit(t, "", "killed")
		f.pull(t)
		f.writes.n.Store(0)
		arm64 := f.runner("linux/arm64")
		cmd, _ := f.releaseCmd(t, arm64)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for !strings.Contains(out.String(), "building on") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if !strings.Contains(out.String(), "building on") {
			t.Fatalf("the arm64 runner never started building:\n%s", out)
		}
		tested := map[string]string{}
		for _, p := range []string{"linux/amd64", "linux/arm/v7"} {
			r := f.release(t, f.runner(p))
			tested[p] = r.digest()
			expectRun(t, r, 0, "waiting")
		}
		r := f.release(t, arm64)
		tested["linux/arm64"] = r.digest()
		expectRun(t, r, 0, "published")
		f.checkComplete(t, tested, commit)
	})
	older := f.git(t, f.src, "rev-parse", "HEAD")
	olderIndex, _ := f.published(t)

	t.Run("a runner at a newer commit", func(t *testing.T) {
		newer := f.commit(t, "", "newer")
		amd64 := f.runner("linux/amd64")
		f.git(t, amd64.clone, "pull", "-q", "--ff-only")
		f.writes.n.Store(0)
		r := f.release(t, amd64)
		expectRun(t, r, 0, "waiting")
		if !strings.Contains(r.out, newer[:12]) || !strings.Contains(r.out, older[:12]) {
			t.Errorf("the waiting message does not name both commits %s and %s:\n%s", newer[:12], older[:12], r.out)
		}
		if d, _ := f.published(t); d != olderIndex || f.writes.n.Load() != 0 {
			t.Errorf("a mixed index was published: %s (was %s)", d, olderIndex)
		}
	})

	t.Run("a late runner of an older commit", func(t *testing.T) {
		newer := f.git(t, f.src, "rev-parse", "HEAD")
		f.pull(t)
		tested := map[string]string{"linux/amd64": ""}
		f.writes.n.Store(0)
		for _, p := range []string{"linux/arm64", "linux/arm/v7"} {
			r := f.release(t, f.runner(p))
			tested[p] = r.digest()
		}
		_, children := f.published(t)
		tested["linux/amd64"] = children["linux/amd64"]
		newIndex := f.checkComplete(t, tested, newer)

		late := f.runner("linux/arm/v7")
		f.git(t, late.clone, "checkout", "-q", older)
		r := f.release(t, late)
		expectRun(t, r, 0, "superseded")
		if d, _ := f.published(t); d != newIndex {
			t.Errorf("the late runner of %s replaced the index of %s: %s, was %s", older[:12], newer[:12], d, newIndex)
		}
		f.git(t, late.clone, "checkout", "-q", "main")
	})

	t.Run("the merge job's report comes from the registry's records", func(t *testing.T) {
		tmp := t.TempDir()
		out, code := polyarchIn(t, f.runner("linux/arm64").clone, "publish", "--report", filepath.Join(tmp, "publish.json"), "--html", filepath.Join(tmp, "publish.html"))
		if code != 0 {
			t.Fatalf("publish: exit %d\n%s", code, out)
		}
		b, err := os.ReadFile(filepath.Join(tmp, "publish.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Units []struct {
				Status  string
				Targets []struct {
					Platform, Node, Digest string
					Native                 bool
					Tests                  []struct{ Name string }
					CI                     struct{ Job string }
				}
			}
		}
		json.Unmarshal(b, &rep)
		if len(rep.Units) != 1 || rep.Units[0].Status != "unchanged" {
			t.Fatalf("publish report: %s", b)
		}
		for _, tr := range rep.Units[0].Targets {
			want := f.runner(tr.Platform).job
			if tr.CI.Job != want || len(tr.Tests) == 0 || tr.Node == "" || tr.Native != (tr.Platform == "linux/amd64") {
				t.Errorf("publish report for %s: node %q native %v, %d tests, CI job %q (want %s)", tr.Platform, tr.Node, tr.Native, len(tr.Tests), tr.CI.Job, want)
			}
		}
		html, _ := os.ReadFile(filepath.Join(tmp, "publish.html"))
		for _, r := range f.runners {
			if !strings.Contains(string(html), r.job) {
				t.Errorf("the HTML report does not name the CI job %s", r.job)
			}
		}
	})

	t.Run("digest-only children (--no-arch-tags)", func(t *testing.T) {
		commit := f.commit(t, "", "no arch tags")
		f.pull(t)
		f.writes.n.Store(0)
		tested := map[string]string{}
		for i, p := range []string{"linux/arm/v7", "linux/amd64", "linux/arm64"} {
			r := f.release(t, f.runner(p), "--platform", p, "--no-arch-tags")
			tested[p] = r.digest()
			if i < 2 {
				expectRun(t, r, 0, "waiting")
				continue
			}
			expectRun(t, r, 0, "published")
		}
		f.checkComplete(t, tested, commit)
		tags := strings.Fields(run(t, f.crane, "--insecure", "ls", f.host+"/fan/app"))
		if strings.Join(tags, " ") != "1.0 latest" {
			t.Errorf("tags of fan/app after the publish: %v, want 1.0 and latest (the temporary tags deleted)", tags)
		}
		out, code := polyarchIn(t, f.runner("linux/amd64").clone, "publish", "--no-arch-tags")
		if code != 0 || !strings.Contains(out, "unchanged") {
			t.Errorf("merge job after the temporary tags are gone: exit %d\n%s", code, out)
		}
	})
}
