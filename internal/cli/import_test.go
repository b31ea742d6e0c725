package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
)

func TestImport(t *testing.T) {
	reg := testutil.NewRegistry(t)
	rootfs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rootfs, "bin", "hello"), "#!/bin/sh\necho hello\n")
	ref := reg.Host + "/base/hello-s390x:1"

	stdout, stderr, code := polyarch(t, "import", rootfs, "--platform", "linux/s390x", "--cmd", "/bin/hello", "-e", "A=1", "--created", "2026-11-23T00:00:00Z", ref)
	if code != cli.ExitOK {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	img, err := remote.Image(testutil.Ref(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if strings.TrimSpace(stdout) != d.String() {
		t.Errorf("stdout %q, want the digest pushed, %s", stdout, d)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "s390x" || !slices.Equal(cf.Config.Cmd, []string{"/bin/hello"}) ||
		!slices.Equal(cf.Config.Env, []string{"A=1"}) || !cf.Created.Time.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("config %s/%s cmd %q env %q created %s, want what the flags said", cf.OS, cf.Architecture, cf.Config.Cmd, cf.Config.Env, cf.Created)
	}
	if !strings.Contains(stderr, "linux/s390x") {
		t.Errorf("stderr does not say what was imported:\n%s", stderr)
	}
}

func TestImportUsage(t *testing.T) {
	reg := testutil.NewRegistry(t)
	rootfs := t.TempDir()
	ref := reg.Host + "/base/x:1"
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no REF", []string{"import", rootfs, "--platform", "linux/arm64"}, cli.ExitUsage, "takes 2 argument(s)"},
		{"no --platform", []string{"import", rootfs, ref}, cli.ExitUsage, "--platform is required"},
		{"bad --platform", []string{"import", rootfs, "--platform", "linux/arm65", ref}, cli.ExitUsage, "--platform"},
		{"bad --created", []string{"import", rootfs, "--platform", "linux/arm64", "--created", "yesterday", ref}, cli.ExitUsage, `--created "yesterday"`},
		{"bad REF", []string{"import", rootfs, "--platform", "linux/arm64", "Not A Ref"}, cli.ExitUsage, "Not A Ref"},
		{"zero --jobs", []string{"import", rootfs, "--platform", "linux/arm64", "--jobs", "0", ref}, cli.ExitUsage, "--jobs"},
		{"negative --jobs", []string{"import", rootfs, "--platform", "linux/arm64", "--jobs", "-5", ref}, cli.ExitUsage, "--jobs"},
		{"unknown flag", []string{"import", rootfs, "--platfrom", "linux/arm64", ref}, cli.ExitUsage, "unknown flag: --platfrom"},
		{"missing root filesystem", []string{"import", filepath.Join(rootfs, "nope"), "--platform", "linux/arm64", ref}, cli.ExitFailed, filepath.Join(rootfs, "nope")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			checkFailure(t, tc.args, stdout, stderr, code, tc.code, tc.want)
		})
	}
	if _, err := remote.Head(testutil.Ref(t, ref)); err == nil {
		t.Errorf("a failed import pushed %s", ref)
	}
}

// checkFailure checks a command that must fail: its exit status, one
// "polyarch: " line naming want, the help hint for usage errors, and
// nothing on stdout.
func checkFailure(t *testing.T, args []string, stdout, stderr string, code, wantCode int, want string) {
	t.Helper()
	if code != wantCode || !strings.HasPrefix(stderr, "polyarch: ") || !strings.Contains(stderr, want) {
		t.Errorf("polyarch %q: exit %d, stderr:\n%s\nwant exit %d and an error naming %q", args, code, stderr, wantCode, want)
	}
	if hint := strings.Contains(stderr, "--help' for usage"); hint != (wantCode == cli.ExitUsage) {
		t.Errorf("polyarch %q: exit %d, help hint shown: %v\n%s", args, code, hint, stderr)
	}
	if stdout != "" {
		t.Errorf("polyarch %q: a failure printed on stdout:\n%s", args, stdout)
	}
}
