package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/internal/testutil"
)

// runReport is the part of `polyarch release --report` the tests read.
type runReport struct {
	OK    bool
	Units []struct {
		Name, Status, Digest, Reason string
		Index                        string   `json:"index"`
		Tags                         []string `json:"tags"`
		Targets                      []struct {
			Platform, Ref, Node, Digest, Status, Error string
			Native                                     bool
			Optional                                   bool
			LeftOut                                    bool `json:"leftOut"`
			TestsReused                                bool `json:"testsReused"`
		}
		Signed *struct {
			Format             string
			Platforms, Written int
			Evidence           bool
		}
	}
}

func readReport(t *testing.T, path string) runReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r runReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	return r
}

// release runs polyarch release with a report in a temp dir.
func release(t *testing.T, dir string, args ...string) (out string, code int, rep runReport, html string) {
	t.Helper()
	tmp := t.TempDir()
	jsonFile, html := filepath.Join(tmp, "run.json"), filepath.Join(tmp, "run.html")
	args = append([]string{"release", "--builder-dir", localBuilder(t), "--quiet-build", "--log-dir", filepath.Join(tmp, "logs"), "--report", jsonFile, "--html", html}, args...)
	out, code = polyarchIn(t, dir, args...)
	if _, err := os.Stat(jsonFile); err == nil {
		rep = readReport(t, jsonFile)
	}
	return out, code, rep, html
}

// digestFor returns what a host of platform p gets for ref, asked of crane.
func digestFor(t *testing.T, crane, ref, p string) string {
	t.Helper()
	return strings.TrimSpace(run(t, crane, "--insecure", "digest", "--platform", p, ref))
}

