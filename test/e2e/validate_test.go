package e2e

// Mistakes in polyarch.yaml and on the command line are found before
// anything is built or pushed. These tests need no BuildKit: every platform
// is native on a builder at an address nothing listens on, so a command that
// got past its checks would fail with a connection error instead.

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validateProject writes a project whose only builder is unreachable; image
// is the YAML of images[0] after its name, context and platforms (6 spaces
// of indent below "images:"), and is written from line 10 on.
func validateProject(t *testing.T, image string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\n")
	yaml := fmt.Sprintf(`registry: 127.0.0.1:%d
builders:
  - name: far
    address: tcp://127.0.0.1:%d
    platforms: [linux/amd64, linux/arm64]
images:
  - name: agent
    context: .
    platforms: [linux/amd64, linux/arm64]
%s`, freePort(t), freePort(t), image)
	p := filepath.Join(dir, "polyarch.yaml")
	writeFile(t, p, yaml)
	return p
}

// polyarchTimed runs the polyarch binary with a deadline, returning its
// combined output, exit status and how long it took.
func polyarchTimed(t *testing.T, args ...string) (string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, polyarchBinary(t), args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("polyarch %v did not return in a minute:\n%s", args, out)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode(), took
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0, took
}

func TestMistakesFoundBeforeAnythingIsBuilt(t *testing.T) {
	cases := []struct {
		name, image string
		want        []string
	}{
		{"a typo in a test spec", `    version: "1.4"
    test:
      comands:
        - {name: version, command: [agent, --version]}
`, []string{"polyarch.yaml: line 12: field comands not found"}},
		{"a tag the registry refuses", `    version: "1.4"
    tags: [latest, -bad]
`, []string{"polyarch.yaml:11: images[0].tags[1]", "image agent", "version 1.4", `tag "-bad"`}},
		{"an archRef bad on one platform", `    version: "1.4"
    archRef: 'agent:{{if eq .Arch "arm64"}}-{{end}}{{.Arch}}'
`, []string{"polyarch.yaml:11: images[0].archRef", "platform linux/arm64", ":-arm64"}},
		{"a tag template that would fill memory", `    tags: ['{{range 100000000}}aaaa{{end}}']
`, []string{"polyarch.yaml:10: images[0].tags[0]", "{{range}} is not allowed"}},
		{"an archRef template that would never end", `    archRef: 'agent-{{.Arch}}:{{range 3000000000}}{{end}}'
`, []string{"polyarch.yaml:10: images[0].archRef", "{{range}} is not allowed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := validateProject(t, tc.image)
			for _, args := range [][]string{
				{"release", "--dry-run", "-f", file},
				{"release", "-f", file, "--builder-dir", t.TempDir(), "--log-dir", t.TempDir(), "--html", filepath.Join(t.TempDir(), "r.html")},
				{"build", "-f", file, "--builder-dir", t.TempDir(), "--log-dir", t.TempDir()},
			} {
				out, code, took := polyarchTimed(t, args...)
				if code != 1 {
					t.Errorf("polyarch %s: exit %d, want 1\n%s", args[0], code, out)
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("polyarch %v: output lacks %q:\n%s", args[:2], w, out)
					}
				}
				// The builder was never dialled: nothing was built.
				if strings.Contains(out, "connection refused") || strings.Contains(out, "127.0.0.1:") && strings.Contains(out, "dial") {
					t.Errorf("polyarch %v contacted the builder:\n%s", args[:2], out)
				}
				if took > 10*time.Second {
					t.Errorf("polyarch %v took %v", args[:2], took)
				}
			}
		})
	}
}

// The same project without the mistake passes the dry run, which contacts
// no builder either: the test above fails for the mistake, not the builder.
func TestDryRunOfAValidProject(t *testing.T) {
	file := validateProject(t, `    version: "1.4"
    tags: ['{{trimPrefix "v" .Version}}', latest]
    archRef: 'agent-{{.Arch | upper | lower}}:{{.Version}}'
    test:
      commands:
        - {name: version, command: [agent, --version]}
`)
	out, code, _ := polyarchTimed(t, "release", "--dry-run", "-f", file)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, w := range []string{"agent: index 127.0.0.1:", "/agent:1.4 (also tagged latest)", "/agent-arm64:1.4 on far, native"} {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q:\n%s", w, out)
		}
	}
}

func TestCommandLineMistakesAreUsageErrors(t *testing.T) {
	file := validateProject(t, "    version: \"1.4\"\n")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"release", "--dry-run", "--jobs", "-5", "-f", file}, []string{"--jobs", "-5"}},
		{[]string{"release", "--dry-run", "--jobs", "0", "-f", file}, []string{"--jobs", "0"}},
		{[]string{"release", "--dry-run", "--platform", "linux", "-f", file}, []string{"--platform", `"linux"`, "e.g. linux/amd64"}},
		{[]string{"release", "--dry-run", "--platform", "aarch64", "-f", file}, []string{"--platform", "e.g. linux/arm64"}},
		{[]string{"build", "--jobs", "-5", "-f", file}, []string{"--jobs"}},
		{[]string{"build", "--platform", "linux", "-f", file}, []string{"--platform", "e.g. linux/amd64"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args[:len(tc.args)-2], " "), func(t *testing.T) {
			out, code, _ := polyarchTimed(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (usage)\n%s", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
