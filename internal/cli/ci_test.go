package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/ci"
)

// ciProject writes a polyarch.yaml with a ci: section and returns its path.
func ciProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\n")
	writeFile(t, filepath.Join(dir, "polyarch.yaml"), `registry: 127.0.0.1:5000
images:
  - name: agent
    context: .
    platforms: [linux/amd64, linux/arm64]
ci:
  runners:
    linux/amd64: {agent: amd64}
    linux/arm64: {selfHosted: [ARM64], agent: arm64}
  triggers: {push: [main], schedule: "0 3 * * *"}
  install: {version: v0.5.0, action: polyarch/setup-polyarch@0123456789abcdef0123456789abcdef01234567}
  jenkins: {git: https://example.com/agent.git}
`)
	return filepath.Join(dir, "polyarch.yaml")
}

func TestCIGenerateWritesChecksAndRefuses(t *testing.T) {
	cfg := ciProject(t)
	dir := filepath.Dir(cfg)
	workflow := filepath.Join(dir, ".github", "workflows", "polyarch.yml")

	out, errOut, code := polyarch(t, "ci", "generate", "github", "-f", cfg)
	if code != 0 || out != "wrote "+workflow+"\n" {
		t.Fatalf("first generate: exit %d, %q %q", code, out, errOut)
	}
	first, _ := os.ReadFile(workflow)
	if out, _, code := polyarch(t, "ci", "generate", "github", "-f", cfg); code != 0 || out != workflow+" unchanged\n" {
		t.Errorf("second generate: exit %d, %q", code, out)
	}
	if out, _, code := polyarch(t, "ci", "generate", "github", "-f", cfg, "--check"); code != 0 || out != workflow+" is up to date\n" {
		t.Errorf("--check of a current file: exit %d, %q", code, out)
	}
	stdout, _, code := polyarch(t, "ci", "generate", "github", "-f", cfg, "-o", "-")
	if code != 0 || stdout != string(first) {
		t.Errorf("-o - printed something else (exit %d)", code)
	}

	os.WriteFile(workflow, append(first, "# edited\n"...), 0o644)
	out, errOut, code = polyarch(t, "ci", "generate", "github", "-f", cfg, "--check")
	if code != 1 || !strings.Contains(errOut, workflow+" is out of date with polyarch.yaml; run: polyarch ci generate github -f "+cfg) {
		t.Errorf("--check of an edited file: exit %d, %q %q", code, out, errOut)
	}
	if b, _ := os.ReadFile(workflow); string(b) == string(first) {
		t.Error("--check rewrote the file")
	}
	os.Remove(workflow)
	if _, errOut, code := polyarch(t, "ci", "generate", "github", "-f", cfg, "--check"); code != 1 || !strings.Contains(errOut, workflow+" does not exist") {
		t.Errorf("--check of a missing file: exit %d, %q", code, errOut)
	}

	// Jenkins goes to jenkins/polyarch.yaml; a root that does not hold the
	// config is a usage error.
	if out, _, code := polyarch(t, "ci", "generate", "jenkins", "-f", cfg); code != 0 || out != "wrote "+filepath.Join(dir, "jenkins", "polyarch.yaml")+"\n" {
		t.Errorf("generate jenkins: exit %d, %q", code, out)
	}
	if _, errOut, code := polyarch(t, "ci", "generate", "github", "-f", cfg, "--root", t.TempDir()); code != 2 || !strings.Contains(errOut, "does not contain "+cfg) {
		t.Errorf("--root elsewhere: exit %d, %q", code, errOut)
	}
	if _, _, code := polyarch(t, "ci", "generate", "github", "extra"); code != 2 {
		t.Errorf("an argument: exit %d, want 2", code)
	}
}

func TestCIGenerateInASubdirectory(t *testing.T) {
	cfg := ciProject(t)
	root := filepath.Dir(filepath.Dir(cfg))
	out, errOut, code := polyarch(t, "ci", "generate", "github", "-f", cfg, "--root", root, "-o", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := "polyarch release -f " + filepath.Base(filepath.Dir(cfg)) + "/polyarch.yaml --platform linux/amd64"; !strings.Contains(out, want) {
		t.Errorf("jobs do not find the config below the root: want %q in\n%s", want, out)
	}
}

func TestCICheck(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, errOut, code := polyarch(t, "ci", "check"); code != 1 || !strings.Contains(errOut, "no workflow files match") {
		t.Errorf("no workflows: exit %d, %q", code, errOut)
	}
	writeFile(t, filepath.Join(dir, "bad.yml"), `on: pull_request
jobs:
  build:
    runs-on: [self-hosted, ARM64]
    steps:
      - uses: docker/login-action@v3
`)
	out, errOut, code := polyarch(t, "ci", "check", "bad.yml")
	if code != 1 || !strings.Contains(errOut, "3 finding(s)") {
		t.Errorf("exit %d, %q", code, errOut)
	}
	for _, want := range []string{"bad.yml:3:3: job build: no permissions", "bad.yml:4:14: job build: runs on a self-hosted runner", "bad.yml:6:15: job build: uses third-party docker/login-action", "fix: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = polyarch(t, "ci", "check", "bad.yml", "--json")
	var fs []ci.Finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil || code != 1 || len(fs) != 3 {
		t.Fatalf("--json: exit %d, %v, %q", code, err, out)
	}
	if fs[1].Rule != ci.SelfHostedUntrusted || fs[1].Line != 4 || fs[1].Job != "build" {
		t.Errorf("second finding %+v", fs[1])
	}

	// The default: every workflow of .github/workflows; a generated one is clean.
	cfg := ciProject(t)
	gen, _, _ := polyarch(t, "ci", "generate", "github", "-f", cfg, "-o", "-")
	os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755)
	writeFile(t, filepath.Join(dir, ".github", "workflows", "polyarch.yml"), gen)
	if out, errOut, code := polyarch(t, "ci", "check"); code != 0 || out != "no findings\n" {
		t.Errorf("generated workflow: exit %d, %q %q", code, out, errOut)
	}
	if out, _, code := polyarch(t, "ci", "check", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("--json with no findings: exit %d, %q", code, out)
	}
	writeFile(t, filepath.Join(dir, "broken.yml"), "on: [push\n")
	if _, errOut, code := polyarch(t, "ci", "check", "broken.yml"); code != 1 || !strings.Contains(errOut, "broken.yml") {
		t.Errorf("not YAML: exit %d, %q", code, errOut)
	}
	if _, _, code := polyarch(t, "ci", "check", "--bogus"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
}
