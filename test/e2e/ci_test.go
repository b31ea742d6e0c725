package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/polyarch/polyarch/ci"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/registry"
)

// setupAction is the install action the test project's ci: names; act
// replaces it (and actions/checkout) with local stand-ins.
const setupAction = "polyarch/setup-polyarch@c0ffee0000000000000000000000000000c0ffee"

// TestCIWorkflowRunsUnderAct generates the GitHub workflow of a small
// project and runs it with act on this machine, every runner label mapped
// to the host (-P label=-self-hosted): a push to main must publish the
// complete index to the registry, with the secrets given to act as its
// only way in; a pull request must push nothing there and run no job on a
// self-hosted label.
func TestCIWorkflowRunsUnderAct(t *testing.T) {
	act := testutil.Tool(t, "act")
	crane := testutil.Tool(t, "crane")
	testutil.Tool(t, "buildkitd")
	testutil.Tool(t, "runc")
	bin := polyarchBinary(t)

	const user, pass = "ci-robot", "s3cret-pa55"
	reg := testutil.NewRegistry(t, registry.WithHtpasswd(testutil.Htpasswd(t, user, pass)))
	craneEnv := dockerConfigEnv(t, reg.Host, user, pass)

	// The project: one image on linux/amd64 (a hosted label) and
	// linux/arm64 (self-hosted labels), from the busybox root filesystems,
	// so no base image is pulled.
	dir := t.TempDir()
	for arch, deb := range map[string]string{"amd64": "amd64", "arm64": "arm64"} {
		run(t, "cp", "-a", testutil.BusyboxRootfs(t, deb), filepath.Join(dir, "rootfs-"+arch))
	}
	writeFile(t, filepath.Join(dir, "hello.txt"), "hello from polyarch ci\n")
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nARG TARGETARCH\nCOPY rootfs-${TARGETARCH}/ /\nCOPY hello.txt /hello.txt\n")
	prRegistry := "127.0.0.1:" + strconv.Itoa(freePort(t))
	writeFile(t, filepath.Join(dir, "polyarch.yaml"), `registry: `+reg.Host+`
images:
  - name: hello
    repository: ci/hello
    context: .
    platforms: [linux/amd64, linux/arm64]
    version: v1
    test:
      commands:
        - name: says hello
          command: [cat, /hello.txt]
          stdout: ['^hello from polyarch ci$']
ci:
  runners:
    linux/arm64: [self-hosted, linux, ARM64]
  triggers:
    push: [main]
    dispatch: true
  pullRequest: {registry: "`+prRegistry+`"}
  install: {version: dev, action: `+setupAction+`}
  credentials:
    - {username: CI_REGISTRY_USER, password: CI_REGISTRY_PASSWORD}
`)
	out, code := polyarchIn(t, dir, "ci", "generate", "github")
	if code != 0 {
		t.Fatalf("ci generate github: exit %d\n%s", code, out)
	}
	workflow := filepath.Join(dir, ".github", "workflows", "polyarch.yml")
	runsOn := jobLabels(t, workflow)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=ci", "-c", "user.email=ci@example.com"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "the project")

	// Stand-ins for the two actions, which act would otherwise clone from
	// GitHub: the setup action puts the polyarch under test (and the
	// pinned buildkitd) on PATH; act copies the checkout itself.
	actions := t.TempDir()
	setup := filepath.Join(actions, "setup")
	os.MkdirAll(setup, 0o755)
	writeFile(t, filepath.Join(setup, "action.yml"), `name: setup-polyarch stand-in
inputs:
  version: {required: true}
runs:
  using: composite
  steps:
    - shell: bash
      env: {WANT: "${{ inputs.version }}"}
      run: |
        d="$RUNNER_TEMP/polyarch-bin"
        mkdir -p "$d"
        ln -sf `+bin+` "$d/polyarch"
        ln -sf `+testutil.Tool(t, "buildkitd")+` "$d/buildkitd"
        "$d/polyarch" version | grep -q "^polyarch $WANT " || { echo "asked for polyarch $WANT, have $("$d/polyarch" version)" >&2; exit 1; }
        echo "$d" >>"$GITHUB_PATH"
`)
	checkout := filepath.Join(actions, "checkout")
	os.MkdirAll(checkout, 0o755)
	writeFile(t, filepath.Join(checkout, "action.yml"), "name: checkout stand-in\nruns:\n  using: composite\n  steps:\n    - {shell: bash, run: 'test -f polyarch.yaml'}\n")

	// act keeps its caches and each job's RUNNER_TEMP below a short path:
	// the builders' unix sockets must fit in 108 bytes.
	cache, err := os.MkdirTemp("", "act")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(cache) })
	home := filepath.Join(cache, "home")
	os.MkdirAll(home, 0o755)
	actRun := func(t *testing.T, event string, extra ...string) map[string]string {
		t.Helper()
		args := []string{event, "-W", workflow, "--json",
			"--action-cache-path", filepath.Join(cache, "actions"), "--no-cache-server",
			"--local-repository", setupAction + "=" + setup,
			"--local-repository", ci.CheckoutAction + "=" + checkout}
		for _, l := range allLabels(runsOn) {
			args = append(args, "-P", l+"=-self-hosted")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, act, append(args, extra...)...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TMPDIR=" + cache}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		runErr := cmd.Run()
		t.Logf("act %s: %v in %s", event, runErr, time.Since(start).Round(time.Second))
		results := jobResults(stdout.String())
		if strings.Contains(stdout.String()+stderr.String(), pass) {
			t.Errorf("act's log of %s shows the registry password", event)
		}
		// act's JSON log echoes each workflow command's raw argument (the
		// add-mask one too); what a reader sees is the messages.
		auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		if strings.Contains(messages(stdout.String())+stderr.String(), auth) {
			t.Errorf("act's log of %s shows the auth string made from the secrets", event)
		}
		if runErr != nil || t.Failed() {
			t.Logf("act stdout:\n%s\nstderr:\n%s", tail(stdout.String(), 150), tail(stderr.String(), 40))
		}
		return results
	}

	t.Run("push", func(t *testing.T) {
		results := actRun(t, "push", "-s", "CI_REGISTRY_USER="+user, "-s", "CI_REGISTRY_PASSWORD="+pass)
		for _, job := range []string{"release-linux-amd64", "release-linux-arm64", "publish"} {
			if results[job] != "success" {
				t.Errorf("job %s: %q, want success (all results: %v)", job, results[job], results)
			}
		}
		if t.Failed() {
			return
		}
		idx := runEnv(t, craneEnv, crane, "manifest", reg.Host+"/ci/hello:v1")
		var index struct {
			MediaType string `json:"mediaType"`
			Manifests []struct {
				Digest   string `json:"digest"`
				Platform struct {
					Architecture string `json:"architecture"`
				} `json:"platform"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal([]byte(idx), &index); err != nil {
			t.Fatalf("index: %v\n%s", err, idx)
		}
		var archs []string
		for _, m := range index.Manifests {
			archs = append(archs, m.Platform.Architecture)
			got := strings.TrimSpace(runEnv(t, craneEnv, crane, "digest", "--platform", "linux/"+m.Platform.Architecture, reg.Host+"/ci/hello:v1"))
			if got != m.Digest {
				t.Errorf("linux/%s resolves to %s, the index lists %s", m.Platform.Architecture, got, m.Digest)
			}
		}
		slices.Sort(archs)
		if !slices.Equal(archs, []string{"amd64", "arm64"}) {
			t.Errorf("published index has %v, want amd64 and arm64:\n%s", archs, idx)
		}
		if hello := runEnv(t, craneEnv, crane, "export", "--platform", "linux/arm64", reg.Host+"/ci/hello:v1", "-"); !strings.Contains(hello, "hello from polyarch ci") {
			t.Error("the arm64 image lacks /hello.txt")
		}
	})

	t.Run("pull request", func(t *testing.T) {
		before := registryState(t, crane, craneEnv, reg.Host)
		event := filepath.Join(t.TempDir(), "event.json")
		writeFile(t, event, `{"number": 7, "pull_request": {"number": 7, "head": {"ref": "feature", "repo": {"full_name": "someone/fork"}}, "base": {"ref": "main"}}}`)
		results := actRun(t, "pull_request", "-e", event)
		if results["pull-request-linux-amd64"] != "success" {
			t.Errorf("pull-request job: %q, want success (all results: %v)", results["pull-request-linux-amd64"], results)
		}
		for job := range results {
			if slices.Contains(runsOn[job], "self-hosted") {
				t.Errorf("a pull request ran %s on %v", job, runsOn[job])
			}
			if !strings.HasPrefix(job, "pull-request-") {
				t.Errorf("a pull request ran %s (%s)", job, results[job])
			}
		}
		if after := registryState(t, crane, craneEnv, reg.Host); after != before {
			t.Errorf("the pull request changed the registry:\nbefore\n%s\nafter\n%s", before, after)
		}
	})
}

// dockerConfigEnv is the environment of a client logged in to host.
func dockerConfigEnv(t *testing.T, host, user, pass string) []string {
	t.Helper()
	d := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	writeFile(t, filepath.Join(d, "config.json"), `{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`)
	return append(os.Environ(), "DOCKER_CONFIG="+d)
}

// jobLabels reads each job's runs-on labels from a workflow.
func jobLabels(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Jobs map[string]struct {
			RunsOn yaml.Node `yaml:"runs-on"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for id, j := range w.Jobs {
		var ls []string
		if j.RunsOn.Kind == yaml.ScalarNode {
			ls = []string{j.RunsOn.Value}
		} else if err := j.RunsOn.Decode(&ls); err != nil {
			t.Fatalf("job %s runs-on: %v", id, err)
		}
		out[id] = ls
	}
	return out
}

func allLabels(runsOn map[string][]string) []string {
	var out []string
	for _, ls := range runsOn {
		for _, l := range ls {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	slices.Sort(out)
	return out
}

// jobResults reads act's JSON log: each job that ran, and its result
// ("success", "failure"); a job that started but never ended reads "started".
func jobResults(log string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var l struct {
			JobID     string `json:"jobID"`
			JobResult string `json:"jobResult"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.JobID == "" {
			continue
		}
		if l.JobResult != "" {
			out[l.JobID] = l.JobResult
		} else if out[l.JobID] == "" {
			out[l.JobID] = "started"
		}
	}
	return out
}

// messages are the msg fields of act's JSON log.
func messages(log string) string {
	var b strings.Builder
	for _, line := range strings.Split(log, "\n") {
		var l struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &l) == nil {
			b.WriteString(l.Msg + "\n")
		}
	}
	return b.String()
}

// registryState lists every repository, tag and digest of a registry.
func registryState(t *testing.T, crane string, env []string, host string) string {
	t.Helper()
	var b strings.Builder
	for _, repo := range strings.Fields(runEnv(t, env, crane, "catalog", host)) {
		for _, tag := range strings.Fields(runEnv(t, env, crane, "ls", host+"/"+repo)) {
			b.WriteString(repo + ":" + tag + " " + strings.TrimSpace(runEnv(t, env, crane, "digest", host+"/"+repo+":"+tag)) + "\n")
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
