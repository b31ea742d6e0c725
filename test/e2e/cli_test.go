package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/internal/testutil"
)

// TestTestCommandLine drives `polyarch test` against `polyarch registry
// serve`: IMAGE@VERSION selects one version as it does for build and release,
// -f names polyarch.yaml, --spec the spec of a REF, and the exit status is
// 0, 1 or 2. The platforms are native on a declared node that is never
// dialled: the specs need no container (no commands, no automatic arch
// test), so no BuildKit is needed.
func TestTestCommandLine(t *testing.T) {
	bin := polyarchBinary(t)
	host := startServe(t, "--quiet").host
	dir := project(t, map[string]string{
		"Dockerfile": "FROM scratch\n",
		"polyarch.yaml": `registry: ` + host + `
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
`,
		"tests.yaml": "arch: false\nmetadata:\n  env: {BUILDER_VERSION: \"2.4\"}\n",
	})
	cfg := filepath.Join(dir, "polyarch.yaml")
	digests := map[string]string{}
	for _, v := range []struct{ version, env string }{{"2.4", "2.4"}, {"2.3", "2.2"}} {
		for _, arch := range []string{"amd64", "arm64"} {
			img := testutil.Image(t, "linux", arch, "", types.OCIManifestSchema1)
			cf, _ := img.ConfigFile()
			cf = cf.DeepCopy()
			cf.Config.Env = []string{"BUILDER_VERSION=" + v.env}
			img, err := mutate.ConfigFile(img, cf)
			if err != nil {
				t.Fatal(err)
			}
			digests[v.version+" linux/"+arch] = testutil.Push(t, host+"/builder:"+v.version+"-"+arch, img).String()
		}
	}

	// In the project's directory, as a user would run it.
	out, code := polyarchIn(t, dir, "test", "builder@2.4", "--json")
	var results []struct {
		Platform, Image string
		Passed          bool
	}
	if err := json.Unmarshal([]byte(out), &results); code != 0 || err != nil || len(results) != 2 {
		t.Fatalf("polyarch test builder@2.4 --json: exit %d, %v\n%s", code, err, out)
	}
	for _, r := range results {
		if want := host + "/builder@" + digests["2.4 "+r.Platform]; r.Image != want || !r.Passed {
			t.Errorf("%s: tested %s (passed %v), want builder 2.4's image %s, passed", r.Platform, r.Image, r.Passed, want)
		}
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"a failing version, from elsewhere with -f", []string{"test", "builder@2.3", "-f", cfg}, 1, []string{"0 passed, 2 failed", `expected BUILDER_VERSION="2.4", got "2.2"`, "polyarch: 2 of 2 tests failed"}},
		{"every version", []string{"test", "builder", "-f", cfg}, 1, []string{"2 passed, 2 failed"}},
		{"a REF with --spec", []string{"test", host + "/builder:2.4-arm64", "--spec", filepath.Join(dir, "tests.yaml"), "-f", cfg}, 0, []string{"linux/arm64", "1 passed, 0 failed"}},
		{"a REF with -s", []string{"test", host + "/builder:2.3-amd64", "-s", filepath.Join(dir, "tests.yaml"), "-f", cfg}, 1, []string{"linux/amd64", "0 passed, 1 failed"}},
		{"--spec for images of polyarch.yaml", []string{"test", "builder@2.4", "--spec", filepath.Join(dir, "tests.yaml"), "-f", cfg}, 2, []string{"polyarch: --spec " + filepath.Join(dir, "tests.yaml"), "Run 'polyarch test --help' for usage."}},
		{"-f is polyarch.yaml, not a spec", []string{"test", host + "/builder:2.4-arm64", "-f", filepath.Join(dir, "tests.yaml")}, 1, []string{"polyarch: ", "tests.yaml"}},
		{"an unknown version", []string{"test", "builder@9.9", "-f", cfg}, 1, []string{`no version "9.9"`, "2.3, 2.4"}},
		{"unknown command", []string{"tset"}, 2, []string{`polyarch: unknown command "tset"`, "Run 'polyarch --help' for usage."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCode(t, bin, tc.args...)
			if code != tc.code {
				t.Errorf("polyarch %q: exit %d, want %d\n%s", tc.args, code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("polyarch %q: output does not say %q:\n%s", tc.args, w, out)
				}
			}
		})
	}
}
