package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
)

// runCLI runs the command line in process, as cmd/polyarch does, and
// returns what it printed and its exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// twoArch pushes a linux/amd64 + linux/arm64 OCI index to ref, and each
// image alone to ref's repository with -amd64 and -arm64 after the
// repository name (reg/org/app-amd64:TAG). It returns the index digest.
func twoArch(t *testing.T, repo, tag string) string {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img := testutil.Image(t, "linux", arch, "", types.OCIManifestSchema1)
		testutil.Push(t, repo+"-"+arch+":"+tag, img)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	if err := remote.WriteIndex(testutil.Ref(t, repo+":"+tag), idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d.String()
}

// --jobs is one flag of every registry command, checked where it is parsed.
func TestJobsMustBeAWholeNumberOfAtLeastOne(t *testing.T) {
	reg := testutil.NewRegistry(t)
	twoArch(t, reg.Host+"/org/app", "1")
	commands := map[string][]string{
		"copy":     {"copy", reg.Host + "/org/app:1", reg.Host + "/org/copy:1"},
		"inspect":  {"inspect", reg.Host + "/org/app:1"},
		"resolve":  {"resolve", reg.Host + "/org/app:1", "--all"},
		"manifest": {"manifest", "push", "from-args", "--platforms", "linux/amd64", "--template", reg.Host + "/org/app-ARCH:1", "--target", reg.Host + "/org/m:1"},
	}
	for name, args := range commands {
		for _, bad := range []string{"0", "-5", "many"} {
			t.Run(name+" --jobs "+bad, func(t *testing.T) {
				_, stderr, code := runCLI(t, append(args, "--jobs", bad)...)
				if code != cli.ExitUsage || !strings.Contains(stderr, "--jobs") || !strings.Contains(stderr, bad) {
					t.Errorf("exit %d, want %d and a message naming --jobs and %q:\n%s", code, cli.ExitUsage, bad, stderr)
				}
			})
		}
		t.Run(name+" --jobs 1", func(t *testing.T) {
			if _, stderr, code := runCLI(t, append(args, "--jobs", "1")...); code != cli.ExitOK {
				t.Errorf("exit %d with --jobs 1:\n%s", code, stderr)
			}
		})
	}
}
