package pipeline_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
)

// project writes polyarch.yaml and a Dockerfile at each of dockerfiles
// (relative paths) into dir, and parses it.
func project(t *testing.T, dir, yaml string, dockerfiles ...string) *config.Config {
	t.Helper()
	for _, f := range dockerfiles {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "polyarch.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(file, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// noGit makes dir's git lookups stop at dir, so a temp dir inside some
// checkout is still outside git.
func noGit(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	return dir
}

const twoImages = `
registry: reg.example:5000
images:
  - name: agent
    context: agent
    platforms: [linux/amd64, linux/arm64, {platform: linux/arm/v7, optional: true}]
    version: "1.4"
  - name: builder
    context: docker
    platforms: [linux/amd64, linux/s390x]
    args: {BAZEL: "4", GO: "1.22"}
    tags: ["{{.Version}}", latest]
    versions:
      - version: "2.3"
        dockerfile: builder_{{.Version}}.Dockerfile
        args: {BAZEL: "5"}
      - version: "2.4"
        dockerfile: builder_{{.Version}}.Dockerfile
        args: {BAZEL: "6.1", EXTRA: "x"}
        tags: ["{{.Version}}", "{{.Version}}-stable"]
`

func twoImagesProject(t *testing.T) *config.Config {
	return project(t, noGit(t), twoImages, "agent/Dockerfile", "docker/builder_2.3.Dockerfile", "docker/builder_2.4.Dockerfile")
}

func unitNames(p *pipeline.Plan) []string {
	var out []string
	for _, u := range p.Units {
		out = append(out, u.Name())
	}
	return out
}

func TestSelectors(t *testing.T) {
	cfg := twoImagesProject(t)
	cases := []struct {
		name      string
		selectors []string
		want      []string
	}{
		{"none is every image", nil, []string{"agent", "builder@2.3", "builder@2.4"}},
		{"an image", []string{"agent"}, []string{"agent"}},
		{"an image is every version", []string{"builder"}, []string{"builder@2.3", "builder@2.4"}},
		{"one version", []string{"builder@2.4"}, []string{"builder@2.4"}},
		{"in the order given", []string{"builder@2.4", "agent"}, []string{"builder@2.4", "agent"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pipeline.NewPlan(cfg, tc.selectors, pipeline.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := unitNames(p); !slices.Equal(got, tc.want) {
				t.Errorf("units %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSelectorErrorsListWhatExists(t *testing.T) {
	cfg := twoImagesProject(t)
	cases := []struct {
		name     string
		selector string
		want     []string
	}{
		{"unknown image", "agnet", []string{"polyarch.yaml", `no image "agnet"`, "agent, builder"}},
		{"unknown image with a version", "nope@2.4", []string{`no image "nope"`, "agent, builder"}},
		{"unknown version", "builder@9.9", []string{`image "builder" has no version "9.9"`, "2.3, 2.4"}},
		{"a version of an image without a matrix", "agent@2.0", []string{`image "agent" has no version "2.0"`, "no versions matrix"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pipeline.NewPlan(cfg, []string{tc.selector}, pipeline.Options{})
			if err == nil {
				t.Fatalf("planned %v", unitNames(p))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A unit named twice on the command line would be built twice at once into
// the same log file and pushed twice.
func TestSelectorsNamingAUnitTwicePlanItOnce(t *testing.T) {
	cfg := twoImagesProject(t)
	for _, sels := range [][]string{{"agent", "agent"}, {"builder", "builder@2.4"}} {
		p, err := pipeline.NewPlan(cfg, sels, pipeline.Options{})
		if err != nil {
			t.Fatal(err)
		}
		names := unitNames(p)
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				t.Errorf("selectors %v plan %v: %s twice", sels, names, n)
			}
			seen[n] = true
		}
	}
}

func unit(t *testing.T, p *pipeline.Plan, name string) *pipeline.Unit {
	t.Helper()
	for _, u := range p.Units {
		if u.Name() == name {
			return u
		}
	}
	t.Fatalf("no unit %s in %v", name, unitNames(p))
	return nil
}

func TestVersionsMatrix(t *testing.T) {
	cfg := twoImagesProject(t)
	p, err := pipeline.NewPlan(cfg, []string{"builder"}, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		unit       string
		dockerfile string
		args       map[string]string
		tags       []string
	}{
		{"builder@2.3", "builder_2.3.Dockerfile",
			map[string]string{"BAZEL": "5", "GO": "1.22", "POLYARCH_REGISTRY": "reg.example:5000"},
			[]string{"2.3", "latest"}},
		{"builder@2.4", "builder_2.4.Dockerfile",
			map[string]string{"BAZEL": "6.1", "GO": "1.22", "EXTRA": "x", "POLYARCH_REGISTRY": "reg.example:5000"},
			[]string{"2.4", "2.4-stable"}},
	}
	for _, tc := range cases {
		t.Run(tc.unit, func(t *testing.T) {
			u := unit(t, p, tc.unit)
			if len(u.Targets) != 2 {
				t.Fatalf("%d targets, want one per platform (2)", len(u.Targets))
			}
			if !slices.Equal(u.Tags, tc.tags) {
				t.Errorf("tags %v, want %v", u.Tags, tc.tags)
			}
			if u.IndexRef() != "reg.example:5000/builder:"+tc.tags[0] {
				t.Errorf("index %s", u.IndexRef())
			}
			for _, tg := range u.Targets {
				j := tg.Job
				if want := filepath.Join(cfg.Dir, "docker", tc.dockerfile); j.Dockerfile != want {
					t.Errorf("%s: Dockerfile %s, want %s", j.Name(), j.Dockerfile, want)
				}
				if j.Context != filepath.Join(cfg.Dir, "docker") {
					t.Errorf("%s: context %s", j.Name(), j.Context)
				}
				if !mapsEqual(j.Args, tc.args) {
					t.Errorf("%s: args %v, want %v", j.Name(), j.Args, tc.args)
				}
				if j.Version != u.Version || j.Image != "builder" {
					t.Errorf("job %q version %q, want builder %s", j.Image, j.Version, u.Version)
				}
			}
		})
	}
	// The image's own args are left as they were for the next plan.
	b, _ := cfg.Image("builder")
	if !mapsEqual(b.Args, map[string]string{"BAZEL": "4", "GO": "1.22"}) {
		t.Errorf("planning changed the image's args: %v", b.Args)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func refs(u *pipeline.Unit) []string {
	var out []string
	for _, t := range u.Targets {
		out = append(out, t.Job.Ref)
	}
	return out
}

func TestArchRefsAndRegistry(t *testing.T) {
	cases := []struct {
		name     string
		registry string // "" for none
		image    string // the image's YAML after name/context/platforms
		repo     string
		refs     []string
	}{
		{"default archRef", "reg.example:5000", `version: "1.4"`,
			"reg.example:5000/agent",
			[]string{"reg.example:5000/agent:1.4-amd64", "reg.example:5000/agent:1.4-arm64", "reg.example:5000/agent:1.4-armv7"}},
		{"default archRef in the repository", "reg.example:5000", "version: v2\n    repository: org/agent",
			"reg.example:5000/org/agent",
			[]string{"reg.example:5000/org/agent:v2-amd64", "reg.example:5000/org/agent:v2-arm64", "reg.example:5000/org/agent:v2-armv7"}},
		{"repository suffix scheme", "reg.example:5000/", "version: \"1.4\"\n    repository: org/agent\n    archRef: 'org/agent-{{.Arch}}{{.Variant}}:{{.Version}}'",
			"reg.example:5000/org/agent",
			[]string{"reg.example:5000/org/agent-amd64:1.4", "reg.example:5000/org/agent-arm64:1.4", "reg.example:5000/org/agent-armv7:1.4"}},
		{"repository naming a registry keeps it", "reg.example:5000", "version: \"1.4\"\n    repository: ghcr.io/org/agent",
			"ghcr.io/org/agent",
			[]string{"ghcr.io/org/agent:1.4-amd64", "ghcr.io/org/agent:1.4-arm64", "ghcr.io/org/agent:1.4-armv7"}},
		{"localhost is a registry", "", "version: \"1.4\"\n    repository: localhost/agent",
			"localhost/agent",
			[]string{"localhost/agent:1.4-amd64", "localhost/agent:1.4-arm64", "localhost/agent:1.4-armv7"}},
		{"an archRef naming a registry keeps it", "reg.example:5000", "version: \"1.4\"\n    archRef: 'quay.io/org/agent:OS-ARCHVARIANT'",
			"reg.example:5000/agent",
			[]string{"quay.io/org/agent:linux-amd64", "quay.io/org/agent:linux-arm64", "quay.io/org/agent:linux-armv7"}},
		{"manifest-tool placeholders", "127.0.0.1:5000", "version: \"1.4\"\n    archRef: 'agent-ARCH:1.4VARIANT'",
			"127.0.0.1:5000/agent",
			[]string{"127.0.0.1:5000/agent-amd64:1.4", "127.0.0.1:5000/agent-arm64:1.4", "127.0.0.1:5000/agent-arm:1.4v7"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "images:\n  - name: agent\n    context: .\n    platforms: [linux/amd64, linux/arm64, linux/arm/v7]\n    " + tc.image + "\n"
			if tc.registry != "" {
				yaml = "registry: " + tc.registry + "\n" + yaml
			}
			cfg := project(t, noGit(t), yaml, "Dockerfile")
			p, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
			if err != nil {
				t.Fatal(err)
			}
			u := p.Units[0]
			if u.Repository != tc.repo {
				t.Errorf("repository %s, want %s", u.Repository, tc.repo)
			}
			if got := refs(u); !slices.Equal(got, tc.refs) {
				t.Errorf("arch refs\n got %v\nwant %v", got, tc.refs)
			}
			for _, tg := range u.Targets {
				if tg.Job.ByDigest {
					t.Errorf("%s pushed by digest without NoArchTags", tg.Job.Name())
				}
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"no registry anywhere",
			"images:\n  - name: agent\n    context: .\n    platforms: [linux/amd64]\n    repository: org/agent\n",
			[]string{"image agent", `"org/agent" names no registry`, "registry:"}},
		{"archRef with no registry",
			"images:\n  - name: agent\n    context: .\n    platforms: [linux/amd64]\n    repository: ghcr.io/org/agent\n    archRef: 'agent-{{.Arch}}:1'\n",
			[]string{"archRef for linux/amd64", `"agent-amd64:1" names no registry`}},
		{"archRef giving two platforms one name",
			"registry: r.example\nimages:\n  - name: agent\n    context: .\n    platforms: [linux/arm/v6, linux/arm/v7]\n    archRef: 'agent-{{.Arch}}:1'\n",
			[]string{"image agent", "archRef", "linux/arm/v6", "linux/arm/v7"}},
		{"a tag that is no tag",
			"registry: r.example\nimages:\n  - name: agent\n    context: .\n    platforms: [linux/amd64]\n    tags: ['{{.Version}} final']\n",
			[]string{"polyarch.yaml:6: images[0].tags[0]", "image agent", `tag "{{.Version}} final"`, `"r.example/agent:latest final"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := project(t, noGit(t), tc.yaml, "Dockerfile")
			p, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
			if err == nil {
				t.Fatalf("planned %v", p.Jobs())
			}
			for _, w := range append([]string{"polyarch.yaml"}, tc.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestTagsAreTemplated(t *testing.T) {
	dir := noGit(t)
	cfg := project(t, dir, `
registry: r.example
images:
  - name: agent
    context: .
    platforms: [linux/amd64]
    version: v1.4.0
    tags: ["{{.Version}}", latest, "{{.Version}}-ubuntu"]
  - name: plain
    context: .
    platforms: [linux/amd64]
`, "Dockerfile")
	p, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := unit(t, p, "agent").Tags, []string{"v1.4.0", "latest", "v1.4.0-ubuntu"}; !slices.Equal(got, want) {
		t.Errorf("agent tags %v, want %v", got, want)
	}
	if got := unit(t, p, "agent").IndexRef(); got != "r.example/agent:v1.4.0" {
		t.Errorf("agent index %s", got)
	}
	// No version, no git tag: latest, and the default tag is the version.
	plain := unit(t, p, "plain")
	if plain.Version != "latest" || !slices.Equal(plain.Tags, []string{"latest"}) {
		t.Errorf("plain: version %q tags %v, want latest [latest]", plain.Version, plain.Tags)
	}
	if plain.Targets[0].Job.Version != "" {
		t.Errorf("a job of an image without a matrix has version %q (its log and name would say plain@...)", plain.Targets[0].Job.Version)
	}
}

func TestPlatformsFilter(t *testing.T) {
	cfg := twoImagesProject(t)
	ps := func(s string) []v1.Platform {
		out, err := platform.ParseList(s)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := []struct {
		name      string
		platforms []v1.Platform
		want      map[string][]string // unit -> its platforms
	}{
		{"no filter", nil, map[string][]string{
			"agent": {"linux/amd64", "linux/arm64", "linux/arm/v7"}, "builder@2.3": {"linux/amd64", "linux/s390x"}, "builder@2.4": {"linux/amd64", "linux/s390x"}}},
		{"an alias of one platform", ps("linux/aarch64"), map[string][]string{"agent": {"linux/arm64"}}},
		{"a platform only one image has drops the other", ps("linux/s390x,linux/arm/v7"), map[string][]string{
			"agent": {"linux/arm/v7"}, "builder@2.3": {"linux/s390x"}, "builder@2.4": {"linux/s390x"}}},
		{"image order, not filter order", ps("linux/arm64,linux/amd64"), map[string][]string{
			"agent": {"linux/amd64", "linux/arm64"}, "builder@2.3": {"linux/amd64"}, "builder@2.4": {"linux/amd64"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pipeline.NewPlan(cfg, nil, pipeline.Options{Platforms: tc.platforms})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, u := range p.Units {
				for _, tg := range u.Targets {
					got[u.Name()] = append(got[u.Name()], platform.Format(tg.Platform))
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("units %v, want %v", got, tc.want)
			}
			for n, w := range tc.want {
				if !slices.Equal(got[n], w) {
					t.Errorf("%s: platforms %v, want %v", n, got[n], w)
				}
			}
		})
	}

	t.Run("optional is kept", func(t *testing.T) {
		p, err := pipeline.NewPlan(cfg, []string{"agent"}, pipeline.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var opt []bool
		for _, tg := range p.Units[0].Targets {
			opt = append(opt, tg.Optional)
		}
		if !slices.Equal(opt, []bool{false, false, true}) {
			t.Errorf("optional %v, want only arm/v7", opt)
		}
	})

	t.Run("nothing left", func(t *testing.T) {
		p, err := pipeline.NewPlan(cfg, nil, pipeline.Options{Platforms: ps("linux/riscv64,linux/ppc64le")})
		if err == nil {
			t.Fatalf("planned %v", unitNames(p))
		}
		for _, w := range []string{"nothing to build", "linux/riscv64", "linux/ppc64le"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	})
}

func TestNoArchTags(t *testing.T) {
	cfg := twoImagesProject(t)
	p, err := pipeline.NewPlan(cfg, nil, pipeline.Options{NoArchTags: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range p.Units {
		for _, tg := range u.Targets {
			if tg.Job.Ref != u.Repository || !tg.Job.ByDigest {
				t.Errorf("%s: ref %s by digest %v, want the index repository %s by digest", tg.Job.Name(), tg.Job.Ref, tg.Job.ByDigest, u.Repository)
			}
		}
	}
	if want := "reg.example:5000/builder"; unit(t, p, "builder@2.4").Repository != want {
		t.Errorf("repository %s, want %s", unit(t, p, "builder@2.4").Repository, want)
	}
}

func TestJobsInPlanOrder(t *testing.T) {
	cfg := twoImagesProject(t)
	p, err := pipeline.NewPlan(cfg, []string{"builder", "agent"}, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range p.Jobs() {
		got = append(got, j.Name())
	}
	want := []string{"builder@2.3 linux/amd64", "builder@2.3 linux/s390x", "builder@2.4 linux/amd64", "builder@2.4 linux/s390x",
		"agent linux/amd64", "agent linux/arm64", "agent linux/arm/v7"}
	if !slices.Equal(got, want) {
		t.Errorf("jobs\n got %v\nwant %v", got, want)
	}
}

func TestBuildArgsOutsideGit(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want map[string]string
	}{
		{"registry passed to Dockerfiles",
			"registry: r.example:5000\nimages:\n  - name: a\n    context: .\n    platforms: [linux/amd64]\n",
			map[string]string{"POLYARCH_REGISTRY": "r.example:5000"}},
		{"args override it",
			"registry: r.example:5000\nimages:\n  - name: a\n    context: .\n    platforms: [linux/amd64]\n    args: {POLYARCH_REGISTRY: mirror.example, X: y}\n",
			map[string]string{"POLYARCH_REGISTRY": "mirror.example", "X": "y"}},
		{"no registry, no arg",
			"images:\n  - name: a\n    repository: ghcr.io/org/a\n    context: .\n    platforms: [linux/amd64]\n",
			map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := project(t, noGit(t), tc.yaml, "Dockerfile")
			p, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
			if err != nil {
				t.Fatal(err)
			}
			j := p.Units[0].Targets[0].Job
			if !mapsEqual(j.Args, tc.want) {
				t.Errorf("args %v, want %v (no SOURCE_DATE_EPOCH outside git)", j.Args, tc.want)
			}
			want := map[string]string{"org.opencontainers.image.version": "latest"}
			if !mapsEqual(j.Annotations, want) {
				t.Errorf("annotations %v, want %v", j.Annotations, want)
			}
			if g := p.Units[0].Git; g != (pipeline.GitInfo{}) {
				t.Errorf("git info outside git: %+v", g)
			}
		})
	}
}

// gitRepo makes dir a git repository with one commit at a fixed time, and
// returns a function running git in it.
func gitRepo(t *testing.T, dir string) func(args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(),
			"GIT_AUTHOR_NAME=Release Bot", "GIT_AUTHOR_EMAIL=bot@example.org", "GIT_AUTHOR_DATE=2026-11-20T10:00:00Z",
			"GIT_COMMITTER_NAME=Release Bot", "GIT_COMMITTER_EMAIL=bot@example.org", "GIT_COMMITTER_DATE=2026-11-21T12:34:56+02:00",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q")
	run("add", "-A")
	run("commit", "-q", "-m", "release")
	return run
}

func TestGitBuildArgsAndAnnotations(t *testing.T) {
	const yaml = `registry: r.example
images:
  - name: agent
    context: agent
    platforms: [linux/amd64, linux/arm64]
  - name: pinned
    context: agent
    platforms: [linux/amd64]
    version: "3.0"
    args: {SOURCE_DATE_EPOCH: "0"}
    annotations: {org.opencontainers.image.source: https://example.org/mirror, org.example.team: infra}
`
	cases := []struct {
		name   string
		remote string
		tag    string
	}{
		{"no remote, no tag", "", ""},
		{"remote and tag", "https://github.com/org/agent.git", "v1.5.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := noGit(t)
			// The project is written before the commit so it is in it.
			cfg := project(t, dir, yaml, "agent/Dockerfile")
			git := gitRepo(t, dir)
			if tc.remote != "" {
				git("remote", "add", "origin", tc.remote)
			}
			if tc.tag != "" {
				git("tag", tc.tag)
			}
			commit, epoch, created := git("rev-parse", "HEAD"), git("log", "-1", "--format=%ct"), git("log", "-1", "--format=%cI")
			if epoch != "1795257296" {
				t.Fatalf("the commit time is %s: GIT_COMMITTER_DATE was not used", epoch)
			}
			p, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
			if err != nil {
				t.Fatal(err)
			}

			agent := unit(t, p, "agent")
			wantVersion := "latest"
			if tc.tag != "" {
				wantVersion = tc.tag // no version: the commit's tag
			}
			if agent.Version != wantVersion || agent.Tags[0] != wantVersion {
				t.Errorf("agent version %q tags %v, want %q", agent.Version, agent.Tags, wantVersion)
			}
			wantGit := pipeline.GitInfo{Commit: commit, Tag: tc.tag, Remote: tc.remote, Time: created, Epoch: epoch}
			if agent.Git != wantGit {
				t.Errorf("git info %+v, want %+v", agent.Git, wantGit)
			}
			wantAnn := map[string]string{
				"org.opencontainers.image.version":  wantVersion,
				"org.opencontainers.image.revision": commit,
				"org.opencontainers.image.created":  created,
			}
			if tc.remote != "" {
				wantAnn["org.opencontainers.image.source"] = tc.remote
			}
			for _, tg := range agent.Targets {
				j := tg.Job
				if j.Args["SOURCE_DATE_EPOCH"] != epoch {
					t.Errorf("%s: SOURCE_DATE_EPOCH %q, want the commit time %s", j.Name(), j.Args["SOURCE_DATE_EPOCH"], epoch)
				}
				if j.Args["POLYARCH_REGISTRY"] != "r.example" {
					t.Errorf("%s: POLYARCH_REGISTRY %q", j.Name(), j.Args["POLYARCH_REGISTRY"])
				}
				if !mapsEqual(j.Annotations, wantAnn) {
					t.Errorf("%s: annotations\n got %v\nwant %v", j.Name(), j.Annotations, wantAnn)
				}
			}

			// The config's args and annotations win.
			pinned := unit(t, p, "pinned").Targets[0].Job
			if pinned.Args["SOURCE_DATE_EPOCH"] != "0" {
				t.Errorf("pinned: SOURCE_DATE_EPOCH %q, want the config's 0", pinned.Args["SOURCE_DATE_EPOCH"])
			}
			if got := pinned.Annotations["org.opencontainers.image.source"]; got != "https://example.org/mirror" {
				t.Errorf("pinned: source %q, want the config's", got)
			}
			if pinned.Annotations["org.example.team"] != "infra" || pinned.Annotations["org.opencontainers.image.version"] != "3.0" ||
				pinned.Annotations["org.opencontainers.image.revision"] != commit {
				t.Errorf("pinned: annotations %v", pinned.Annotations)
			}
		})
	}
}

func TestGitAnnotations(t *testing.T) {
	cases := []struct {
		name string
		git  pipeline.GitInfo
		want map[string]string
	}{
		{"outside git", pipeline.GitInfo{}, map[string]string{"org.opencontainers.image.version": "1.0"}},
		{"a commit without remote", pipeline.GitInfo{Commit: "abc", Time: "2026-11-21T12:34:56+02:00", Epoch: "1"},
			map[string]string{"org.opencontainers.image.version": "1.0", "org.opencontainers.image.revision": "abc", "org.opencontainers.image.created": "2026-11-21T12:34:56+02:00"}},
		{"with remote", pipeline.GitInfo{Commit: "abc", Remote: "git@github.com:org/a.git"},
			map[string]string{"org.opencontainers.image.version": "1.0", "org.opencontainers.image.revision": "abc", "org.opencontainers.image.source": "git@github.com:org/a.git"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.git.Annotations("1.0"); !mapsEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The whole file is checked when the plan is made, before anything is built
// or pushed: every image (selected or not), every version, every platform
// (in --platform or not), every tag and archRef as rendered, every test spec.
func TestPlanChecksTheWholeFile(t *testing.T) {
	const head = "registry: r.example\nimages:\n  - name: other\n    context: .\n    platforms: [linux/amd64]\n    version: '1'\n  - name: agent\n    context: .\n    platforms: [linux/amd64, linux/arm64]\n"
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"a typo in a test spec", head + "    version: '1.4'\n    test:\n      comands:\n        - {name: version, command: [agent, --version]}\n",
			[]string{"polyarch.yaml: line 12: field comands not found"}},
		{"a bad regexp in a test spec", head + "    version: '1.4'\n    test:\n      commands:\n        - {name: version, command: [agent], stdout: ['(']}\n",
			[]string{"polyarch.yaml:13: commands[0]: regular expression"}},
		{"a tag the registry refuses", head + "    version: '1.4'\n    tags: [latest, -bad]\n",
			[]string{"polyarch.yaml:11: images[1].tags[1]", "image agent", "version 1.4", `tag "-bad"`, `"r.example/agent:-bad"`}},
		{"a rendered tag the registry refuses", head + "    version: '-rc1'\n",
			[]string{"polyarch.yaml:7: images[1].tags", "image agent", "version -rc1", `"{{.Version}}"`, `"r.example/agent:-rc1"`}},
		{"a version's tag", head + "    tags: ['{{.Version}}']\n    versions:\n      - version: '2.3'\n      - version: '2.4'\n        tags: ['{{.Version}}', '.{{.Version}}']\n",
			[]string{"polyarch.yaml:14: images[1].versions[1].tags[1]", "image agent", "version 2.4", `".{{.Version}}"`, `"r.example/agent:.2.4"`}},
		{"an archRef bad on one platform", head + "    version: '1.4'\n    archRef: 'agent:{{if eq .Arch \"arm64\"}}-{{end}}{{.Arch}}'\n",
			[]string{"polyarch.yaml:11: images[1].archRef", "image agent", "version 1.4", "platform linux/arm64", `"r.example/agent:-arm64"`}},
		{"a repository the registry refuses", head + "    version: '1.4'\n    repository: org/agent-\n",
			[]string{"polyarch.yaml:11: images[1].repository", "image agent", `"r.example/org/agent-"`}},
		{"every mistake at once", head + "    version: '1.4'\n    tags: [-a, -b]\n    test: {comands: []}\n",
			[]string{`tag "-a"`, `tag "-b"`, "field comands not found"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := project(t, noGit(t), tc.yaml, "Dockerfile")
			for _, sel := range [][]string{nil, {"agent"}, {"other"}} {
				p, err := pipeline.NewPlan(cfg, sel, pipeline.Options{})
				if err == nil {
					t.Fatalf("selecting %v planned %v", sel, p.Jobs())
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("selecting %v: error %q lacks %q", sel, err, w)
					}
				}
			}
			amd64, _ := platform.Parse("linux/amd64")
			if _, err := pipeline.NewPlan(cfg, nil, pipeline.Options{Platforms: []v1.Platform{amd64}}); err == nil {
				t.Errorf("planned with --platform linux/amd64")
			}
		})
	}
}

func TestUnitsCarryTheirTestSpec(t *testing.T) {
	cfg := project(t, noGit(t), `
registry: r.example
images:
  - name: agent
    context: .
    platforms: [linux/amd64]
    test:
      arch: false
      commands:
        - {name: version, command: [agent, --version], stdout: ['^agent ']}
  - name: plain
    context: .
    platforms: [linux/amd64]
`, "Dockerfile")
	p, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	agent := unit(t, p, "agent").Test
	if agent == nil || len(agent.Commands) != 1 || agent.Commands[0].Name != "version" || agent.ArchEnabled() {
		t.Errorf("agent's spec %+v", agent)
	}
	if plain := unit(t, p, "plain").Test; plain == nil || !plain.ArchEnabled() || len(plain.Commands) != 0 {
		t.Errorf("plain's spec %+v: want the empty spec (the architecture test only)", plain)
	}
}
