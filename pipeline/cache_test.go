package pipeline_test

import (
	"strings"
	"testing"

	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
)

// cacheRefs maps each target's platform to its job's cache ref.
func cacheRefs(u *pipeline.Unit) map[string]string {
	out := map[string]string{}
	for _, t := range u.Targets {
		out[platform.Format(t.Platform)] = t.Job.Cache.Ref
	}
	return out
}

func TestCacheRefsPerImageVersionAndPlatform(t *testing.T) {
	cfg := twoImagesProject(t)
	plan, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	agent := cacheRefs(unit(t, plan, "agent"))
	for p, want := range map[string]string{
		"linux/amd64":  "reg.example:5000/agent-buildcache:linux-amd64",
		"linux/arm64":  "reg.example:5000/agent-buildcache:linux-arm64",
		"linux/arm/v7": "reg.example:5000/agent-buildcache:linux-arm-v7",
	} {
		if agent[p] != want {
			t.Errorf("agent %s cache %q, want %q", p, agent[p], want)
		}
	}
	// A versions matrix builds its versions at once: one cache each.
	b23, b24 := cacheRefs(unit(t, plan, "builder@2.3")), cacheRefs(unit(t, plan, "builder@2.4"))
	if b23["linux/s390x"] != "reg.example:5000/builder-buildcache:2.3-linux-s390x" || b24["linux/s390x"] != "reg.example:5000/builder-buildcache:2.4-linux-s390x" {
		t.Errorf("builder caches: %v %v", b23, b24)
	}
	for _, u := range plan.Units {
		for _, tg := range u.Targets {
			if tg.Job.Cache.NoCache || tg.Job.Cache.NoExport {
				t.Errorf("%s %s: the cache is on by default: %+v", u.Name(), platform.Format(tg.Platform), tg.Job.Cache)
			}
		}
	}

	plan, err = pipeline.NewPlan(cfg, []string{"agent"}, pipeline.Options{NoCache: true, NoCacheExport: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range plan.Units[0].Targets {
		if c := tg.Job.Cache; !c.NoCache || !c.NoExport || c.Ref == "" {
			t.Errorf("--no-cache --no-cache-export: %+v", c)
		}
	}
}

func TestCacheRefTemplatesAndErrors(t *testing.T) {
	dir := noGit(t)
	cfg := project(t, dir, `registry: reg.example:5000
images:
  - name: agent
    context: .
    platforms: [linux/amd64, linux/arm64]
    version: "1.4"
    cache: {ref: "cache/agent:{{.ArchVariant}}"}
  - name: off
    context: .
    platforms: [linux/amd64]
    cache: {disabled: true}
`, "Dockerfile")
	plan, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cacheRefs(unit(t, plan, "agent")); got["linux/arm64"] != "reg.example:5000/cache/agent:arm64" {
		t.Errorf("templated cache refs %v", got)
	}
	if got := cacheRefs(unit(t, plan, "off")); got["linux/amd64"] != "" {
		t.Errorf("disabled cache: %v", got)
	}

	for _, tc := range []struct{ name, image, want string }{
		{"one ref for two platforms", `
  - name: agent
    context: .
    platforms: [linux/arm/v6, linux/arm/v7]
    cache: {ref: "agent:cache-{{.Arch}}"}`, `polyarch.yaml:6: images[0].cache.ref: image agent, version latest: cache ref template "agent:cache-{{.Arch}}" gives agent:cache-arm for both linux/arm/v6 and linux/arm/v7`},
		{"one ref for two versions", `
  - name: builder
    context: .
    platforms: [linux/amd64]
    cache: {ref: "builder:cache-{{.Arch}}"}
    versions: [{version: "2.3"}, {version: "2.4"}]`, `polyarch.yaml:6: images[0].cache.ref: builder@2.3 and builder@2.4 would share the cache reg.example:5000/builder:cache-amd64: add {{.Version}}`},
		{"a bad tag", `
  - name: agent
    context: .
    platforms: [linux/amd64]
    cache: {ref: "agent:-{{.Arch}}"}`, `polyarch.yaml:6: images[0].cache.ref: image agent, version latest: platform linux/amd64: cache ref "agent:-{{.Arch}}" gives "reg.example:5000/agent:-amd64"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := project(t, noGit(t), "registry: reg.example:5000\nimages:"+tc.image+"\n", "Dockerfile")
			_, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
		})
	}
}
