package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/internal/cli"
)

// runPolyarch runs the command line in process and returns its combined
// output and exit status.
func runPolyarch(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := cli.Run(context.Background(), args, &out, &out)
	return out.String(), code
}

// nodesProject writes a polyarch.yaml whose one image has the given
// platforms (a YAML list), and no builders: only the local node.
func nodesProject(t *testing.T, platforms string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"Dockerfile":    "FROM scratch\n",
		"polyarch.yaml": "registry: 127.0.0.1:1\nimages:\n  - name: app\n    context: .\n    platforms: " + platforms + "\n    archRef: \"app:{{.OS}}-{{.ArchVariant}}\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "polyarch.yaml")
}

// builderDir is a state directory for the local node that the test makes
// sure nothing was left running in.
func builderDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { _ = localnode.Stop(context.Background(), localnode.Options{Dir: dir}) })
	return dir
}

// A platform no node can build (the local node runs linux containers only)
// is refused when the plan is made, before anything is built or started.
func TestPlatformNoNodeCanBuildFailsAtPlanTime(t *testing.T) {
	const why = "linux containers only"
	file := nodesProject(t, "[linux/amd64, windows/amd64]")

	t.Run("release --dry-run", func(t *testing.T) {
		out, code := runPolyarch(t, "release", "--dry-run", "-f", file, "--builder-dir", builderDir(t))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if !strings.Contains(out, "windows/amd64") || !strings.Contains(out, why) {
			t.Errorf("output does not name windows/amd64 and why (%q):\n%s", why, out)
		}
		if strings.Contains(out, "on local, emulated") && strings.Contains(out, "windows") && !strings.Contains(out, "linux/amd64") {
			t.Errorf("windows/amd64 planned as emulated on local:\n%s", out)
		}
	})
	t.Run("build", func(t *testing.T) {
		dir := builderDir(t)
		out, code := runPolyarch(t, "build", "-f", file, "--builder-dir", dir, "--log-dir", t.TempDir())
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if !strings.Contains(out, "windows/amd64") || !strings.Contains(out, why) {
			t.Errorf("output does not name windows/amd64 and why (%q):\n%s", why, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "buildkitd.pid")); err == nil {
			t.Errorf("the local node was started for a plan that cannot be built:\n%s", out)
		}
		if strings.Contains(out, "DIGEST") {
			t.Errorf("something was built:\n%s", out)
		}
	})
	t.Run("release", func(t *testing.T) {
		dir := builderDir(t)
		out, code := runPolyarch(t, "release", "-f", file, "--builder-dir", dir, "--log-dir", t.TempDir(), "--html", filepath.Join(t.TempDir(), "r.html"))
		if code != 1 || !strings.Contains(out, "windows/amd64") || !strings.Contains(out, why) {
			t.Errorf("exit %d, want 1 naming windows/amd64 and why:\n%s", code, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "buildkitd.pid")); err == nil {
			t.Errorf("the local node was started for a plan that cannot be built:\n%s", out)
		}
	})
}

// An optional platform no node can build is left out, said at plan time.
func TestOptionalPlatformNoNodeCanBuildIsLeftOutAtPlanTime(t *testing.T) {
	file := nodesProject(t, "[linux/amd64, {platform: windows/amd64, optional: true}]")
	out, code := runPolyarch(t, "release", "--dry-run", "-f", file, "--builder-dir", builderDir(t))
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "windows/amd64") && (!strings.Contains(line, "linux containers only") || !strings.Contains(line, "left out")) {
			t.Errorf("the windows/amd64 line does not say it is left out and why: %q\n%s", line, out)
		}
	}
	if !strings.Contains(out, "windows/amd64") {
		t.Errorf("the plan does not mention windows/amd64:\n%s", out)
	}
}
