package cli_test

import (
	"encoding/json"
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

// pushLabelled pushes an index whose descriptors carry labels; configs
// holds what each image's config says.
func pushLabelled(t *testing.T, ref string, labels, configs []v1.Platform) {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i := range labels {
		c := configs[i]
		img := testutil.Image(t, c.OS, c.Architecture, c.Variant, types.OCIManifestSchema1)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &labels[i]}})
	}
	if err := remote.WriteIndex(testutil.Ref(t, ref), idx); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	reg := testutil.NewRegistry(t)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	good := reg.Host + "/org/agent:v1"
	pushLabelled(t, good, []v1.Platform{amd64, arm64}, []v1.Platform{amd64, arm64})
	// Labelled arm64, but its config says amd64.
	bad := reg.Host + "/org/agent:v1-mislabelled"
	pushLabelled(t, bad, []v1.Platform{amd64, arm64}, []v1.Platform{amd64, amd64})

	stdout, stderr, code := polyarch(t, "verify", good)
	if code != cli.ExitOK || stdout != "verified 2 platforms, 4 layers, 0 ELF files: 0 findings\n" || stderr != "" {
		t.Errorf("verify %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0 and the summary alone", good, code, stdout, stderr)
	}

	stdout, stderr, code = polyarch(t, "verify", bad)
	if code != cli.ExitFailed || !strings.HasPrefix(stdout, "linux/arm64 ") || !strings.HasSuffix(stdout, ": 1 finding\n") {
		t.Errorf("verify %s: exit %d, stdout:\n%s\nwant exit 1, the linux/arm64 finding and the summary", bad, code, stdout)
	}
	if stderr != "polyarch: "+bad+": 1 finding\n" {
		t.Errorf("verify %s: stderr %q, want one line naming the reference and the count", bad, stderr)
	}

	stdout, _, code = polyarch(t, "verify", bad, "--json")
	var rep struct {
		Summary struct{ Platforms, Findings int }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != cli.ExitFailed || rep.Summary.Platforms != 2 || rep.Summary.Findings != 1 {
		t.Errorf("verify --json %s: exit %d, %v\n%s", bad, code, err, stdout)
	}
}

func TestVerifyUsage(t *testing.T) {
	reg := testutil.NewRegistry(t)
	ref := reg.Host + "/org/agent:v1"
	testutil.Push(t, ref, testutil.Image(t, "linux", "amd64", "", types.OCIManifestSchema1))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no REF", []string{"verify"}, cli.ExitUsage, "takes 1 argument(s) (REF), got 0"},
		{"two REFs", []string{"verify", ref, ref}, cli.ExitUsage, "got 2"},
		{"bad REF", []string{"verify", "Not A Ref"}, cli.ExitUsage, "Not A Ref"},
		{"zero --jobs", []string{"verify", "--jobs", "0", ref}, cli.ExitUsage, "--jobs"},
		{"bad --ignore", []string{"verify", "--ignore", "usr/[bin", ref}, cli.ExitUsage, "--ignore"},
		{"--jobs not a number", []string{"verify", "--jobs", "many", ref}, cli.ExitUsage, "--jobs"},
		{"missing tag", []string{"verify", reg.Host + "/org/agent:nope"}, cli.ExitFailed, reg.Host + "/org/agent:nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			checkFailure(t, tc.args, stdout, stderr, code, tc.code, tc.want)
		})
	}
}