func TestReleaseExamples(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	skopeo := testutil.Tool(t, "skopeo")
	srv := startServe(t)
	testutil.Busybox(t, srv.host)
	root := testutil.RepoRoot()

	t.Run("agent: repository suffix", func(t *testing.T) {
		out, code, rep, _ := release(t, root, "-f", "examples/agent/polyarch.yaml", "--registry", srv.host)
		if code != 0 || !rep.OK {
			t.Fatalf("exit %d\n%s", code, out)
		}
		index := srv.host + "/antrea/antrea-agent-ubuntu:v1.4.0"
		u := rep.Units[0]
		for _, tr := range u.Targets {
			arch := strings.Split(tr.Platform, "/")[1] // arm for arm/v7
			if want := srv.host + "/antrea/antrea-agent-ubuntu-" + arch + ":v1.4.0"; tr.Ref != want {
				t.Errorf("%s pushed as %s, want %s", tr.Platform, tr.Ref, want)
			}
			if got := digestFor(t, crane, index, tr.Platform); got != tr.Digest {
				t.Errorf("crane: a %s host gets %s, the tested digest is %s", tr.Platform, got, tr.Digest)
			}
			if got := strings.TrimSpace(run(t, crane, "--insecure", "digest", tr.Ref)); got != tr.Digest {
				t.Errorf("arch ref %s is %s, tested %s", tr.Ref, got, tr.Digest)
			}
		}
		if d := strings.TrimSpace(run(t, crane, "--insecure", "digest", srv.host+"/antrea/antrea-agent-ubuntu:latest")); d != u.Digest {
			t.Errorf(":latest is %s, the release says %s", d, u.Digest)
		}
		if strings.Join(u.Tags, ",") != "v1.4.0,latest" {
			t.Errorf("report tags %q, want v1.4.0 and latest under \"tags\"", u.Tags)
		}
		// OCI annotations set from git and the config, on each manifest and the index.
		var m struct{ Annotations map[string]string }
		json.Unmarshal([]byte(run(t, crane, "--insecure", "manifest", u.Targets[1].Ref)), &m)
		head := strings.TrimSpace(run(t, "git", "-C", root, "rev-parse", "HEAD"))
		if m.Annotations["org.opencontainers.image.version"] != "v1.4.0" || m.Annotations["org.opencontainers.image.revision"] != head || m.Annotations["org.opencontainers.image.created"] == "" {
			t.Errorf("arm64 manifest annotations %v, want version v1.4.0, revision %s and created", m.Annotations, head)
		}
		json.Unmarshal([]byte(run(t, crane, "--insecure", "manifest", index)), &m)
		if m.Annotations["org.opencontainers.image.revision"] != head {
			t.Errorf("index annotations %v", m.Annotations)
		}
		sk := run(t, skopeo, "inspect", "--tls-verify=false", "--override-os", "linux", "--override-arch", "arm", "--override-variant", "v7", "docker://"+index)
		if !strings.Contains(sk, `"Architecture": "arm"`) {
			t.Errorf("skopeo as an arm/v7 host:\n%s", sk)
		}
	})

	// The agent example with a sign: section, through the real builder:
	// the index and each child signed after publishing, each child's SBOM
	// and provenance (tested, native or emulated) attached, checked by cosign.
	t.Run("agent: signed release", func(t *testing.T) {
		bin := polyarchBinary(t)
		cosign := testutil.Tool(t, "cosign")
		files := map[string]string{}
		for _, f := range []string{"Dockerfile", "antrea-agent", "polyarch.yaml"} {
			b, err := os.ReadFile(filepath.Join(root, "examples", "agent", f))
			if err != nil {
				t.Fatal(err)
			}
			files[f] = string(b)
		}
		files["polyarch.yaml"] += "sign:\n  key: cosign.key\n"
		dir := project(t, files)
		t.Setenv("COSIGN_PASSWORD", "e2e-password")
		prefix := signKeys(t, bin, dir, "cosign")
		out, code, rep, _ := release(t, dir, "-f", "polyarch.yaml", "--registry", srv.host)
		if code != 0 || !rep.OK {
			t.Fatalf("exit %d\n%s", code, out)
		}
		u := rep.Units[0]
		if s := u.Signed; s == nil || s.Format != "tag" || s.Platforms != 3 || s.Written != 3*3+1 || !s.Evidence {
			t.Fatalf("the report says signing did %+v; want the index and 3 children signed, each with its SBOM and provenance\n%s", s, out)
		}
		if !strings.Contains(out, "signed "+u.Digest[:7+12]) {
			t.Errorf("the output does not say the index was signed:\n%s", out)
		}
		repo := srv.host + "/antrea/antrea-agent-ubuntu"
		verify := append([]string{"verify", "--key", prefix + ".pub"}, cosignArgs(t, "tag")...)
		if out, err := runErr(nil, cosign, append(verify, repo+"@"+u.Digest)...); err != nil {
			t.Errorf("cosign verify of the index: %v\n%s", err, out)
		}
		for _, tr := range u.Targets {
			child := repo + "@" + tr.Digest
			if out, err := runErr(nil, cosign, append(verify, child)...); err != nil {
				t.Errorf("cosign verify %s: %v\n%s", tr.Platform, err, out)
			}
			out, err := runErr(nil, cosign, append(append([]string{"verify-attestation", "--key", prefix + ".pub", "--type", "slsaprovenance1"}, cosignArgs(t, "tag")...), child)...)
			if err != nil {
				t.Errorf("cosign verify-attestation --type slsaprovenance1 %s: %v\n%s", tr.Platform, err, out)
				continue
			}
			var found bool
			for _, st := range statements(t, out) {
				ps, err := evidence.ReadProvenance(st["predicate"])
				if err != nil {
					continue
				}
				found = true
				exec := map[bool]string{true: "native", false: "emulated"}[tr.Native]
				if ps.Platform != tr.Platform || ps.Execution != exec || ps.Tested == nil || !*ps.Tested {
					t.Errorf("%s: provenance says platform %s, %s, tested %v; the release built it %s and its tests passed", tr.Platform, ps.Platform, ps.Execution, ps.Tested, exec)
				}
			}
			if !found {
				t.Errorf("%s: cosign found no polyarch provenance:\n%s", tr.Platform, out)
			}
		}
		stdout, stderr, code := runSplit(t, bin, "verify", srv.host+"/antrea/antrea-agent-ubuntu:v1.4.0", "--signatures", "--key", prefix+".pub")
		if code != 0 || !strings.Contains(stdout, "0 problems") {
			t.Errorf("polyarch verify --signatures: exit %d\n%s%s", code, stdout, stderr)
		}
	})

	t.Run("validation: arch in the tag", func(t *testing.T) {
		out, code, rep, _ := release(t, root, "-f", "examples/validation/polyarch.yaml", "--registry", srv.host)
		if code != 0 || !rep.OK {
			t.Fatalf("exit %d\n%s", code, out)
		}
		tags := run(t, crane, "--insecure", "ls", srv.host+"/akraino/validation")
		for _, tag := range []string{"k8s-amd64-latest", "k8s-arm64-latest", "k8s-latest"} {
			if !strings.Contains(tags, tag+"\n") {
				t.Errorf("tag %s missing; tags:\n%s", tag, tags)
			}
		}
		for _, tr := range rep.Units[0].Targets {
			if got := digestFor(t, crane, srv.host+"/akraino/validation:k8s-latest", tr.Platform); got != tr.Digest {
				t.Errorf("%s host gets %s, tested %s", tr.Platform, got, tr.Digest)
			}
		}
	})

	t.Run("builder: one version, then all", func(t *testing.T) {
		prepareBuilderExample(t, srv.host) // its Go toolchain image and upstream repositories
		out, code, rep, _ := release(t, root, "-f", "examples/builder/polyarch.yaml", "--registry", srv.host, "builder@2.4")
		if code != 0 || len(rep.Units) != 1 || rep.Units[0].Name != "builder@2.4" {
			t.Fatalf("exit %d, units %+v\n%s", code, rep.Units, out)
		}
		tags := run(t, crane, "--insecure", "ls", srv.host+"/maistra/maistra-builder")
		if strings.Contains(tags, "2.3") {
			t.Errorf("releasing builder@2.4 pushed 2.3:\n%s", tags)
		}
		for _, p := range []string{"linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x"} {
			img := srv.host + "/maistra/maistra-builder:2.4"
			if got := digestFor(t, crane, img, p); got == "" {
				t.Errorf("no %s image in %s", p, img)
			}
		}
		out, code, rep, _ = release(t, root, "-f", "examples/builder/polyarch.yaml", "--registry", srv.host)
		if code != 0 || len(rep.Units) != 2 {
			t.Fatalf("all versions: exit %d\n%s", code, out)
		}
		if rep.Units[1].Status != "unchanged" {
			t.Errorf("2.4 was released just before: status %q, want unchanged", rep.Units[1].Status)
		}
		for _, tr := range rep.Units[1].Targets {
			if !tr.TestsReused {
				t.Errorf("2.4 %s was tested again although the same digest passed before", tr.Platform)
			}
		}
		if got := exportFile(t, crane, srv.host+"/maistra/maistra-builder:2.3-s390x", "etc/maistra-builder/versions"); !strings.Contains(got, "maistra-builder 2.3 istio=1.14") || !strings.Contains(got, "built-on=s390x") {
			t.Errorf("2.3 s390x versions file: %q", got)
		}
	})
}

