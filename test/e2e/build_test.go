package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	controlapi "github.com/moby/buildkit/api/services/control"
	bk "github.com/moby/buildkit/client"

	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/internal/testutil"
)

// The local builder node is shared by the tests of this package (a fresh
// state directory, stopped by TestMain), so BuildKit's cache is shared too.
var (
	builderOnce sync.Once
	builderDir  string
	builderErr  error
)

func localBuilder(t *testing.T) string {
	t.Helper()
	testutil.Tool(t, "buildkitd")
	testutil.Tool(t, "runc")
	if os.Geteuid() != 0 {
		if testutil.E2E() {
			t.Fatal("build tests need root (buildkitd with runc)")
		}
		t.Skip("build tests need root (buildkitd with runc)")
	}
	builderOnce.Do(func() {
		builderDir, builderErr = os.MkdirTemp("", "polyarch-builder-")
		if builderErr != nil {
			return
		}
		out, err := exec.Command(polyarchBinary(t), "builder", "start", "--builder-dir", builderDir).CombinedOutput()
		if err != nil {
			builderErr = fmt.Errorf("polyarch builder start: %v\n%s", err, out)
		}
	})
	if builderErr != nil {
		t.Fatal(builderErr)
	}
	return builderDir
}

func stopLocalBuilder() error {
	if builderDir == "" {
		return nil
	}
	defer os.RemoveAll(builderDir)
	out, err := exec.Command(binPath, "builder", "stop", "--builder-dir", builderDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("polyarch builder stop: %v\n%s", err, out)
	}
	if left, _ := localnode.MountsBelow(builderDir); len(left) > 0 {
		return fmt.Errorf("builder stop left mounts: %v", left)
	}
	return nil
}

// project writes a polyarch project: files maps paths to contents.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		writeFile(t, full, c)
	}
	return dir
}

// polyarchIn runs polyarch in dir and returns combined output and exit code.
func polyarchIn(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(polyarchBinary(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

var unameOf = map[string]string{
	"linux/amd64": "x86_64", "linux/arm64": "aarch64", "linux/arm/v7": "armv7l", "linux/ppc64le": "ppc64le", "linux/s390x": "s390x",
}

const fivePlatforms = "[linux/amd64, linux/arm64, linux/arm/v7, linux/ppc64le, linux/s390x]"

func TestBuildFivePlatformsUnderEmulation(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	dir := localBuilder(t)
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)
	proj := project(t, map[string]string{
		"app/Dockerfile": "FROM " + base + "\nRUN uname -m > /built-on\nRUN echo hello > /hello\n",
		"polyarch.yaml": "registry: " + srv.host + "\nimages:\n  - name: app\n    repository: org/app\n    context: app\n" +
			"    platforms: " + fivePlatforms + "\n    archRef: \"org/app-{{.ArchVariant}}:{{.Version}}\"\n    version: \"1.0\"\n",
	})
	out, code := polyarchIn(t, proj, "build", "--builder-dir", dir)
	if code != 0 {
		t.Fatalf("polyarch build: exit %d\n%s", code, out)
	}
	for p, uname := range unameOf {
		arch := strings.ReplaceAll(strings.TrimPrefix(p, "linux/"), "/", "")
		ref := srv.host + "/org/app-" + arch + ":1.0"
		var cfg struct{ Architecture, Variant string }
		json.Unmarshal([]byte(run(t, crane, "--insecure", "config", ref)), &cfg)
		got := "linux/" + cfg.Architecture
		if cfg.Variant != "" {
			got += "/" + cfg.Variant
		}
		if got != p {
			t.Errorf("%s: config says %s, want %s", ref, got, p)
		}
		if f := exportFile(t, crane, ref, "built-on"); strings.TrimSpace(f) != uname {
			t.Errorf("%s: uname -m at build time said %q, want %q", ref, strings.TrimSpace(f), uname)
		}
		mode := "emulated"
		if p == "linux/amd64" {
			mode = "native"
		}
		if !regexpLine(out, `app\s+-\s+`+regexpQuote(p)+`\s+local\s+`+mode+`\s+sha256:`) {
			t.Errorf("table lacks a %s row on local (%s):\n%s", p, mode, out)
		}
	}
	// Each build's log is kept.
	logs, _ := filepath.Glob(filepath.Join(proj, ".polyarch", "logs", "*.log"))
	if len(logs) != 5 {
		t.Errorf("%d build logs, want 5: %v", len(logs), logs)
	}
}

// exportFile reads one file from an image with crane export.
func exportFile(t *testing.T, crane, ref, file string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", fmt.Sprintf("%q --insecure export %q - | tar -xO %q", crane, ref, file))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crane export %s %s: %v", ref, file, err)
	}
	return string(out)
}

