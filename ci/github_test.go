package ci_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/polyarch/polyarch/ci"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/internal/testutil"
)

// project loads a polyarch.yaml written into a temp dir beside a Dockerfile.
func project(t *testing.T, src string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"Dockerfile", "builder_2.3.Dockerfile", "builder_2.4.Dockerfile"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "polyarch.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const setupAction = "polyarch/setup-polyarch@0123456789abcdef0123456789abcdef01234567"

// mixed has a platform of every kind: hosted, self-hosted, emulated, and
// a release branch of one version.
const mixed = `
registry: 127.0.0.1:5000
images:
  - name: agent
    context: .
    platforms: [linux/amd64, linux/arm64, {platform: linux/arm/v7, optional: true}]
  - name: builder
    context: .
    dockerfile: builder_{{.Version}}.Dockerfile
    platforms: [linux/amd64, linux/s390x]
    versions: [{version: "2.3"}, {version: "2.4"}]
ci:
  runners:
    linux/arm64: [self-hosted, linux, ARM64]
    linux/arm/v7: {selfHosted: [linux, ARM64]}
  triggers:
    push: [main, {branch: release-2.4, select: [builder@2.4]}]
    tags: ["v*"]
    release: true
    schedule: "0 3 * * *"
    dispatch: true
  pullRequest: {}
  install: {version: v0.5.0, action: ` + setupAction + `}
  registry: docker.io
  credentials:
    - {username: DOCKERHUB_USERNAME, password: DOCKERHUB_TOKEN}
    - {registry: quay.io, username: QUAY_USER, password: QUAY_TOKEN}
  repository: example/agent
`

type workflow struct {
	On          map[string]any `yaml:"on"`
	Permissions map[string]any `yaml:"permissions"`
	Concurrency struct {
		Group  string `yaml:"group"`
		Cancel string `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Jobs map[string]struct {
		If              string   `yaml:"if"`
		RunsOn          any      `yaml:"runs-on"`
		Needs           []string `yaml:"needs"`
		ContinueOnError bool     `yaml:"continue-on-error"`
		Steps           []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			If   string            `yaml:"if"`
			Env  map[string]string `yaml:"env"`
			With map[string]any    `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func generate(t *testing.T, cfg *config.Config) ([]byte, workflow) {
	t.Helper()
	b, err := ci.GitHub(cfg, ci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatalf("generated workflow is not YAML: %v\n%s", err, b)
	}
	return b, w
}

func labels(runsOn any) []string {
	switch v := runsOn.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}

func TestGitHubWorkflowShape(t *testing.T) {
	cfg := project(t, mixed)
	b, w := generate(t, cfg)

	for _, ev := range []string{"push", "release", "schedule", "workflow_dispatch", "pull_request"} {
		if _, ok := w.On[ev]; !ok {
			t.Errorf("on: lacks %s", ev)
		}
	}
	for ev := range w.On {
		if ev == "pull_request_target" || strings.Contains(ev, "comment") {
			t.Errorf("on: has %s, which runs with secrets for anyone", ev)
		}
	}
	push := w.On["push"].(map[string]any)
	if !slices.Equal(labels(push["branches"]), []string{"main", "release-2.4"}) || !slices.Equal(labels(push["tags"]), []string{"v*"}) {
		t.Errorf("on.push %v", push)
	}
	if len(w.Permissions) != 1 || w.Permissions["contents"] != "read" {
		t.Errorf("permissions %v, want contents: read only", w.Permissions)
	}
	if !strings.Contains(w.Concurrency.Group, "github.ref") || !strings.Contains(w.Concurrency.Cancel, "pull_request") {
		t.Errorf("concurrency %+v: want one group per ref, cancelling only pull requests", w.Concurrency)
	}

	releases := []string{"release-linux-amd64", "release-linux-arm64", "release-linux-arm-v7", "release-linux-s390x"}
	wantRunsOn := map[string][]string{
		"release-linux-amd64":  {"ubuntu-24.04"},
		"release-linux-arm64":  {"self-hosted", "linux", "ARM64"},
		"release-linux-arm-v7": {"self-hosted", "linux", "ARM64"},
		"release-linux-s390x":  {"ubuntu-24.04"},
	}
	builderDirs := map[string]bool{}
	for _, id := range releases {
		j, ok := w.Jobs[id]
		if !ok {
			t.Fatalf("no job %s among %v", id, keys(w.Jobs))
		}
		if got := labels(j.RunsOn); !slices.Equal(got, wantRunsOn[id]) {
			t.Errorf("%s runs on %v, want %v", id, got, wantRunsOn[id])
		}
		plat := strings.ReplaceAll(strings.TrimPrefix(id, "release-"), "-", "/")
		var script string
		for _, s := range j.Steps {
			if strings.Contains(s.Run, "polyarch release") {
				script = s.Run
			}
		}
		cmd := regexp.MustCompile(`polyarch release -f polyarch\.yaml --platform ` + regexp.QuoteMeta(plat) + ` --builder-dir ("\$RUNNER_TEMP/[^"]+") --registry docker\.io "\$@"`).FindStringSubmatch(script)
		if cmd == nil {
			t.Errorf("%s does not release %s with its own builder:\n%s", id, plat, script)
			continue
		}
		if builderDirs[cmd[1]] {
			t.Errorf("%s shares builder dir %s", id, cmd[1])
		}
		builderDirs[cmd[1]] = true
	}
	if !w.Jobs["release-linux-arm-v7"].ContinueOnError || w.Jobs["release-linux-amd64"].ContinueOnError {
		t.Errorf("only the optional arm/v7 job may fail without failing the run")
	}
	pub := w.Jobs["publish"]
	if !slices.Equal(pub.Needs, releases) {
		t.Errorf("publish needs %v, want %v", pub.Needs, releases)
	}
	if last := pub.Steps[len(pub.Steps)-1].Run; !strings.Contains(last, `polyarch publish -f polyarch.yaml --require-publish --registry docker.io "$@"`) {
		t.Errorf("publish runs\n%s", last)
	}

	// Pull requests: hosted runners only (self-hosted platforms skipped by
	// default), a registry inside the job, no secrets.
	var prJobs []string
	for id, j := range w.Jobs {
		if !strings.HasPrefix(id, "pull-request-") {
			continue
		}
		prJobs = append(prJobs, id)
		if got := labels(j.RunsOn); !slices.Equal(got, []string{"ubuntu-24.04"}) {
			t.Errorf("%s runs on %v", id, got)
		}
		if !strings.Contains(string(mustYAML(t, j)), "--registry 127.0.0.1:5000") {
			t.Errorf("%s does not push to the job's own registry", id)
		}
	}
	slices.Sort(prJobs)
	if want := []string{"pull-request-linux-amd64", "pull-request-linux-s390x"}; !slices.Equal(prJobs, want) {
		t.Errorf("pull-request jobs %v, want %v (self-hosted platforms skipped)", prJobs, want)
	}

	// Every job that is not a pull-request job admits trusted events only,
	// in this repository only; secrets appear in those jobs alone.
	const trusted = "github.repository == 'example/agent' && (github.event_name == 'push' || github.event_name == 'release' || github.event_name == 'schedule' || github.event_name == 'workflow_dispatch')"
	for id, j := range w.Jobs {
		raw := string(mustYAML(t, j))
		self := slices.Contains(labels(j.RunsOn), "self-hosted")
		if strings.HasPrefix(id, "pull-request-") {
			if self || strings.Contains(raw, "secrets.") {
				t.Errorf("pull-request job %s is self-hosted or uses secrets", id)
			}
			continue
		}
		if j.If != trusted {
			t.Errorf("%s has if: %s\nwant %s", id, j.If, trusted)
		}
	}

	// Actions are pinned to commits.
	for _, m := range regexp.MustCompile(`uses: (\S+)`).FindAllStringSubmatch(string(b), -1) {
		if !regexp.MustCompile(`@[0-9a-f]{40}$`).MatchString(m[1]) {
			t.Errorf("action %s is not pinned to a commit", m[1])
		}
	}
	if fs, err := ci.Check("polyarch.yml", b); err != nil || len(fs) > 0 {
		t.Errorf("ci check of the generated workflow: %v %v", fs, err)
	}
	again, _ := generate(t, cfg)
	if !bytes.Equal(b, again) {
		t.Error("generating twice gave different bytes")
	}
	actionlint(t, b)
}

func TestGitHubPullRequestsEmulateSelfHostedPlatforms(t *testing.T) {
	cfg := project(t, strings.Replace(mixed, "pullRequest: {}", "pullRequest: {selfHosted: emulate, branches: [main], registry: '127.0.0.1:5999'}", 1))
	b, w := generate(t, cfg)
	j, ok := w.Jobs["pull-request-linux-arm64"]
	if !ok {
		t.Fatalf("no pull-request job for arm64: %v", keys(w.Jobs))
	}
	if got := labels(j.RunsOn); !slices.Equal(got, []string{"ubuntu-24.04"}) {
		t.Errorf("arm64 pull requests run on %v, want the hosted x86 runner", got)
	}
	if !strings.Contains(string(mustYAML(t, j)), "--registry 127.0.0.1:5999") {
		t.Error("the pull request's registry is not the configured one")
	}
	if got := labels(w.On["pull_request"].(map[string]any)["branches"]); !slices.Equal(got, []string{"main"}) {
		t.Errorf("pull_request branches %v", got)
	}
	actionlint(t, b)
}

// The scripts do what they say when run: the selection of a release
// branch, and a login that writes the Docker config and prints no secret.
func TestGitHubScriptsRun(t *testing.T) {
	bash := testutil.Tool(t, "bash")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prRegistry := ln.Addr().String()
	ln.Close()
	_, w := generate(t, project(t, strings.Replace(mixed, "pullRequest: {}", "pullRequest: {registry: '"+prRegistry+"'}", 1)))
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	// The fake polyarch records its arguments; its registry serve is this
	// test binary answering /v2/ (TestHelperRegistry).
	fake := "#!/bin/sh\nif [ \"$1 $2\" = \"registry serve\" ]; then exec env POLYARCH_HELPER_REGISTRY=1 " + os.Args[0] + " -test.run=TestHelperRegistry -- \"$@\"; fi\necho \"$*\" >>" + calls + "\n"
	if err := os.WriteFile(filepath.Join(bin, "polyarch"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	runStep := func(t *testing.T, job, step string, env ...string) (stdout string, tmp string) {
		t.Helper()
		var script string
		for _, s := range w.Jobs[job].Steps {
			if s.Name == step {
				script = s.Run
				for k, v := range s.Env {
					// ${{ secrets.X }} is what GitHub fills in; here the test does.
					env = append(env, k+"="+strings.TrimSuffix(strings.TrimPrefix(v, "${{ secrets."), " }}")+"-value")
				}
			}
		}
		if script == "" {
			t.Fatalf("job %s has no step %q", job, step)
		}
		tmp = t.TempDir()
		os.Remove(calls)
		cmd := exec.Command(bash, "-e", "-o", "pipefail", "-c", script)
		cmd.Env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH"), "RUNNER_TEMP=" + tmp, "GITHUB_ENV=" + filepath.Join(tmp, "github-env")}, env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s / %s: %v\n%s%s", job, step, err, out.String(), errOut.String())
		}
		return out.String() + errOut.String(), tmp
	}
	called := func() string {
		b, _ := os.ReadFile(calls)
		return strings.TrimSpace(string(b))
	}

	t.Run("a push to main releases everything", func(t *testing.T) {
		runStep(t, "release-linux-s390x", "Release linux/s390x", "GITHUB_EVENT_NAME=push", "GITHUB_REF=refs/heads/main")
		if got := called(); !strings.HasPrefix(got, "release -f polyarch.yaml --platform linux/s390x --builder-dir ") || !strings.HasSuffix(got, "--registry docker.io") {
			t.Errorf("polyarch %s", got)
		}
	})
	t.Run("a push to a release branch releases its version", func(t *testing.T) {
		runStep(t, "release-linux-s390x", "Release linux/s390x", "GITHUB_EVENT_NAME=push", "GITHUB_REF=refs/heads/release-2.4")
		if got := called(); !strings.HasSuffix(got, "--registry docker.io builder@2.4") {
			t.Errorf("polyarch %s", got)
		}
	})
	t.Run("a manual run on a release branch releases its version", func(t *testing.T) {
		runStep(t, "release-linux-s390x", "Release linux/s390x", "GITHUB_EVENT_NAME=workflow_dispatch", "GITHUB_REF=refs/heads/release-2.4")
		if got := called(); !strings.HasSuffix(got, "--registry docker.io builder@2.4") {
			t.Errorf("polyarch %s", got)
		}
	})
	t.Run("the schedule releases everything", func(t *testing.T) {
		runStep(t, "release-linux-s390x", "Release linux/s390x", "GITHUB_EVENT_NAME=schedule", "GITHUB_REF=refs/heads/release-2.4")
		if got := called(); !strings.HasSuffix(got, "--registry docker.io") {
			t.Errorf("polyarch %s", got)
		}
	})
	t.Run("a platform the branch's version lacks does nothing", func(t *testing.T) {
		out, _ := runStep(t, "release-linux-arm64", "Release linux/arm64", "GITHUB_EVENT_NAME=push", "GITHUB_REF=refs/heads/release-2.4")
		if got := called(); got != "" {
			t.Errorf("polyarch ran: %s", got)
		}
		if !strings.Contains(out, "builder@2.4 builds no linux/arm64") {
			t.Errorf("printed %q", out)
		}
	})
	t.Run("a pull request into the release branch builds its version", func(t *testing.T) {
		runStep(t, "pull-request-linux-s390x", "Build and test linux/s390x", "GITHUB_EVENT_NAME=pull_request", "GITHUB_BASE_REF=release-2.4")
		if got := called(); !strings.Contains(got, "--platform linux/s390x --registry "+prRegistry+" --builder-dir ") || !strings.HasSuffix(got, " builder@2.4") {
			t.Errorf("polyarch %s", got)
		}
	})
	t.Run("login", func(t *testing.T) {
		out, tmp := runStep(t, "publish", "Log in to docker.io, quay.io")
		for _, secret := range []string{"DOCKERHUB_TOKEN-value", "QUAY_TOKEN-value", "DOCKERHUB_USERNAME-value"} {
			if strings.Contains(out, secret) {
				t.Errorf("the login printed %s:\n%s", secret, out)
			}
		}
		env, _ := os.ReadFile(filepath.Join(tmp, "github-env"))
		if string(env) != "DOCKER_CONFIG="+tmp+"/polyarch-docker\n" {
			t.Errorf("GITHUB_ENV got %q", env)
		}
		p := filepath.Join(tmp, "polyarch-docker", "config.json")
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("config.json mode %v", st.Mode().Perm())
		}
		var dc struct {
			Auths map[string]struct{ Auth string } `json:"auths"`
		}
		b, _ := os.ReadFile(p)
		if err := json.Unmarshal(b, &dc); err != nil {
			t.Fatalf("config.json: %v\n%s", err, b)
		}
		for reg, want := range map[string]string{
			"https://index.docker.io/v1/": "DOCKERHUB_USERNAME-value:DOCKERHUB_TOKEN-value",
			"quay.io":                     "QUAY_USER-value:QUAY_TOKEN-value",
		} {
			got, _ := base64.StdEncoding.DecodeString(dc.Auths[reg].Auth)
			if string(got) != want {
				t.Errorf("auth of %s is %q, want %q", reg, got, want)
			}
			if !strings.Contains(out, "::add-mask::"+dc.Auths[reg].Auth) {
				t.Errorf("the auth string of %s is not masked", reg)
			}
		}
	})
	t.Run("a missing secret is named", func(t *testing.T) {
		var script string
		for _, s := range w.Jobs["publish"].Steps {
			if strings.HasPrefix(s.Name, "Log in") {
				script = s.Run
			}
		}
		cmd := exec.Command(bash, "-e", "-c", script)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "RUNNER_TEMP=" + t.TempDir(), "GITHUB_ENV=/dev/null", "REGISTRY_USERNAME_1=u"}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "secrets DOCKERHUB_USERNAME and DOCKERHUB_TOKEN must be set for docker.io") {
			t.Errorf("login without a password: %v\n%s", err, out)
		}
	})
}

