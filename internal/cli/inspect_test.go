package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
)

func TestInspect(t *testing.T) {
	reg := testutil.NewRegistry(t)
	want := twoArch(t, reg.Host+"/org/app", "1")
	ref := reg.Host + "/org/app:1"

	stdout, _, code := runCLI(t, "inspect", ref)
	for _, w := range []string{ref, want, "index of 2 manifests", "linux/amd64", "linux/arm64", "layers     2"} {
		if code != cli.ExitOK || !strings.Contains(stdout, w) {
			t.Errorf("inspect: exit %d, output lacks %q:\n%s", code, w, stdout)
		}
	}
	stdout, _, code = runCLI(t, "inspect", ref, "--json", "--jobs", "1")
	var ins struct {
		Digest    string
		Manifests []struct{ Platform string }
	}
	if err := json.Unmarshal([]byte(stdout), &ins); code != cli.ExitOK || err != nil || ins.Digest != want || len(ins.Manifests) != 2 {
		t.Errorf("inspect --json: exit %d, %v\n%s", code, err, stdout)
	}
	stdout, _, code = runCLI(t, "inspect", ref, "--raw")
	if code != cli.ExitOK || !strings.Contains(stdout, `"mediaType":"application/vnd.oci.image.index.v1+json"`) {
		t.Errorf("inspect --raw: exit %d\n%s", code, stdout)
	}
	if _, _, code := runCLI(t, "inspect"); code != cli.ExitUsage {
		t.Errorf("inspect without REF: exit %d, want 2", code)
	}
	if _, stderr, code := runCLI(t, "inspect", reg.Host+"/org/none:1"); code != cli.ExitFailed || !strings.Contains(stderr, "fetching "+reg.Host+"/org/none:1") {
		t.Errorf("inspect of a missing name: exit %d\n%s", code, stderr)
	}
}
