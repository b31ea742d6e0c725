package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/pipeline"
)

// publishProject writes a project whose image app is published as
// org/app:2.0 from org/app-{amd64,arm64}:2.0, outside git.
func publishProject(t *testing.T, host string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	file := filepath.Join(dir, "polyarch.yaml")
	// The platforms are native on a node that is never dialled.
	os.WriteFile(file, []byte("registry: "+host+"\nbuilders:\n  - {name: runners, address: tcp://127.0.0.1:1, platforms: [linux/amd64, linux/arm64]}\nimages:\n  - name: app\n    repository: org/app\n    context: .\n"+
		"    platforms: [linux/amd64, linux/arm64]\n    archRef: \"org/app-{{.Arch}}:{{.Version}}\"\n    version: \"2.0\"\n"), 0o644)
	return file
}

// runnerDid pushes what the runner of one platform leaves in the registry:
// the image at its arch ref and its test record.
func runnerDid(t *testing.T, host, arch string, passed bool) string {
	t.Helper()
	img := testutil.Image(t, "linux", arch, "", types.OCIManifestSchema1)
	img = mutate.Annotations(img, map[string]string{"org.opencontainers.image.version": "2.0"}).(v1.Image)
	ref := host + "/org/app-" + arch + ":2.0"
	d := testutil.Push(t, ref, img)
	spec := pipeline.SpecDigest(&imagetest.Spec{})
	rec := &pipeline.TestRecord{Digest: d.String(), Platform: "linux/" + arch, SpecDigest: spec, Passed: passed, Node: "runner-" + arch, Native: true,
		Results: []imagetest.Result{{Kind: "command", Name: "serves", Passed: passed}}}
	if err := pipeline.WriteTestRecord(context.Background(), testutil.Ref(t, ref).Context(), rec); err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestPublishCommand(t *testing.T) {
	reg := testutil.NewRegistry(t)
	file := publishProject(t, reg.Host)
	index := testutil.Ref(t, reg.Host+"/org/app:2.0")

	runnerDid(t, reg.Host, "amd64", true)
	args := []string{"publish", "-f", file}
	stdout, stderr, code := polyarch(t, args...)
	if code != cli.ExitFailed || !strings.Contains(stderr, "linux/arm64: not pushed yet") || strings.Contains(stderr, "linux/amd64:") {
		t.Errorf("publish with arm64 missing: exit %d\nstderr: %s\nwant exit 1 naming linux/arm64, not pushed yet", code, stderr)
	}
	if !strings.Contains(stdout, "waiting") {
		t.Errorf("stdout does not say waiting:\n%s", stdout)
	}

	arm64 := runnerDid(t, reg.Host, "arm64", false)
	_, stderr, code = polyarch(t, args...)
	if code != cli.ExitFailed || !strings.Contains(stderr, "linux/arm64: tests failed: command: serves") {
		t.Errorf("publish with arm64's tests failed: exit %d\nstderr: %s\nwant exit 1 naming the failed test", code, stderr)
	}
	if _, err := remote.Head(index); err == nil {
		t.Fatal("an index was published although linux/arm64 failed")
	}

	arm64 = runnerDid(t, reg.Host, "arm64", true)
	stdout, stderr, code = polyarch(t, "publish", "-f", file, "--dry-run")
	if code != cli.ExitOK || !strings.Contains(stdout, "would publish") {
		t.Errorf("--dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := remote.Head(index); err == nil {
		t.Fatal("--dry-run published")
	}

	stdout, stderr, code = polyarch(t, "publish", "-f", file, "--json")
	if code != cli.ExitOK {
		t.Fatalf("publish: exit %d\n%s%s", code, stdout, stderr)
	}
	var res []struct {
		Outcome, Digest string
		State           struct {
			Platforms []struct {
				Digest, State string
				Record        struct{ Node string }
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if len(res) != 1 || res[0].Outcome != "published" || res[0].State.Platforms[1].Digest != arm64 || res[0].State.Platforms[1].Record.Node != "runner-arm64" {
		t.Errorf("--json: %s", stdout)
	}
	desc, err := remote.Head(index)
	if err != nil || desc.Digest.String() != res[0].Digest {
		t.Errorf("org/app:2.0 is %v (%v), publish said %s", desc, err, res[0].Digest)
	}

	stdout, _, code = polyarch(t, args...)
	if code != cli.ExitOK || !strings.Contains(stdout, "unchanged") || !strings.Contains(stdout, "tests passed on runner-arm64 (native)") {
		t.Errorf("second publish: exit %d\n%s", code, stdout)
	}

	// The run report, rebuilt from the registry's records.
	reportFile := filepath.Join(t.TempDir(), "publish.json")
	if _, stderr, code := polyarch(t, "publish", "-f", file, "--report", reportFile); code != cli.ExitOK {
		t.Fatalf("publish --report: exit %d\n%s", code, stderr)
	}
	b, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		OK    bool
		Units []struct {
			Status  string
			Targets []struct {
				Platform, Node, Digest, Status string
				Native                         bool
				Tests                          []struct{ Name string }
			}
		}
	}
	json.Unmarshal(b, &rep)
	if !rep.OK || len(rep.Units) != 1 || rep.Units[0].Status != "unchanged" || len(rep.Units[0].Targets) != 2 {
		t.Fatalf("publish --report: %s", b)
	}
	for _, tr := range rep.Units[0].Targets {
		if tr.Status != "passed" || tr.Node != "runner-"+strings.TrimPrefix(tr.Platform, "linux/") || !tr.Native || len(tr.Tests) != 1 || tr.Tests[0].Name != "serves" {
			t.Errorf("publish --report, %s: %+v", tr.Platform, tr)
		}
	}

	args = []string{"publish", "-f", file, "--bogus"}
	stdout, stderr, code = polyarch(t, args...)
	checkFailure(t, args, stdout, stderr, code, cli.ExitUsage, "unknown flag: --bogus")
}

func TestReleaseDryRunOfOneRunner(t *testing.T) {
	reg := testutil.NewRegistry(t)
	file := publishProject(t, reg.Host)
	args := []string{"release", "-f", file, "--platform", "linux/arm64", "--dry-run"}
	stdout, stderr, code := polyarch(t, args...)
	if code != cli.ExitOK || !strings.Contains(stdout, "app: this run builds linux/arm64; its publish step would wait for linux/amd64: not pushed yet") {
		t.Errorf("dry run of the arm64 runner, amd64 not pushed: exit %d\n%s%s", code, stdout, stderr)
	}
	if !regexpLine(stdout, `^  linux/arm64 +built by this run$`) {
		t.Errorf("the dry run does not say this run builds linux/arm64:\n%s", stdout)
	}
	runnerDid(t, reg.Host, "amd64", true)
	stdout, stderr, code = polyarch(t, args...)
	if code != cli.ExitOK || !strings.Contains(stdout, "its publish step would publish "+reg.Host+"/org/app:2.0 once they pass") {
		t.Errorf("dry run of the arm64 runner, amd64 ready: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := remote.Head(testutil.Ref(t, reg.Host+"/org/app:2.0")); err == nil {
		t.Error("a dry run published")
	}
}

func regexpLine(out, pattern string) bool {
	return regexp.MustCompile("(?m)" + pattern).MatchString(out)
}