// TestHelperRegistry is the fake polyarch's registry serve: it answers
// every request with 200 on the --addr it is given, until killed.
func TestHelperRegistry(t *testing.T) {
	if os.Getenv("POLYARCH_HELPER_REGISTRY") != "1" {
		t.Skip("helper process of TestGitHubScriptsRun")
	}
	args := os.Args
	addr := args[slices.Index(args, "--addr")+1]
	t.Fatal(http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
}

func TestGitHubNeedsACISection(t *testing.T) {
	cfg := project(t, "images: [{name: a, context: ., platforms: [linux/amd64]}]\n")
	if _, err := ci.GitHub(cfg, ci.Options{}); err == nil || !strings.Contains(err.Error(), "polyarch.yaml has no ci: section") {
		t.Errorf("error %v", err)
	}
}

// actionlint checks a generated workflow with actionlint (and shellcheck,
// which actionlint runs on every script when it is on PATH).
func actionlint(t *testing.T, b []byte) {
	t.Helper()
	bin := testutil.Tool(t, "actionlint")
	dir := t.TempDir()
	p := filepath.Join(dir, ".github", "workflows", "polyarch.yml")
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-no-color", p}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		args = append([]string{"-shellcheck", sc}, args...)
	} else if testutil.E2E() {
		t.Fatal("shellcheck not on PATH: scripts/setup.sh installs it")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("actionlint: %v\n%s", err, out)
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
