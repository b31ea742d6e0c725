package config_test

import (
	"strings"
	"testing"

	"github.com/polyarch/polyarch/config"
)

const upstreamHead = `drift:
  aliases: {GOLANG_VERSION: go}
images:
  - name: builder
    context: .
    platforms: [linux/amd64]
    versions:
      - version: "2.2"
        dockerfile: b_{{.Version}}.Dockerfile
`

func TestUpstreamLoads(t *testing.T) {
	c, err := config.Load(project(t, upstreamHead+`        upstream:
          dockerfile: {git: https://github.com/istio/tools.git, ref: release-1.12, path: docker/build-tools/Dockerfile}
          files:
            - {git: ../proxy, ref: release-1.12, path: .bazelversion}
            - {url: "https://example.com/go-version", tool: go}
            - {path: upstream/Dockerfile}
`, "b_2.2.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	img, _ := c.Image("builder")
	u := img.Versions[0].Upstream
	if u == nil || u.Dockerfile == nil || len(u.Files) != 3 {
		t.Fatalf("upstream read as %+v", u)
	}
	if got, want := u.Dockerfile.String(), "https://github.com/istio/tools.git@release-1.12:docker/build-tools/Dockerfile"; got != want {
		t.Errorf("dockerfile upstream %q, want %q", got, want)
	}
	if u.Files[1].Tool != "go" || u.Files[1].URL != "https://example.com/go-version" || u.Files[2].Path != "upstream/Dockerfile" {
		t.Errorf("files read as %+v", u.Files)
	}
	if c.Drift.Aliases["GOLANG_VERSION"] != "go" {
		t.Errorf("aliases read as %v", c.Drift.Aliases)
	}
	if got := c.Line("images[0].versions[0].upstream.files[1]"); got != 14 {
		t.Errorf("Line of files[1] = %d, want 14", got)
	}
}

func TestUpstreamErrorsNameFileLineAndField(t *testing.T) {
	cases := []struct {
		name, upstream string
		want           []string
	}{
		{"git without ref", "        upstream:\n          dockerfile: {git: https://h/tools.git, path: Dockerfile}\n",
			[]string{"polyarch.yaml:11: images[0].versions[0].upstream.dockerfile.ref", "missing: the branch or tag of https://h/tools.git"}},
		{"git without path", "        upstream:\n          dockerfile:\n            git: https://h/tools.git\n            ref: release-1.12\n",
			[]string{"polyarch.yaml:12: images[0].versions[0].upstream.dockerfile.path", "missing"}},
		{"a ref git would read as an option", "        upstream:\n          dockerfile: {git: https://h/t.git, ref: --upload-pack=x, path: D}\n",
			[]string{"images[0].versions[0].upstream.dockerfile.ref", `"--upload-pack=x" is not a branch or tag name`}},
		{"git and url", "        upstream:\n          files:\n            - {git: https://h/t.git, ref: r, path: p, url: 'https://h/p'}\n",
			[]string{"polyarch.yaml:12: images[0].versions[0].upstream.files[0].url", "not both"}},
		{"a url that is not http", "        upstream:\n          dockerfile: {url: 'ftp://h/Dockerfile'}\n",
			[]string{"images[0].versions[0].upstream.dockerfile.url", `"ftp://h/Dockerfile": want an http:// or https:// address`}},
		{"a local path with a ref", "        upstream:\n          dockerfile: {path: up/Dockerfile, ref: main}\n",
			[]string{"upstream.dockerfile.ref", "a local path takes no ref"}},
		{"nothing to read", "        upstream:\n          files:\n            - {tool: bazel}\n",
			[]string{"polyarch.yaml:12: images[0].versions[0].upstream.files[0]", "missing: git (with ref and path), url, or path"}},
		{"a typo", "        upstream:\n          dockerfile: {gti: https://h/t.git}\n",
			[]string{"polyarch.yaml: line 11: field gti not found"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(project(t, upstreamHead+tc.upstream, "b_2.2.Dockerfile"))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
