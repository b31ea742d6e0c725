package e2e

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polyarch/polyarch/internal/testutil"
)

// goImage publishes the Go toolchain image the builder example builds FROM
// (host/base/go:<version>), as the quick start does.
func goImage(t *testing.T, host string) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(testutil.RepoRoot(), "scripts", "go-image.sh"), host)
	cmd.Env = append(os.Environ(), "POLYARCH="+polyarchBinary(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/go-image.sh: %v\n%s", err, out)
	}
}

// upstreamFixture makes the builder example's upstream repositories in
// example/.polyarch/fixture, as the quick start does.
func upstreamFixture(t *testing.T, example string) {
	t.Helper()
	testutil.Tool(t, "git")
	if out, err := exec.Command("bash", filepath.Join(testutil.RepoRoot(), "scripts", "upstream-fixture.sh"), example).CombinedOutput(); err != nil {
		t.Fatalf("scripts/upstream-fixture.sh: %v\n%s", err, out)
	}
}

// prepareBuilderExample readies examples/builder for a release against
// host: its Go toolchain image and its upstream repositories.
func prepareBuilderExample(t *testing.T, host string) {
	t.Helper()
	goImage(t, host)
	upstreamFixture(t, filepath.Join(testutil.RepoRoot(), "examples", "builder"))
}

