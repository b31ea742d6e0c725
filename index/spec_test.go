package index_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/index"
)

func writeSpec(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSpecErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"YAML syntax", "image: a/b:1\nmanifests:\n\t- image: a/b-amd64:1\n", []string{"spec.yaml: line 3: found character that cannot start any token"}},
		{"unknown field", "image: a/b:1\nmanifests:\n  - image: a/b-amd64:1\n    platfrom: {os: linux}\n", []string{"spec.yaml: line 4", "platfrom"}},
		{"missing image", "tags: [x]\nmanifests:\n  - image: a/b-amd64:1\n", []string{"spec.yaml:1: image: missing"}},
		{"missing manifests", "image: a/b:1\n", []string{"spec.yaml:1: manifests: missing or empty"}},
		{"manifest without image", "image: a/b:1\nmanifests:\n  - image: a/b-amd64:1\n  - platform: {os: linux, architecture: arm64}\n", []string{"spec.yaml:4: manifests[1].image: missing"}},
		{"platform without os", "image: a/b:1\nmanifests:\n  - image: a/b-amd64:1\n    platform: {architecture: amd64}\n", []string{"spec.yaml:3: manifests[0].platform: os and architecture are both required"}},
		{"unknown architecture", "image: a/b:1\nmanifests:\n  - image: a/b-x:1\n    platform: {os: linux, architecture: sparc9}\n", []string{"spec.yaml:3: manifests[0].platform", `unknown architecture "sparc9"`}},
		{"empty file", "", []string{"spec.yaml: empty spec"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := index.LoadSpec(writeSpec(t, tc.body))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := index.LoadSpec(filepath.Join(t.TempDir(), "nope.yaml")); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestPublishFromSpec(t *testing.T) {
	reg := testutilRegistry(t)
	pushArch(t, reg+"/org/s-{{.Arch}}:1", types.DockerManifestSchema2, "linux/amd64", "linux/arm/v7")
	spec, err := index.LoadSpec(writeSpec(t, `
image: `+reg+`/org/s:1
tags: [latest]
manifests:
  - image: `+reg+`/org/s-amd64:1
    platform: {os: linux, architecture: amd64}
  - image: `+reg+`/org/s-arm:1
    platform: {os: linux, architecture: arm, variant: v7}
  - image: `+reg+`/org/s-s390x:1
    platform: {os: linux, architecture: s390x}
    optional: true
`))
	if err != nil {
		t.Fatal(err)
	}
	req, err := spec.Request(parse)
	if err != nil {
		t.Fatal(err)
	}
	res, err := index.Publish(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Children) != 2 || len(res.Missing) != 1 || res.Missing[0].Platform != "linux/s390x" || len(res.Tags) != 1 {
		t.Fatalf("result %+v", res)
	}
	im, _ := indexManifest(t, reg+"/org/s:latest")
	if got := strings.Join(platformsOf(im), ","); got != "linux/amd64,linux/arm/v7" {
		t.Errorf("platforms %s", got)
	}
}
