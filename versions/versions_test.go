package versions_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/drift"
	"github.com/polyarch/polyarch/versions"
)

// project writes polyarch.yaml and files into a temp dir and loads it.
func project(t *testing.T, yaml string, files map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "polyarch.yaml")
	os.WriteFile(p, []byte(yaml), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAddFromALocalUpstream(t *testing.T) {
	cfg := project(t, `images:
  - name: builder
    context: .
    platforms: [linux/amd64]
    args: {BAZEL_VERSION: 5.1.1}
    versions:
      - version: "2.4"
        dockerfile: builder-2.4.Dockerfile
        tags: [builder-2.4, "{{.Version}}-latest"]
        args: {BRANCH: "2.4", ISTIO: "1.16"}
        upstream:
          dockerfile: {path: up/Dockerfile}
`, map[string]string{
		"builder-2.4.Dockerfile": "FROM golang:1.19 AS go\nARG GO_VERSION=1.19\nFROM scratch\nARG GO_VERSION=1.19\n",
		"up/Dockerfile":          "FROM golang:1.20\nENV BAZEL_VERSION=6.0.0\nARG GO_VERSION=1.20\n",
	})
	ctx := context.Background()
	f := &drift.Fetcher{Cache: t.TempDir(), Dir: cfg.Dir}

	_, err := versions.Add(ctx, cfg, versions.AddOptions{Version: "2.5", From: "2.4", UpstreamRef: "main", Fetcher: f})
	if err == nil || !strings.Contains(err.Error(), "2.4's upstream has no git repository for --upstream-ref main to change") {
		t.Errorf("--upstream-ref with a local upstream: %v", err)
	}

	res, err := versions.Add(ctx, cfg, versions.AddOptions{Version: "2.5", From: "2.4", Fetcher: f})
	if err != nil {
		t.Fatal(err)
	}
	// The file name with the version in it, and both stages' GO_VERSION.
	if want := filepath.Join(cfg.Dir, "builder-2.5.Dockerfile"); res.Dockerfile != want {
		t.Errorf("Dockerfile %s, want %s", res.Dockerfile, want)
	}
	b, _ := os.ReadFile(res.Dockerfile)
	if got := string(b); got != "FROM golang:1.20 AS go\nARG GO_VERSION=1.20\nFROM scratch\nARG GO_VERSION=1.20\n" {
		t.Errorf("new Dockerfile:\n%s", got)
	}
	// BAZEL_VERSION is every version's: named, not rewritten.
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "BAZEL_VERSION is 5.1.1 for every version (") || !strings.Contains(res.Notes[0], "images[0].args.BAZEL_VERSION), upstream 6.0.0: not rewritten; set it in 2.5's args") {
		t.Errorf("notes %q", res.Notes)
	}
	cfg, err = config.Load(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := cfg.Image("builder")
	v := img.Versions[1]
	if v.Version != "2.5" || v.Dockerfile != "builder-2.5.Dockerfile" || strings.Join(v.Tags, ",") != "builder-2.5,{{.Version}}-latest" || v.Args["BRANCH"] != "2.5" || v.Args["ISTIO"] != "1.16" {
		t.Errorf("new entry %+v", v)
	}
}

func TestAddRefusesASharedDockerfile(t *testing.T) {
	cfg := project(t, `images:
  - name: builder
    context: .
    platforms: [linux/amd64]
    versions:
      - version: "2.4"
`, map[string]string{"Dockerfile": "FROM scratch\n"})
	_, err := versions.Add(context.Background(), cfg, versions.AddOptions{Version: "2.5", From: "2.4"})
	if err == nil || !strings.Contains(err.Error(), "polyarch.yaml:2: images[0].dockerfile: every version builds "+filepath.Join(cfg.Dir, "Dockerfile")) {
		t.Errorf("error %v", err)
	}
}

func TestWhichImage(t *testing.T) {
	cfg := project(t, `images:
  - {name: a, context: ., platforms: [linux/amd64], versions: [{version: "1"}]}
  - {name: b, context: ., platforms: [linux/amd64], versions: [{version: "1"}]}
  - {name: c, context: ., platforms: [linux/amd64]}
`, map[string]string{"Dockerfile": "FROM scratch\n"})
	for _, tc := range []struct{ image, want string }{
		{"", "a and b have versions: say which image (IMAGE@VERSION)"},
		{"c", `images[2]: image "c" has no versions matrix`},
	} {
		_, err := versions.Remove(cfg, versions.RemoveOptions{Image: tc.image, Version: "1"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("image %q: %v, want %q", tc.image, err, tc.want)
		}
	}
}
