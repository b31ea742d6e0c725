package config_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polyarch/polyarch/config"
)

// project writes a polyarch.yaml and the files it names into a temp dir.
func project(t *testing.T, yaml string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("FROM scratch\n"), 0o644)
	}
	p := filepath.Join(dir, "polyarch.yaml")
	os.WriteFile(p, []byte(yaml), 0o644)
	return p
}

func TestLoadsAFullConfig(t *testing.T) {
	p := project(t, `
registry: 127.0.0.1:5000
builders:
  - name: local
    parallel: 3
  - name: arm-box
    address: tcp://127.0.0.1:1234
    platforms: [linux/arm64, linux/arm/v7]
images:
  - name: agent
    context: agent
    platforms: [linux/amd64, linux/arm64, {platform: linux/arm/v7, optional: true}]
    archRef: "org/agent-{{.Arch}}:{{.Version}}"
    tags: ["{{.Version}}", latest]
    version: "1.4"
  - name: builder
    context: docker
    platforms: [linux/amd64, linux/s390x]
    versions:
      - version: "2.3"
        dockerfile: builder_{{.Version}}.Dockerfile
      - version: "2.4"
        dockerfile: builder_{{.Version}}.Dockerfile
        args: {BAZEL: "6.1"}
`, "agent/Dockerfile", "docker/builder_2.3.Dockerfile", "docker/builder_2.4.Dockerfile")
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	agent, ok := c.Image("agent")
	if !ok {
		t.Fatal("no agent")
	}
	tp := agent.TargetPlatforms()
	if len(tp) != 3 || !tp[2].Optional || tp[2].Platform.Variant != "v7" || tp[0].Optional {
		t.Errorf("platforms %+v", tp)
	}
	b, _ := c.Image("builder")
	units := b.Units()
	if len(units) != 2 || units[1].Version != "2.4" {
		t.Fatalf("units %+v", units)
	}
	if got := c.Dockerfile(*b, units[1]); got != filepath.Join(filepath.Dir(p), "docker", "builder_2.4.Dockerfile") {
		t.Errorf("dockerfile %s", got)
	}
}

