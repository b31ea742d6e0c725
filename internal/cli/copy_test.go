package cli_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
)

func TestCopy(t *testing.T) {
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	want := twoArch(t, src.Host+"/org/app", "1")

	stdout, stderr, code := runCLI(t, "copy", src.Host+"/org/app:1", dst.Host+"/mirror/app:1")
	if code != cli.ExitOK || strings.TrimSpace(stdout) != want || !strings.Contains(stderr, "copied "+src.Host+"/org/app:1 -> "+dst.Host+"/mirror/app:1 (2 platforms)") {
		t.Fatalf("copy: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if d, err := remote.Head(testutil.Ref(t, dst.Host+"/mirror/app:1")); err != nil || d.Digest.String() != want {
		t.Errorf("the destination names %v (%v), want %s", d, err, want)
	}
	_, stderr, code = runCLI(t, "copy", src.Host+"/org/app:1", dst.Host+"/mirror/app:1")
	if code != cli.ExitOK || !strings.HasPrefix(stderr, "unchanged ") {
		t.Errorf("second copy: exit %d\n%s", code, stderr)
	}
	stdout, _, code = runCLI(t, "copy", src.Host+"/org/app:1", dst.Host+"/mirror/app:arm", "--platform", "linux/arm64", "--json")
	if code != cli.ExitOK || !strings.Contains(stdout, `"platforms": [`) || !strings.Contains(stdout, `"linux/arm64"`) || strings.Contains(stdout, "linux/amd64") {
		t.Errorf("copy --platform linux/arm64 --json: exit %d\n%s", code, stdout)
	}
}

func TestCopyExitCodes(t *testing.T) {
	reg := testutil.NewRegistry(t)
	twoArch(t, reg.Host+"/org/app", "1")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"one argument", []string{"copy", reg.Host + "/org/app:1"}, cli.ExitUsage, "takes 2 argument(s) (SRC DST), got 1"},
		{"bad reference", []string{"copy", reg.Host + "/org/app:1", "UPPER/case:1"}, cli.ExitUsage, "DST: reference"},
		{"bad platform", []string{"copy", reg.Host + "/org/app:1", reg.Host + "/org/b:1", "--platform", "linux/arm65"}, cli.ExitUsage, "--platform"},
		{"missing source", []string{"copy", reg.Host + "/org/none:1", reg.Host + "/org/b:1"}, cli.ExitFailed, "fetching " + reg.Host + "/org/none:1"},
		{"missing platform", []string{"copy", reg.Host + "/org/app:1", reg.Host + "/org/b:1", "--platform", "linux/s390x"}, cli.ExitFailed, "has no linux/s390x image (it has linux/amd64, linux/arm64)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d and %q:\n%s", code, tc.code, tc.want, stderr)
			}
		})
	}
}