// failingProject is a project whose Dockerfile and tests are chosen per test.
func failingProject(t *testing.T, host, dockerfile, extra string) string {
	return project(t, map[string]string{
		"app/Dockerfile": dockerfile,
		"polyarch.yaml": "registry: " + host + "\nimages:\n  - name: app\n    context: app\n" +
			"    platforms: [linux/amd64, linux/arm64, {platform: linux/s390x, optional: true}]\n" +
			"    archRef: \"org/app-{{.Arch}}:1\"\n    tags: [stable]\n" + extra,
	})
}

func TestReleaseFailuresLeaveThePublishedIndexAlone(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)
	good := "FROM " + base + "\nRUN uname -m > /arch\n"
	index := srv.host + "/app:stable"

	out, code, rep, _ := release(t, failingProject(t, srv.host, good, ""), nil...)
	if code != 0 || !rep.OK {
		t.Fatalf("first release: exit %d\n%s", code, out)
	}
	published := strings.TrimSpace(run(t, crane, "--insecure", "digest", index))

	t.Run("one platform's build fails", func(t *testing.T) {
		df := good + "RUN echo v2 > /v && [ \"$(uname -m)\" != aarch64 ] || { echo 'arm64 build broken' >&2; exit 4; }\n"
		out, code, rep, _ := release(t, failingProject(t, srv.host, df, ""))
		if code != 1 || rep.OK {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		if d := strings.TrimSpace(run(t, crane, "--insecure", "digest", index)); d != published {
			t.Errorf("the index moved to %s although linux/arm64 failed", d)
		}
		u := rep.Units[0]
		if u.Status != "not published" || !strings.Contains(u.Reason, "linux/arm64 (build failed)") {
			t.Errorf("report: status %q, reason %q", u.Status, u.Reason)
		}
		for _, want := range []string{"app", "linux/arm64", "arm64 build broken", "NOT published"} {
			if !strings.Contains(out, want) {
				t.Errorf("output does not name %q:\n%s", want, out)
			}
		}
	})

	t.Run("a test fails", func(t *testing.T) {
		df := good + "RUN echo v3 > /v\n"
		tests := "    test:\n      commands:\n        - name: not on arm64\n          shell: '[ \"$(uname -m)\" != aarch64 ]'\n"
		out, code, rep, _ := release(t, failingProject(t, srv.host, df, tests))
		if code != 1 || rep.OK {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		if d := strings.TrimSpace(run(t, crane, "--insecure", "digest", index)); d != published {
			t.Errorf("the index moved to %s although a linux/arm64 test failed", d)
		}
		var arm64 string
		for _, tr := range rep.Units[0].Targets {
			if tr.Platform == "linux/arm64" {
				arm64 = tr.Status + ": " + tr.Error
			}
		}
		if !strings.Contains(arm64, "tests failed") || !strings.Contains(arm64, "not on arm64") || !strings.Contains(arm64, "exit code: expected 0, got 1") {
			t.Errorf("report for linux/arm64: %q", arm64)
		}
	})

	t.Run("an optional platform fails", func(t *testing.T) {
		df := good + "RUN echo v4 > /v && [ \"$(uname -m)\" != s390x ]\n"
		out, code, rep, html := release(t, failingProject(t, srv.host, df, ""))
		if code != 0 || !rep.OK {
			t.Fatalf("exit %d, want 0\n%s", code, out)
		}
		var plats []string
		var m struct {
			Manifests []struct{ Platform struct{ Architecture string } }
		}
		json.Unmarshal([]byte(run(t, crane, "--insecure", "manifest", index)), &m)
		for _, c := range m.Manifests {
			plats = append(plats, c.Platform.Architecture)
		}
		if strings.Join(plats, ",") != "amd64,arm64" {
			t.Errorf("published platforms %v, want amd64 and arm64 without the failed optional s390x", plats)
		}
		s390x := rep.Units[0].Targets[2]
		if s390x.Platform != "linux/s390x" || s390x.Status != "build failed" || !s390x.LeftOut {
			t.Errorf("report for s390x: %+v; want build failed and left out", s390x)
		}
		if !regexpLine(out, `linux/s390x\s+build failed \(optional, left out\)`) {
			t.Errorf("the summary does not say s390x was left out:\n%s", out)
		}
		checkHTMLInChromium(t, html, rep)
	})
}

// checkHTMLInChromium renders the report as a person's browser does and
// looks for every platform's status and digest in what it shows.
func checkHTMLInChromium(t *testing.T, html string, rep runReport) {
	t.Helper()
	chromium := testutil.Tool(t, "chromium")
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+html)
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	page := string(dom)
	for _, u := range rep.Units {
		if !strings.Contains(page, u.Name) || !strings.Contains(page, u.Digest[:19]) {
			t.Errorf("the page lacks unit %s or its digest %s", u.Name, u.Digest)
		}
		for _, tr := range u.Targets {
			cell := between(page, `data-platform="`+tr.Platform+`"`, "</td>")
			if cell == "" {
				t.Errorf("no cell for %s", tr.Platform)
				continue
			}
			if !strings.Contains(cell, tr.Status) {
				t.Errorf("%s cell lacks status %q:\n%s", tr.Platform, tr.Status, cell)
			}
			if tr.Digest != "" && !strings.Contains(cell, tr.Digest) {
				t.Errorf("%s cell lacks digest %s", tr.Platform, tr.Digest)
			}
			if tr.Native && !strings.Contains(cell, "native on") || !tr.Native && !strings.Contains(cell, "emulated on") {
				t.Errorf("%s cell does not say native or emulated", tr.Platform)
			}
		}
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}

// flakyRegistry is a reverse proxy that goes down when it sees the index
// being published, until it is brought back.
type flakyRegistry struct {
	down  atomic.Bool
	armed atomic.Bool
	proxy *httputil.ReverseProxy
	repo  string
}

func (f *flakyRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.armed.Load() && r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/"+f.repo+"/manifests/") {
		f.down.Store(true)
	}
	if f.down.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
	}
	f.proxy.ServeHTTP(w, r)
}

