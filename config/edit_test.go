package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/config"
)

// commented is a polyarch.yaml as people write them: comments above, beside
// and inside entries, flow and block mappings, all three quoting styles, a
// blank line, and a section after the versions.
const commented = `# Maistra's builder images, one per release branch.
registry: 127.0.0.1:5000   # the embedded registry
images:
  - name: builder
    context: .
    platforms: [linux/amd64]
    versions:
      # 2.2 follows Istio 1.12.
      - version: "2.2"   # oldest supported
        dockerfile: b_{{.Version}}.Dockerfile
        args: {ISTIO_VERSION: '1.12', BAZEL_VERSION: 4.2.1}
        upstream:
          # Istio's build tools
          dockerfile:
            git: https://github.com/istio/tools.git
            ref: release-1.12
            path: docker/build-tools/Dockerfile

      # 2.3 follows Istio 1.14.
      - version: "2.3"
        dockerfile: b_{{.Version}}.Dockerfile
        args:
          ISTIO_VERSION: "1.14"   # the branch
          BAZEL_VERSION: 5.1.1
        tags: ["2.3", latest]
        upstream:
          dockerfile: {git: https://github.com/istio/tools.git, ref: release-1.14, path: docker/build-tools/Dockerfile}
    # the tests
    test:
      arch: false
`

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAddVersionKeepsTheFileAsWritten(t *testing.T) {
	out, err := config.AddVersion([]byte(commented), 0, 1, map[string]string{
		"version":                 "3.3",
		"args.ISTIO_VERSION":      "2.2",
		"args.BAZEL_VERSION":      "6.0.0",
		"tags[0]":                 "3.3",
		"upstream.dockerfile.ref": "release-2.2",
	})
	if err != nil {
		t.Fatal(err)
	}
	added := `      - version: "3.3"
        dockerfile: b_{{.Version}}.Dockerfile
        args:
          ISTIO_VERSION: "2.2"   # the branch
          BAZEL_VERSION: 6.0.0
        tags: ["3.3", latest]
        upstream:
          dockerfile: {git: https://github.com/istio/tools.git, ref: release-2.2, path: docker/build-tools/Dockerfile}
`
	// Byte for byte: the original up to the end of the last entry, the
	// new entry, the rest of the original.
	cut := strings.Index(commented, "    # the tests\n")
	if want := commented[:cut] + added + commented[cut:]; string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}

	dir := t.TempDir()
	for _, v := range []string{"2.2", "2.3", "3.3"} {
		write(t, dir, "b_"+v+".Dockerfile", "FROM scratch\n")
	}
	c, err := config.Parse(write(t, dir, "polyarch.yaml", string(out)), out)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := c.Image("builder")
	v := img.Versions[2]
	if v.Version != "3.3" || v.Args["BAZEL_VERSION"] != "6.0.0" || v.Args["ISTIO_VERSION"] != "2.2" || v.Upstream.Dockerfile.Ref != "release-2.2" || v.Tags[0] != "3.3" {
		t.Errorf("the new entry reads as %+v", v)
	}

	// From the first entry: its flow-mapping args, single quotes and the
	// comment beside the version are copied; the comment above it is not.
	out, err = config.AddVersion([]byte(commented), 0, 0, map[string]string{"version": "2.1", "args.ISTIO_VERSION": "1.11", "args.BAZEL_VERSION": "4.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	added = `      - version: "2.1"   # oldest supported
        dockerfile: b_{{.Version}}.Dockerfile
        args: {ISTIO_VERSION: '1.11', BAZEL_VERSION: 4.0.0}
        upstream:
          # Istio's build tools
          dockerfile:
            git: https://github.com/istio/tools.git
            ref: release-1.12
            path: docker/build-tools/Dockerfile
`
	if want := commented[:cut] + added + commented[cut:]; string(out) != want {
		t.Errorf("from versions[0], got:\n%s\nwant:\n%s", out, want)
	}
}

func TestAddVersionAtTheEndOfTheFile(t *testing.T) {
	src := "images:\n- name: b\n  context: .\n  platforms: [linux/amd64]\n  versions:\n  - version: '1'\n  - version: '2'" // no final newline
	out, err := config.AddVersion([]byte(src), 0, 1, map[string]string{"version": "it's"})
	if err != nil {
		t.Fatal(err)
	}
	if want := src + "\n  - version: 'it''s'"; string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestRemoveVersionKeepsTheFileAsWritten(t *testing.T) {
	out, err := config.RemoveVersion([]byte(commented), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(commented, "      # 2.3 follows")
	end := strings.Index(commented, "    # the tests\n")
	if want := commented[:start] + commented[end:]; string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	out, err = config.RemoveVersion([]byte(commented), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	start = strings.Index(commented, "      # 2.2 follows")
	end = strings.Index(commented, "      # 2.3 follows") // the blank line after 2.2 stays
	if want := commented[:start] + "\n" + commented[end:]; string(out) != want {
		t.Errorf("removing the first, got:\n%s\nwant:\n%s", out, want)
	}
}

func TestEditsRefused(t *testing.T) {
	flow := "images:\n  - name: b\n    versions: [{version: '1'}, {version: '2'}]\n"
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"a flow list", func() error { _, err := config.AddVersion([]byte(flow), 0, 0, nil); return err }(), "line 3: images[0].versions is written in flow style"},
		{"a missing field", func() error {
			_, err := config.AddVersion([]byte(commented), 0, 0, map[string]string{"tags[0]": "x"})
			return err
		}(), "images[0].versions[0] has no tags[0] to set"},
		{"a missing entry", func() error { _, err := config.AddVersion([]byte(commented), 0, 5, nil); return err }(), "images[0] has no versions[5]"},
		{"no versions", func() error { _, err := config.RemoveVersion([]byte("images:\n  - name: a\n"), 0, 0); return err }(), "images[0] has no versions list"},
		{"the only version", func() error {
			_, err := config.RemoveVersion([]byte("images:\n  - name: a\n    versions:\n      - version: '1'\n"), 0, 0)
			return err
		}(), "images[0].versions[0] is the only version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Errorf("error %v, want %q", tc.err, tc.want)
			}
		})
	}
}