func TestBuildRoutesPlatformsToTheirNativeNode(t *testing.T) {
	dir := localBuilder(t)
	buildkitd := testutil.Tool(t, "buildkitd")
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)

	// A second buildkitd on a loopback TCP address, declared as the native
	// node for arm64 and s390x (it emulates them; what matters is routing).
	remoteDir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	cfg := filepath.Join(remoteDir, "buildkitd.toml")
	writeFile(t, cfg, fmt.Sprintf("root = %q\n[grpc]\n  address = [%q]\n[worker.oci]\n  enabled = true\n[worker.containerd]\n  enabled = false\n", filepath.Join(remoteDir, "root"), addr))
	remote := start(t, buildkitd, "--config", cfg)
	t.Cleanup(func() {
		exec.Command("kill", "-TERM", fmt.Sprint(remote.pid)).Run()
		select {
		case <-remote.done:
		case <-time.After(20 * time.Second):
		}
		for _, m := range mustMounts(remoteDir) {
			exec.Command("umount", "-l", m).Run()
		}
	})
	client := waitBuildkit(t, addr)
	defer client.Close()

	proj := project(t, map[string]string{
		"app/Dockerfile": "FROM " + base + "\nRUN uname -m > /built-on\n",
		"polyarch.yaml": "registry: " + srv.host + "\nbuilders:\n  - name: arm-box\n    address: " + addr + "\n    platforms: [linux/arm64, linux/s390x]\n" +
			"images:\n  - name: app\n    context: app\n    platforms: " + fivePlatforms + "\n    archRef: \"org/routed-{{.ArchVariant}}:1\"\n",
	})
	out, code := polyarchIn(t, proj, "build", "--builder-dir", dir)
	if code != 0 {
		t.Fatalf("polyarch build: exit %d\n%s", code, out)
	}
	// The second daemon's own build history: exactly arm64 and s390x.
	got := historyPlatforms(t, client)
	if strings.Join(got, ",") != "linux/arm64,linux/s390x" {
		t.Errorf("builds seen by the arm-box daemon: %v, want linux/arm64 and linux/s390x", got)
	}
	for _, p := range []string{"linux/arm64", "linux/s390x"} {
		if !regexpLine(out, regexpQuote(p)+`\s+arm-box\s+native`) {
			t.Errorf("table does not show %s native on arm-box:\n%s", p, out)
		}
	}
}