func TestErrorsNameFileLineAndField(t *testing.T) {
	cases := []struct {
		name, yaml string
		files      []string
		want       []string
	}{
		{"yaml syntax", "images:\n\t- name: a\n", nil, []string{"polyarch.yaml: line 2: found character that cannot start any token"}},
		{"unknown field", "images:\n  - name: a\n    contxt: .\n", nil, []string{"polyarch.yaml: line 3: field contxt not found"}},
		{"no images", "registry: x\n", nil, []string{"polyarch.yaml:1: images: missing"}},
		{"unknown platform", "images:\n  - name: a\n    context: .\n    platforms:\n      - linux/amd64\n      - linux/arm65\n", []string{"Dockerfile"},
			[]string{"polyarch.yaml:6: images[0].platforms[1]", `unknown architecture "arm65"`}},
		{"missing Dockerfile", "images:\n  - name: a\n    context: .\n    platforms: [linux/amd64]\n", nil,
			[]string{"polyarch.yaml:2: images[0].dockerfile", "Dockerfile does not exist"}},
		{"missing versioned Dockerfile", "images:\n  - name: b\n    context: .\n    platforms: [linux/amd64]\n    versions:\n      - version: '2.3'\n        dockerfile: b_{{.Version}}.Dockerfile\n", nil,
			[]string{"polyarch.yaml:7: images[0].versions[0].dockerfile", "b_2.3.Dockerfile does not exist"}},
		{"context not a directory", "images:\n  - name: a\n    context: nope\n    platforms: [linux/amd64]\n", nil, []string{"polyarch.yaml:3: images[0].context", "nope is not a directory"}},
		{"builder without address", "builders:\n  - name: arm\n    platforms: [linux/arm64]\nimages:\n  - name: a\n    context: .\n    platforms: [linux/amd64]\n", []string{"Dockerfile"},
			[]string{"polyarch.yaml:2: builders[0].address: missing"}},
		{"two natives for one platform", "builders:\n  - name: a\n    address: tcp://127.0.0.1:1\n    platforms: [linux/arm64]\n  - name: b\n    address: tcp://127.0.0.1:2\n    platforms: [linux/aarch64]\nimages:\n  - name: a\n    context: .\n    platforms: [linux/amd64]\n",
			[]string{"Dockerfile"}, []string{"polyarch.yaml:7: builders[1].platforms[0]", `already built natively by builder "a"`}},
		{"bad archRef", "images:\n  - name: a\n    context: .\n    platforms: [linux/amd64]\n    archRef: org/a:1\n", []string{"Dockerfile"}, []string{"polyarch.yaml:5: images[0].archRef", "no placeholder"}},
		{"duplicate image", "images:\n  - name: a\n    context: .\n    platforms: [linux/amd64]\n  - name: a\n    context: .\n    platforms: [linux/amd64]\n", []string{"Dockerfile"}, []string{"polyarch.yaml:5: images[1].name", "declared twice"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(project(t, tc.yaml, tc.files...))
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

// loadWithin loads a config in the background and fails the test if that
// takes more than a second: templates are checked, not run, at load time.
func loadWithin(t *testing.T, path string) (*config.Config, error) {
	t.Helper()
	type result struct {
		c   *config.Config
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		c, err := config.Load(path)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if d := time.Since(start); d > time.Second {
			t.Errorf("loading took %v", d)
		}
		return r.c, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("config.Load did not return in 5s")
		return nil, nil
	}
}

// Naming templates are user input: one that would run polyarch out of
// memory or never end is refused at load time, naming file, line and field.
func TestTemplatesRefusedAtLoad(t *testing.T) {
	const head = "images:\n  - name: a\n    context: .\n    platforms: [linux/amd64, linux/arm64]\n"
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"archRef that fills memory", head + "    archRef: 'org/a-{{.Arch}}:{{range 100000000}}aaaa{{end}}'\n",
			[]string{"polyarch.yaml:5: images[0].archRef", "{{range}} is not allowed"}},
		{"archRef that never ends", head + "    archRef: 'org/a-{{.Arch}}:{{range 3000000000}}{{end}}'\n",
			[]string{"polyarch.yaml:5: images[0].archRef", "{{range}} is not allowed"}},
		{"tag that fills memory", head + "    tags:\n      - latest\n      - '{{range 100000000}}aaaa{{end}}'\n",
			[]string{"polyarch.yaml:7: images[0].tags[1]", "{{range}} is not allowed"}},
		{"tag that never ends", head + "    tags: ['{{range 3000000000}}{{end}}']\n",
			[]string{"polyarch.yaml:5: images[0].tags[0]", "{{range}} is not allowed"}},
		{"a version's tag", head + "    versions:\n      - version: '1'\n        tags: ['{{printf \"%0100000000d\" 1}}']\n",
			[]string{"polyarch.yaml:7: images[0].versions[0].tags[0]", `function "printf" is not allowed`}},
		{"a tag with an unknown field", head + "    tags: ['{{.Nope}}']\n",
			[]string{"polyarch.yaml:5: images[0].tags[0]", "unknown field .Nope"}},
		{"an empty tag", head + "    tags: ['']\n",
			[]string{"polyarch.yaml:5: images[0].tags[0]", "empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadWithin(t, project(t, tc.yaml, "Dockerfile"))
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
	t.Run("valid templates load", func(t *testing.T) {
		c, err := loadWithin(t, project(t, head+"    archRef: 'org/a-{{.Arch | lower}}:{{if .Variant}}{{.Variant}}-{{end}}{{.Version}}'\n    tags: ['{{trimPrefix \"v\" .Version}}', latest]\n", "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		if img, _ := c.Image("a"); len(img.Tags) != 2 {
			t.Errorf("tags %v", img.Tags)
		}
	})
}

// At names where a field is written, for errors found after loading.
func TestAt(t *testing.T) {
	c, err := config.Load(project(t, "registry: r.example\nimages:\n  - name: a\n    context: .\n    platforms: [linux/amd64]\n    tags:\n      - latest\n      - '{{.Version}}'\n", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for path, line := range map[string]int{"images[0].tags[1]": 8, "images[0].tags": 7, "images[0].archRef": 3, "registry": 1} {
		want := c.File + ":" + strconv.Itoa(line) + ": " + path
		if got := c.At(path); got != want {
			t.Errorf("At(%q) = %q, want %q", path, got, want)
		}
	}
}