// copyExample copies examples/NAME, without its state, to a temp dir.
func copyExample(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(testutil.RepoRoot(), "examples", name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && (rel == ".polyarch" || rel == ".github") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, _ := d.Info()
		return os.WriteFile(filepath.Join(dst, rel), b, st.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

type jobReport struct {
	OK    bool
	Units []struct {
		Name    string
		Targets []struct {
			Platform, Ref string
			Tests         []struct {
				Kind, Name, Message, Log string
				Passed                   bool
			}
		}
	}
}

func readJobReport(t *testing.T, path string) jobReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r jobReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// The builder example as Maistra works: a new version from the last one,
// aligned to a new upstream branch in one command, then released: built
// for four platforms (its Go tools cross-compiled), and tested by a job
// that builds a program inside the new builder on each platform.
func TestBuilderExampleNewVersionAndItsJob(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	builder := localBuilder(t)
	srv := startServe(t)
	testutil.Busybox(t, srv.host)
	goImage(t, srv.host)
	proj := copyExample(t, "builder")
	upstreamFixture(t, proj)
	cfg := filepath.Join(proj, "polyarch.yaml")
	before, _ := os.ReadFile(cfg)

	out, code := polyarchIn(t, proj, "drift")
	if code != 0 || !strings.Contains(out, "builder@2.4: no drift") {
		t.Fatalf("drift of the example: exit %d\n%s", code, out)
	}

	out, code = polyarchIn(t, proj, "versions", "add", "3.3", "--from", "2.4", "--upstream-ref", "release-2.2")
	if code != 0 {
		t.Fatalf("versions add: exit %d\n%s", code, out)
	}
	for _, line := range []string{
		`^added builder@3\.3 from 2\.4: maistra-builder_3\.3\.Dockerfile$`,
		`^  KIND_VERSION\s+v0\.17\.0 -> v0\.20\.0\s+maistra-builder_3\.3\.Dockerfile:21\s+\(upstream \.polyarch/fixture/istio-tools\.git@release-2\.2:docker/build-tools/Dockerfile:6\)$`,
		`^  HELM_VERSION\s+v3\.10\.2 -> v3\.12\.3\s+`,
		`^  PROTOC_VERSION\s+21\.9 -> 24\.4\s+`,
		`^  BAZEL_VERSION\s+6\.0\.0 -> 6\.3\.2\s+maistra-builder_3\.3\.Dockerfile:24\s+\(upstream \.polyarch/fixture/istio-proxy\.git@release-2\.2:\.bazelversion:1\)$`,
		`^note: upstream has golangci-lint v1\.54\.2 \(.+:9\) and 2\.4 does not: add it if the image needs it$`,
	} {
		if !regexpLine(out, line) {
			t.Errorf("versions add printed no line %s:\n%s", line, out)
		}
	}
	after, _ := os.ReadFile(cfg)
	added := "      - version: \"3.3\"\n" +
		"        args: {MAISTRA_BRANCH: \"3.3\", ISTIO_VERSION: \"1.16\", ENVOY_VERSION: \"1.24\"}\n" +
		"        upstream:\n" +
		"          dockerfile: {git: .polyarch/fixture/istio-tools.git, ref: release-2.2, path: docker/build-tools/Dockerfile}\n" +
		"          files: [{git: .polyarch/fixture/istio-proxy.git, ref: release-2.2, path: .bazelversion}]\n"
	if i := strings.Index(string(after), added); i < 0 || string(after[:i])+string(after[i+len(added):]) != string(before) {
		t.Errorf("polyarch.yaml is not the original plus the new entry:\n%s", after)
	}

	tmp := t.TempDir()
	report := filepath.Join(tmp, "run.json")
	out, code = polyarchIn(t, proj, "release", "builder@3.3", "--builder-dir", builder, "--registry", srv.host, "--quiet-build",
		"--log-dir", filepath.Join(tmp, "logs"), "--report", report, "--html", filepath.Join(tmp, "run.html"))
	rep := readJobReport(t, report)
	if code != 0 || !rep.OK || len(rep.Units) != 1 || rep.Units[0].Name != "builder@3.3" {
		t.Fatalf("release builder@3.3: exit %d\n%s", code, out)
	}
	ran := map[string]bool{}
	for _, tr := range rep.Units[0].Targets {
		for _, tc := range tr.Tests {
			if tc.Kind != "job" {
				continue
			}
			log, _ := os.ReadFile(tc.Log)
			want := "istio hello: built and run by go1.26.8 on " + tr.Platform
			if !tc.Passed || tc.Name != "build upstream istio" || !strings.Contains(string(log), want) {
				t.Errorf("%s: job %+v; its log (%s) lacks %q:\n%s", tr.Platform, tc, tc.Log, want, log)
			}
			ran[tr.Platform] = true
		}
	}
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x"} {
		if !ran[p] {
			t.Errorf("no job ran on %s", p)
		}
	}
	got := exportFile(t, crane, srv.host+"/maistra/maistra-builder:3.3-s390x", "etc/maistra-builder/versions")
	for _, w := range []string{"maistra-builder 3.3 ", "bazel=6.3.2", "kind=v0.20.0", "helm=v3.12.3", "protoc=24.4", "built-on=s390x"} {
		if !strings.Contains(got, w) {
			t.Errorf("3.3's s390x versions file lacks %q: %q", w, got)
		}
	}
	out, code = polyarchIn(t, proj, "drift", "builder@3.3")
	if code != 1 || !regexpLine(out, `^golangci-lint\s+-\s+v1\.54\.2\s+only upstream`) || !strings.Contains(out, "builder@3.3: drift (1 only upstream, 2 only ours, 5 same)") {
		t.Errorf("drift after versions add: exit %d\n%s", code, out)
	}
}

// A job that fails fails its platform, its log's tail in the report and in
// JUnit; a job past its timeout is stopped.
func TestJobFailureAndTimeout(t *testing.T) {
	// Its own registry and project; it waits out a job's 5s timeout.
	t.Parallel()
	builder := localBuilder(t)
	srv := startServe(t)
	testutil.Busybox(t, srv.host)
	proj := project(t, map[string]string{
		"Dockerfile": "ARG POLYARCH_REGISTRY\nFROM ${POLYARCH_REGISTRY}/base/busybox:latest\n",
		"src/test.sh": "echo testing on $(uname -m) in $PWD\ni=0\nwhile [ $i -lt 40 ]; do echo \"ok step $i\"; i=$((i+1)); done\n" +
			"echo 'FAIL: TestVersion: want 1.4, got 1.3' >&2\necho FAIL\nexit 2\n",
		"src/build.sh": "echo built > out.txt && cat out.txt && ls /work/src/build.sh\n",
		"polyarch.yaml": `registry: ` + srv.host + `
images:
  - name: app
    context: .
    platforms: [linux/amd64, linux/arm64]
    version: "1.0"
    test:
      arch: false
      jobs:
        - {name: build, dir: src, workdir: /work/src, shell: sh build.sh}
        - {name: make test, dir: src, shell: sh test.sh}
        - {name: hangs, dir: src, command: [sleep, "3141"], timeout: 5s}
`,
	})
	tmp := t.TempDir()
	report := filepath.Join(tmp, "run.json")
	start := time.Now()
	out, code := polyarchIn(t, proj, "release", "--builder-dir", builder, "--quiet-build", "--log-dir", filepath.Join(tmp, "logs"),
		"--report", report, "--html", filepath.Join(tmp, "run.html"))
	took := time.Since(start)
	if code != 1 {
		t.Fatalf("release with a failing job: exit %d\n%s", code, out)
	}
	if took > 5*time.Minute {
		t.Errorf("release took %s: the 5s timeout did not stop the job", took)
	}
	if ps, _ := exec.Command("pgrep", "-f", "sleep 3141").Output(); len(strings.TrimSpace(string(ps))) > 0 {
		t.Errorf("the timed-out job still runs: pids %s", ps)
	}
	rep := readJobReport(t, report)
	if rep.OK || len(rep.Units) != 1 || len(rep.Units[0].Targets) != 2 {
		t.Fatalf("report %+v\n%s", rep, out)
	}
	for _, tr := range rep.Units[0].Targets {
		byName := map[string]int{}
		for i, tc := range tr.Tests {
			byName[tc.Name] = i
		}
		build, test, hangs := tr.Tests[byName["build"]], tr.Tests[byName["make test"]], tr.Tests[byName["hangs"]]
		if !build.Passed {
			t.Errorf("%s: the build job: %+v", tr.Platform, build)
		}
		if test.Passed || !strings.HasPrefix(test.Message, "exit status 2\n--- last lines of ") ||
			// A shell job's stderr is joined to its stdout, in order.
			!strings.HasSuffix(test.Message, "\nok step 39\nFAIL: TestVersion: want 1.4, got 1.3\nFAIL\n# exit status 2") ||
			strings.Contains(test.Message, "ok step 10\n") {
			t.Errorf("%s: the failing job's message is not its log's tail:\n%s", tr.Platform, test.Message)
		}
		log, _ := os.ReadFile(test.Log)
		if !strings.Contains(string(log), "testing on "+map[string]string{"linux/amd64": "x86_64", "linux/arm64": "aarch64"}[tr.Platform]+" in /src\n") || !strings.Contains(string(log), "ok step 0\n") {
			t.Errorf("%s: the whole log %s:\n%s", tr.Platform, test.Log, log)
		}
		if hangs.Passed || !strings.HasPrefix(hangs.Message, "timed out after 5s: stopped") {
			t.Errorf("%s: the job past its timeout: %+v", tr.Platform, hangs)
		}
	}
	if !strings.Contains(out, "tests failed: job: make test: exit status 2") {
		t.Errorf("release's summary does not name the failing job:\n%s", out)
	}

	// polyarch test of the pushed images: the same results, the failing
	// job's tail on the console, and in JUnit.
	junit := filepath.Join(tmp, "junit.xml")
	out, code = polyarchIn(t, proj, "test", "--builder-dir", builder, "--junit", junit)
	if !regexpLine(out, `^FAIL linux/arm64 job: make test `) || !strings.Contains(out, "  ok step 39\n  FAIL: TestVersion: want 1.4, got 1.3\n  FAIL\n") {
		t.Errorf("polyarch test does not show the failing job's log tail:\n%s", out)
	}
	x, _ := os.ReadFile(junit)
	if code != 1 || !strings.Contains(string(x), `<testcase name="job: make test"`) || !strings.Contains(string(x), "FAIL: TestVersion: want 1.4, got 1.3") ||
		!strings.Contains(string(x), `<failure message="timed out after 5s: stopped"`) {
		t.Errorf("polyarch test --junit: exit %d\n%s\n%s", code, out, x)
	}
}