func waitBuildkit(t *testing.T, addr string) *bk.Client {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := bk.New(context.Background(), addr)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = c.Info(ctx)
			cancel()
			if err == nil {
				return c
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("buildkitd on %s did not answer: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func historyPlatforms(t *testing.T, c *bk.Client) []string {
	t.Helper()
	stream, err := c.ControlClient().ListenBuildHistory(context.Background(), &controlapi.BuildHistoryRequest{EarlyExit: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r := ev.GetRecord(); r != nil {
			out = append(out, r.GetFrontendAttrs()["platform"])
		}
	}
	sort.Strings(out)
	return out
}

func mustMounts(dir string) []string {
	m, _ := localnode.MountsBelow(dir)
	return m
}

func TestBuildVersionsMatrix(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	dir := localBuilder(t)
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)
	proj := project(t, map[string]string{
		"docker/builder_2.3.Dockerfile": "FROM " + base + "\nARG TOOL_VERSION\nRUN echo \"builder 2.3 tool $TOOL_VERSION $(uname -m)\" > /version\n",
		"docker/builder_2.4.Dockerfile": "FROM " + base + "\nARG TOOL_VERSION\nRUN echo \"builder 2.4 tool $TOOL_VERSION $(uname -m)\" > /version\n",
		"polyarch.yaml": "registry: " + srv.host + "\nimages:\n  - name: builder\n    context: docker\n    platforms: [linux/amd64, linux/s390x]\n" +
			"    archRef: \"org/builder:{{.Version}}-{{.Arch}}\"\n    versions:\n" +
			"      - version: \"2.3\"\n        dockerfile: builder_{{.Version}}.Dockerfile\n        args: {TOOL_VERSION: \"1.12\"}\n" +
			"      - version: \"2.4\"\n        dockerfile: builder_{{.Version}}.Dockerfile\n        args: {TOOL_VERSION: \"1.13\"}\n",
	})
	out, code := polyarchIn(t, proj, "build", "builder@2.4", "--builder-dir", dir)
	if code != 0 {
		t.Fatalf("polyarch build builder@2.4: exit %d\n%s", code, out)
	}
	tags := run(t, crane, "--insecure", "ls", srv.host+"/org/builder")
	if strings.Contains(tags, "2.3") || !strings.Contains(tags, "2.4-amd64") || !strings.Contains(tags, "2.4-s390x") {
		t.Fatalf("after building 2.4 alone the tags are:\n%s", tags)
	}
	if got := exportFile(t, crane, srv.host+"/org/builder:2.4-s390x", "version"); strings.TrimSpace(got) != "builder 2.4 tool 1.13 s390x" {
		t.Errorf("2.4 s390x /version = %q", got)
	}

	out, code = polyarchIn(t, proj, "build", "builder", "--builder-dir", dir)
	if code != 0 {
		t.Fatalf("polyarch build builder: exit %d\n%s", code, out)
	}
	if got := exportFile(t, crane, srv.host+"/org/builder:2.3-amd64", "version"); strings.TrimSpace(got) != "builder 2.3 tool 1.12 x86_64" {
		t.Errorf("2.3 amd64 /version = %q (its own Dockerfile and args)", got)
	}
	if n := strings.Count(out, "builder  "); n < 4 {
		t.Errorf("building every version: %d table rows, want 4\n%s", n, out)
	}
}

func TestBuildBadInput(t *testing.T) {
	dir := localBuilder(t)
	srv := startServe(t)
	base := testutil.Busybox(t, srv.host)
	okDockerfile := "FROM " + base + "\nRUN true\n"

	t.Run("a RUN that fails on one platform only", func(t *testing.T) {
		proj := project(t, map[string]string{
			"app/Dockerfile": "FROM " + base + "\nRUN if [ \"$(uname -m)\" = s390x ]; then echo 'no s390x support yet' >&2; exit 3; fi\n",
			"polyarch.yaml":  "registry: " + srv.host + "\nimages:\n  - name: app\n    context: app\n    platforms: [linux/amd64, linux/arm64, linux/s390x]\n    archRef: \"org/partial-{{.Arch}}:1\"\n",
		})
		out, code := polyarchIn(t, proj, "build", "--builder-dir", dir)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		for _, want := range []string{"app linux/s390x failed on node local", "no s390x support yet", "1 of 3 builds failed"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if !regexpLine(out, `linux/arm64\s+local\s+emulated\s+sha256:`) || !regexpLine(out, `linux/s390x\s+local\s+emulated\s+-\s+.*FAILED`) {
			t.Errorf("the other platforms must go on:\n%s", out)
		}
	})

	cases := []struct {
		name, yaml string
		files      map[string]string
		want       []string
	}{
		{"unknown platform", "registry: " + srv.host + "\nimages:\n  - name: app\n    context: app\n    platforms: [linux/amd64, linux/armv9]\n",
			map[string]string{"app/Dockerfile": okDockerfile}, []string{"polyarch.yaml:5: images[0].platforms[1]", `unknown architecture "armv9"`}},
		{"missing Dockerfile", "registry: " + srv.host + "\nimages:\n  - name: app\n    context: app\n    dockerfile: Containerfile\n    platforms: [linux/amd64]\n",
			map[string]string{"app/Dockerfile": okDockerfile}, []string{"polyarch.yaml:5: images[0].dockerfile", "Containerfile does not exist"}},
		{"YAML error", "registry: " + srv.host + "\nimages:\n  - name: app\n    context: app\n    platforms: [linux/amd64]\n    archRef: org/a: b\n",
			map[string]string{"app/Dockerfile": okDockerfile}, []string{"polyarch.yaml: line 6: mapping values are not allowed"}},
		{"unreachable node", "registry: " + srv.host + "\nbuilders:\n  - name: far-arm\n    address: tcp://127.0.0.1:1\n    platforms: [linux/arm64]\nimages:\n  - name: app\n    context: app\n    platforms: [linux/arm64]\n    archRef: \"org/far-{{.Arch}}:1\"\n",
			map[string]string{"app/Dockerfile": okDockerfile}, []string{`builder node "far-arm"`, "tcp://127.0.0.1:1", "polyarch builder status"}},
		{"a platform no node can build", "registry: " + srv.host + "\nimages:\n  - name: app\n    context: app\n    platforms: [linux/amd64, windows/amd64]\n    archRef: \"org/win-{{.OS}}-{{.Arch}}:1\"\n",
			map[string]string{"app/Dockerfile": okDockerfile}, []string{"app windows/amd64: no builder node builds windows/amd64 natively", "the local node runs linux containers only"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"polyarch.yaml": tc.yaml}
			for k, v := range tc.files {
				files[k] = v
			}
			out, code := polyarchIn(t, project(t, files), "build", "--builder-dir", dir)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
