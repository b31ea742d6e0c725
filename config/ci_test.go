package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/platform"
)

const ciImages = `
registry: 127.0.0.1:5000
images:
  - name: agent
    context: .
    platforms: [linux/amd64, linux/arm64, {platform: linux/arm/v7, optional: true}, linux/s390x]
  - name: builder
    context: .
    platforms: [linux/amd64, linux/ppc64le]
    versions:
      - version: "2.3"
      - version: "2.4"
`

const pinned = "polyarch/setup-polyarch@0123456789abcdef0123456789abcdef01234567"

func TestCISectionLoads(t *testing.T) {
	p := project(t, ciImages+`
ci:
  runners:
    linux/amd64: ubuntu-22.04
    linux/aarch64: {selfHosted: [linux, ARM64], agent: arm64-agent}
    linux/arm/v7: [self-hosted, ARM]
    linux/s390x: emulate
  triggers:
    push: [main, {branch: maistra-2.4, select: [builder@2.4]}]
    tags: ["v*"]
    release: true
    schedule: "0 3 * * *"
    dispatch: true
  pullRequest: {selfHosted: emulate}
  install: {version: v0.5.0, action: `+pinned+`}
  registry: docker.io
  credentials:
    - {username: DOCKERHUB_USERNAME, password: DOCKERHUB_TOKEN}
  repository: antrea-io/antrea
`, "Dockerfile")
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.CI == nil {
		t.Fatal("no ci section")
	}
	got := map[string]config.Placement{}
	var order []string
	for _, pl := range c.CI.Placements(c.Images) {
		got[platform.Format(pl.Platform)] = pl
		order = append(order, platform.Format(pl.Platform))
	}
	want := []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x", "linux/ppc64le"}
	if !slices.Equal(order, want) {
		t.Fatalf("placements in order %v, want %v (first appearance in images)", order, want)
	}
	check := func(p string, kind config.RunnerKind, labels ...string) {
		t.Helper()
		if got[p].Kind != kind || !slices.Equal(got[p].Labels, labels) {
			t.Errorf("%s runs %s on %v, want %s on %v", p, got[p].Kind, got[p].Labels, kind, labels)
		}
	}
	check("linux/amd64", config.Hosted, "ubuntu-22.04")
	check("linux/arm64", config.SelfHosted, "self-hosted", "linux", "ARM64")
	check("linux/arm/v7", config.SelfHosted, "self-hosted", "ARM")
	check("linux/s390x", config.Emulated, config.HostedX86)
	check("linux/ppc64le", config.Emulated, config.HostedX86) // not listed: the default
	if got["linux/arm64"].Agent != "arm64-agent" {
		t.Errorf("arm64 agent %q", got["linux/arm64"].Agent)
	}
	if !got["linux/arm/v7"].Optional || got["linux/amd64"].Optional {
		t.Errorf("optional: arm/v7 %v, amd64 %v", got["linux/arm/v7"].Optional, got["linux/amd64"].Optional)
	}
	if b := c.CI.Triggers.Push[1]; b.Name != "maistra-2.4" || !slices.Equal(b.Select, []string{"builder@2.4"}) {
		t.Errorf("second push branch %+v", b)
	}
	if got := c.CI.PullRequestBranches(); !slices.Equal(got, []string{"main", "maistra-2.4"}) {
		t.Errorf("pull request branches %v, want the push branches", got)
	}
	if got := c.CI.PullRequestRegistry(); got != config.DefaultPullRequestRegistry {
		t.Errorf("pull request registry %q", got)
	}
	if got := c.CI.CredentialRegistry(c.CI.Credentials[0], c.Registry); got != "docker.io" {
		t.Errorf("credential registry %q, want ci.registry", got)
	}
}

func TestDefaultRunners(t *testing.T) {
	var ci *config.CI // no ci: section at all
	imgs := []config.Image{{Name: "a", Platforms: []config.PlatformEntry{{Platform: "linux/amd64"}, {Platform: "linux/arm64"}, {Platform: "linux/riscv64"}}}}
	var got []string
	for _, p := range ci.Placements(imgs) {
		got = append(got, p.Kind.String()+" "+strings.Join(p.Labels, ","))
	}
	want := []string{"hosted ubuntu-24.04", "hosted ubuntu-24.04-arm", "emulated ubuntu-24.04"}
	if !slices.Equal(got, want) {
		t.Errorf("default placements %v, want %v", got, want)
	}
}

func TestCIMistakesNameFileLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, ci, want string
	}{
		{"platform no image builds", "runners: {linux/riscv64: emulate}", ":8: ci.runners.linux/riscv64: no image builds linux/riscv64"},
		{"unknown platform", "runners: {linux/arm65: emulate}", `:8: ci.runners.linux/arm65: `},
		{"platform twice", "runners: {linux/arm64: ubuntu-24.04-arm, linux/aarch64: emulate}", "ci.runners.linux/aarch64: linux/arm64 is listed twice"},
		{"two kinds", "runners: {linux/arm64: {hosted: ubuntu-24.04-arm, emulate: true}}", "ci.runners.linux/arm64: give one of hosted, selfHosted and emulate"},
		{"self-hosted as hosted", "runners: {linux/arm64: self-hosted}", "ci.runners.linux/arm64.hosted: self-hosted is not a hosted runner"},
		{"label with a space", "runners: {linux/arm64: [self-hosted, 'ARM 64']}", `self-hosted runner label "ARM 64"`},
		{"unknown runner field", "runners: {linux/arm64: {hostd: x}}", "line 8: field hostd not found in type config.Runner"},
		{"no triggers", "triggers: {}", ":8: ci.triggers: missing: nothing would start a release"},
		{"bad cron", "triggers: {schedule: daily}", `ci.triggers.schedule: cron "daily": five fields`},
		{"unknown selector image", "triggers: {push: [{branch: b, select: [nope]}]}", `ci.triggers.push[0].select: selector "nope": no image "nope"`},
		{"unknown selector version", "triggers: {push: [{branch: b, select: [builder@9]}]}", `selector "builder@9": image builder has no version "9"`},
		{"branch with a quote", `triggers: {push: ["ma'in"]}`, `ci.triggers.push[0]: branch "ma'in"`},
		{"pull request on self-hosted", "pullRequest: {selfHosted: run}", `ci.pullRequest.selfHosted: "run": skip or emulate`},
		{"pull request registry not loopback", "pullRequest: {registry: docker.io}", `ci.pullRequest.registry: "docker.io": a loopback address`},
		{"no version", "install: {version: '', action: " + pinned + "}", ":8: ci.install.version: missing"},
		{"action on a tag", "install: {version: v1, action: polyarch/setup-polyarch@v1}", `ci.install.action: "polyarch/setup-polyarch@v1": pin the action to a commit`},
		{"no action", "install: {version: v1}", "ci.install.action: missing"},
		{"secret name", "credentials: [{username: 'my user', password: P}]", `ci.credentials[0].username: secret name "my user"`},
		{"reserved secret", "credentials: [{username: GITHUB_USER, password: P}]", `secret name "GITHUB_USER": names starting GITHUB_ are reserved`},
		{"half a credential", "credentials: [{username: U}]", "ci.credentials[0]: give both username and password"},
		{"jenkins without git", "jenkins: {name: v}\n  runners: {linux/amd64: {agent: x}, linux/arm64: {agent: y}, linux/arm/v7: {agent: z}, linux/s390x: {agent: s}, linux/ppc64le: {agent: p}}", "ci.jenkins.git: missing"},
		{"jenkins without agents", "jenkins: {git: https://example.com/r.git}", "ci.jenkins: no Jenkins agent for linux/amd64, linux/arm64, linux/arm/v7, linux/s390x, linux/ppc64le"},
		{"repository", "repository: antrea", `ci.repository: "antrea": owner/name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case writes the field it tests; the other required ones are filled in.
			body := map[string]string{
				"triggers": "triggers: {push: [main]}",
				"install":  "install: {version: v0.5.0, action: " + pinned + "}",
			}
			key, _, _ := strings.Cut(tc.ci, ":")
			body[key] = tc.ci
			lines := []string{"ci:", "  " + body[key]}
			for _, k := range []string{"triggers", "install"} {
				if k != key {
					lines = append(lines, "  "+body[k])
				}
			}
			p := project(t, strings.TrimPrefix(ciImagesShort, "\n")+strings.Join(lines, "\n")+"\n", "Dockerfile")
			_, err := config.Load(p)
			if err == nil {
				t.Fatalf("loaded; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n%v\nwant it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "polyarch.yaml:") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// ciImagesShort is seven lines, so ci: is line 7 and its first field line 8.
const ciImagesShort = `
images:
  - name: builder
    context: .
    platforms: [linux/amd64, linux/arm64, linux/arm/v7, linux/s390x, linux/ppc64le]
    versions: [{version: "2.3"}, {version: "2.4"}]
registry: 127.0.0.1:5000
`