func TestReleaseConvergesAfterTheRegistryStopsMidPublish(t *testing.T) {
	// Its own registry; most of its time is the first release waiting out
	// its retries against the stopped one.
	t.Parallel()
	crane := testutil.Tool(t, "crane")
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)
	upstream, _ := url.Parse("http://" + srv.host)
	flaky := &flakyRegistry{proxy: httputil.NewSingleHostReverseProxy(upstream), repo: "app"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: flaky}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	host := ln.Addr().String()

	proj := failingProject(t, host, "FROM "+base+"\nRUN uname -m > /arch\n", "")
	flaky.armed.Store(true)
	out, code, _, _ := release(t, proj)
	if code != 1 {
		t.Fatalf("with the registry gone mid-publish: exit %d, want 1\n%s", code, out)
	}
	if !flaky.down.Load() {
		t.Fatal("the registry never went down: the test proves nothing")
	}
	flaky.armed.Store(false)
	flaky.down.Store(false)

	out, code, rep, _ := release(t, proj)
	if code != 0 || !rep.OK {
		t.Fatalf("rerun: exit %d\n%s", code, out)
	}
	for _, tr := range rep.Units[0].Targets {
		if got := digestFor(t, crane, srv.host+"/app:stable", tr.Platform); got != tr.Digest {
			t.Errorf("after the rerun a %s host gets %s, tested %s", tr.Platform, got, tr.Digest)
		}
	}
	// And a third run changes nothing.
	out, code, rep, _ = release(t, proj)
	if code != 0 || rep.Units[0].Status != "unchanged" {
		t.Errorf("third run: exit %d, status %q\n%s", code, rep.Units[0].Status, out)
	}
}

func TestReleaseWithoutArchTags(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)
	proj := failingProject(t, srv.host, "FROM "+base+"\nRUN uname -m > /arch\n", "")
	out, code, rep, _ := release(t, proj, "--no-arch-tags")
	if code != 0 || !rep.OK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if out, _ := runErr(nil, crane, "--insecure", "ls", srv.host+"/org/app-arm64"); !strings.Contains(out, "NAME_UNKNOWN") && strings.TrimSpace(out) != "" {
		t.Errorf("--no-arch-tags pushed arch-named refs: %s", out)
	}
	tags := run(t, crane, "--insecure", "ls", srv.host+"/app")
	if strings.TrimSpace(tags) != "stable" {
		t.Errorf("tags of the index repository: %q, want only stable", tags)
	}
	for _, tr := range rep.Units[0].Targets {
		if got := digestFor(t, crane, srv.host+"/app:stable", tr.Platform); got != tr.Digest {
			t.Errorf("%s: %s, tested %s", tr.Platform, got, tr.Digest)
		}
	}
}
