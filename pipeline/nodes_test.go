package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
)

func mustPlatform(t *testing.T, s string) v1.Platform {
	t.Helper()
	p, err := platform.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The builders of polyarch.yaml serve each platform by build.Router's rule,
// whether a plan asks (Describe) or a command needs the node (For,
// ForPlatform); a platform none can build is refused without starting the
// local node.
func TestBuildersServeEachPlatformByOneRule(t *testing.T) {
	dir := t.TempDir()
	yaml := "registry: 127.0.0.1:1\nbuilders:\n  - name: arm-box\n    address: tcp://127.0.0.1:1\n    platforms: [linux/arm64]\n" +
		"images:\n  - name: app\n    context: .\n    platforms: [linux/arm64]\n"
	for f, c := range map[string]string{"Dockerfile": "FROM scratch\n", "polyarch.yaml": yaml} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "polyarch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	nodes := pipeline.NodesFor(cfg, localnode.Options{Dir: stateDir})
	host := platform.Format(buildkit.HostPlatform())

	for _, tc := range []struct{ platform, node string }{{"linux/arm64", "arm-box"}, {host, "local"}} {
		name, native, err := nodes.Describe(mustPlatform(t, tc.platform))
		if err != nil || name != tc.node || !native {
			t.Errorf("Describe(%s) = %q, %v, %v; want %s, native", tc.platform, name, native, err, tc.node)
		}
	}
	// Declared nodes are used as they are: For does not dial them.
	n, native, err := nodes.For(context.Background(), mustPlatform(t, "linux/arm64"))
	if err != nil || n.Name() != "arm-box" || !native {
		t.Errorf("For(linux/arm64) = %v, %v, %v", n, native, err)
	}

	win := mustPlatform(t, "windows/amd64")
	var ue *build.UnservedError
	if _, _, err := nodes.Describe(win); !errors.As(err, &ue) {
		t.Errorf("Describe(windows/amd64): %v, want an UnservedError", err)
	}
	if _, _, err := nodes.For(context.Background(), win); !errors.As(err, &ue) {
		t.Errorf("For(windows/amd64): %v, want an UnservedError", err)
	}
	if _, err := nodes.ForPlatform(context.Background(), win); !errors.As(err, &ue) {
		t.Errorf("ForPlatform(windows/amd64): %v, want an UnservedError", err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "buildkitd.pid")); err == nil {
		t.Error("the local node was started for a platform it cannot build")
	}
}
