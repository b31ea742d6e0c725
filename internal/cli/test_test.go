package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
)

// polyarch runs the command line in process, as cmd/polyarch does, and
// returns what it printed and its exit status.
func polyarch(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// builderProject writes a polyarch.yaml with one image, builder, in two
// versions (2.3 and 2.4) for linux/amd64 and linux/arm64, whose test checks
// the BUILDER_VERSION its config sets. The platforms are native on a
// declared node that is never dialled: the spec needs no container (no
// commands, no automatic arch test), so the tests run without BuildKit.
func builderProject(t *testing.T, host string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\n")
	writeFile(t, filepath.Join(dir, "polyarch.yaml"), `registry: `+host+`
builders:
  - name: box
    address: tcp://127.0.0.1:1
    platforms: [linux/amd64, linux/arm64]
images:
  - name: builder
    context: .
    platforms: [linux/amd64, linux/arm64]
    versions:
      - version: "2.3"
      - version: "2.4"
    test:
      arch: false
      metadata:
        env: {BUILDER_VERSION: "2.4"}
`)
	return filepath.Join(dir, "polyarch.yaml")
}

// pushBuilder pushes builder's per-arch images of version under their
// default arch refs (<repo>:<version>-<arch>), their config setting
// BUILDER_VERSION=env, and returns their digests.
func pushBuilder(t *testing.T, host, version, env string) []string {
	t.Helper()
	var digests []string
	for _, arch := range []string{"amd64", "arm64"} {
		img := testutil.Image(t, "linux", arch, "", types.OCIManifestSchema1)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.Env = []string{"BUILDER_VERSION=" + env}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, testutil.Push(t, host+"/builder:"+version+"-"+arch, img).String())
	}
	return digests
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The IMAGE@VERSION selector of build and release selects one version in
// test too: it is not read as an image reference.
func TestTestSelectsImageAtVersion(t *testing.T) {
	reg := testutil.NewRegistry(t)
	cfg := builderProject(t, reg.Host)
	digests := pushBuilder(t, reg.Host, "2.4", "2.4") // 2.3 is never built
	t.Chdir(filepath.Dir(cfg))

	stdout, stderr, code := polyarch(t, "test", "builder@2.4", "--json")
	if code != cli.ExitOK {
		t.Fatalf("polyarch test builder@2.4: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var results []struct{ Platform, Image, Name string }
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	var got []string
	for _, r := range results {
		got = append(got, r.Platform+" "+r.Image+" "+r.Name)
	}
	want := []string{
		"linux/amd64 " + reg.Host + "/builder@" + digests[0] + " env BUILDER_VERSION",
		"linux/arm64 " + reg.Host + "/builder@" + digests[1] + " env BUILDER_VERSION",
	}
	if !slices.Equal(got, want) {
		t.Errorf("tested\n%s\nwant builder 2.4's per-arch images\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTestExitStatus(t *testing.T) {
	reg := testutil.NewRegistry(t)
	cfg := builderProject(t, reg.Host)
	pushBuilder(t, reg.Host, "2.4", "2.4")
	pushBuilder(t, reg.Host, "2.3", "2.2") // its test expects 2.4: fails on both platforms
	t.Chdir(t.TempDir())                   // no ./polyarch.yaml: -f is what names it

	junit := filepath.Join(t.TempDir(), "results.xml")
	stdout, stderr, code := polyarch(t, "test", "-f", cfg, "builder@2.4", "--junit", junit)
	if code != cli.ExitOK || !strings.Contains(stdout, "2 passed, 0 failed") {
		t.Errorf("test -f %s builder@2.4: exit %d\n%s%s", cfg, code, stdout, stderr)
	}
	if b, err := os.ReadFile(junit); err != nil || strings.Count(string(b), "<testcase") != 2 {
		t.Errorf("--junit %s: %v\n%s", junit, err, b)
	}

	stdout, stderr, code = polyarch(t, "test", "--file", cfg, "builder@2.3")
	if code != cli.ExitFailed || !strings.Contains(stdout, "0 passed, 2 failed") || !strings.Contains(stdout, `expected BUILDER_VERSION="2.4", got "2.2"`) ||
		stderr != "polyarch: 2 of 2 tests failed\n" {
		t.Errorf("test --file %s builder@2.3: exit %d, want 1 and both failures\nstdout:\n%s\nstderr:\n%s", cfg, code, stdout, stderr)
	}
}

// A REF is tested with the spec --spec names; -f still names polyarch.yaml,
// whose builders serve the platforms.
func TestTestReferenceWithSpec(t *testing.T) {
	reg := testutil.NewRegistry(t)
	cfg := builderProject(t, reg.Host)
	ref := reg.Host + "/org/tool:1"
	testutil.Push(t, ref, testutil.Image(t, "linux", "arm64", "", types.OCIManifestSchema1))
	spec := filepath.Join(t.TempDir(), "tests.yaml")
	writeFile(t, spec, "arch: false\nmetadata:\n  user: nobody\n")

	for _, flag := range []string{"--spec", "-s"} {
		stdout, stderr, code := polyarch(t, "test", ref, flag, spec, "-f", cfg)
		if code != cli.ExitFailed || !strings.Contains(stdout, "linux/arm64") || !strings.Contains(stdout, `expected "nobody", got ""`) {
			t.Errorf("test %s %s %s: exit %d, want 1 and the spec's user test failed\nstdout:\n%s\nstderr:\n%s", ref, flag, spec, code, stdout, stderr)
		}
	}
}

func TestTestUsage(t *testing.T) {
	reg := testutil.NewRegistry(t)
	cfg := builderProject(t, reg.Host)
	spec := filepath.Join(t.TempDir(), "tests.yaml")
	writeFile(t, spec, "arch: false\n")
	t.Chdir(t.TempDir())
	missing := filepath.Join(t.TempDir(), "polyarch.yaml")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"nothing to test", []string{"test"}, cli.ExitUsage, "no polyarch.yaml"},
		{"two references without polyarch.yaml", []string{"test", reg.Host + "/a:1", reg.Host + "/b:1"}, cli.ExitUsage, "one image reference"},
		{"a spec for images of polyarch.yaml", []string{"test", "-f", cfg, "builder@2.4", "--spec", spec}, cli.ExitUsage, "--spec " + spec},
		{"a selector and an unknown image", []string{"test", "-f", cfg, "builder", "nope"}, cli.ExitUsage, `no image "nope"`},
		{"an unknown version", []string{"test", "-f", cfg, "builder@9.9"}, cli.ExitFailed, `no version "9.9"`},
		{"a version never built", []string{"test", "-f", cfg, "builder@2.3"}, cli.ExitFailed, reg.Host + "/builder:2.3-amd64 is not in the registry"},
		{"-f names a missing file", []string{"test", "-f", missing}, cli.ExitFailed, missing},
		{"--config is not polyarch.yaml's flag", []string{"test", "--config", cfg}, cli.ExitUsage, "unknown flag: --config"},
		{"zero --jobs", []string{"test", "-f", cfg, "--jobs", "0"}, cli.ExitUsage, "--jobs"},
		{"bad --platform", []string{"test", "-f", cfg, "--platform", "linux/arm65"}, cli.ExitUsage, "--platform"},
		{"missing spec file", []string{"test", reg.Host + "/a:1", "--spec", missing}, cli.ExitFailed, missing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := polyarch(t, tc.args...)
			checkFailure(t, tc.args, stdout, stderr, code, tc.code, tc.want)
		})
	}
}
