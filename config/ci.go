package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.yaml.in/yaml/v3"

	"github.com/polyarch/polyarch/platform"
)

// CI is the ci: section: where each platform's CI job runs, what starts a
// release, what a pull request gets, how a job installs polyarch and where
// its registry credentials come from. `polyarch ci generate` turns it into
// a GitHub Actions workflow or Jenkins Job Builder jobs.
type CI struct {
	// Runners says where each platform's job runs, keyed by platform, in the
	// order written. A platform left out runs on a GitHub-hosted runner
	// (DefaultRunner).
	Runners Runners `yaml:"runners"`
	// Triggers start a release. At least one is required.
	Triggers Triggers `yaml:"triggers"`
	// PullRequest, when set, builds and tests pull requests without pushing
	// anything, on GitHub-hosted runners only.
	PullRequest *PullRequest `yaml:"pullRequest"`
	// Install is how a job gets polyarch. Required.
	Install Install `yaml:"install"`
	// Registry replaces registry: in CI jobs (their --registry).
	Registry string `yaml:"registry"`
	// Credentials log the jobs in to registries, from CI secrets.
	Credentials []Credential `yaml:"credentials"`
	// Repository (owner/name), when set, keeps the publishing jobs from
	// running in any other repository, such as a fork's copy of the workflow.
	Repository string `yaml:"repository"`
	// Jenkins, when set, is what `polyarch ci generate jenkins` needs.
	Jenkins *Jenkins `yaml:"jenkins"`
}

// Hosted runner labels polyarch defaults to.
const (
	// HostedX86 is the GitHub-hosted x86 runner: linux/amd64 and linux/386
	// jobs run natively there, emulated jobs run there under QEMU.
	HostedX86 = "ubuntu-24.04"
	// HostedARM64 is the GitHub-hosted arm64 runner (free for public repositories).
	HostedARM64 = "ubuntu-24.04-arm"
)

// RunnerKind is where a job runs.
type RunnerKind int

const (
	// Hosted is a GitHub-hosted runner: a fresh virtual machine per job.
	Hosted RunnerKind = iota
	// SelfHosted is a runner the project runs: it must never see code from
	// a pull request.
	SelfHosted
	// Emulated is a hosted x86 runner building the platform under QEMU.
	Emulated
)

func (k RunnerKind) String() string {
	switch k {
	case SelfHosted:
		return "self-hosted"
	case Emulated:
		return "emulated"
	}
	return "hosted"
}

// Runner is where one platform's job runs. In polyarch.yaml it is written
// as a hosted label (`ubuntu-24.04-arm`), `emulate`, a list of self-hosted
// labels (`[self-hosted, linux, ARM64]`), or a map with the fields below.
type Runner struct {
	// Hosted is a GitHub-hosted runner label.
	Hosted string `yaml:"hosted"`
	// SelfHosted are self-hosted runner labels; "self-hosted" is put first
	// when missing, so that every reader (and `polyarch ci check`) sees what
	// the job runs on.
	SelfHosted []string `yaml:"selfHosted"`
	// Emulate is the hosted x86 label to emulate on: `emulate: true` is
	// HostedX86.
	Emulate string `yaml:"emulate"`
	// Agent is the Jenkins agent label (expression) of the platform's job.
	Agent string `yaml:"agent"`
}

// RunnerEntry is one platform's runner, as written.
type RunnerEntry struct {
	Platform string
	Runner
	line int
}

// Runners are ci.runners in the order written.
type Runners []RunnerEntry

// UnmarshalYAML reads the mapping platform: runner, keeping its order.
func (rs *Runners) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: runners is a map of platform: runner", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		e := RunnerEntry{Platform: k.Value, line: k.Line}
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Value == "emulate" {
				e.Emulate = HostedX86
			} else {
				e.Hosted = v.Value
			}
		case yaml.SequenceNode:
			if err := v.Decode(&e.SelfHosted); err != nil {
				return err
			}
		case yaml.MappingNode:
			if err := knownKeys(v, "config.Runner", "hosted", "selfHosted", "emulate", "agent"); err != nil {
				return err
			}
			if err := v.Decode(&e.Runner); err != nil {
				return err
			}
			if e.Emulate == "true" {
				e.Emulate = HostedX86
			} else if e.Emulate == "false" {
				e.Emulate = ""
			}
		default:
			return fmt.Errorf("line %d: runner of %s: a label, emulate, a list of self-hosted labels or a map", v.Line, k.Value)
		}
		*rs = append(*rs, e)
	}
	return nil
}

// knownKeys refuses fields a strict decoder would: yaml's Node.Decode does
// not apply the top-level decoder's KnownFields.
func knownKeys(n *yaml.Node, typ string, keys ...string) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(keys, k.Value) {
			return fmt.Errorf("line %d: field %s not found in type %s", k.Line, k.Value, typ)
		}
	}
	return nil
}

// Triggers start a release.
type Triggers struct {
	// Push are the branches whose pushes release.
	Push []Branch `yaml:"push"`
	// Tags are tag patterns (GitHub's glob syntax) whose pushes release.
	Tags []string `yaml:"tags"`
	// Release releases when a GitHub release is published.
	Release bool `yaml:"release"`
	// Schedule is a cron line (UTC), e.g. "0 3 * * *" for daily at 03:00.
	Schedule string `yaml:"schedule"`
	// Dispatch allows manual runs (workflow_dispatch, which needs write access).
	Dispatch bool `yaml:"dispatch"`
}

// Branch is a branch that releases on push, written `main` or
// {branch: maistra-2.4, select: [builder@2.4]}.
type Branch struct {
	// Name is the branch (a GitHub glob is allowed).
	Name string `yaml:"branch"`
	// Select are IMAGE[@VERSION] selectors: a push to this branch releases
	// only these (a release branch of one version). Default: everything.
	Select []string `yaml:"select"`
	line   int
}

// UnmarshalYAML accepts the short and the long form.
func (b *Branch) UnmarshalYAML(n *yaml.Node) error {
	b.line = n.Line
	if n.Kind == yaml.ScalarNode {
		b.Name = n.Value
		return nil
	}
	if err := knownKeys(n, "config.Branch", "branch", "select"); err != nil {
		return err
	}
	type long Branch
	var l long
	if err := n.Decode(&l); err != nil {
		return err
	}
	*b = Branch(l)
	b.line = n.Line
	return nil
}

// PullRequest is what a pull request gets: a build and test of every
// platform its hosted runners can build, pushed only to a registry inside
// the job, with no credentials.
type PullRequest struct {
	// Branches are the base branches whose pull requests build. Default:
	// the push branches (main when there are none).
	Branches []string `yaml:"branches"`
	// SelfHosted is what a platform on a self-hosted runner gets in a pull
	// request: "skip" (default) or "emulate" on the hosted x86 runner.
	SelfHosted string `yaml:"selfHosted"`
	// Registry is the job-local registry (polyarch registry serve) the
	// build pushes to; default DefaultPullRequestRegistry.
	Registry string `yaml:"registry"`
}

// DefaultPullRequestRegistry is where a pull request's build pushes: a
// registry that lives and dies with the job.
const DefaultPullRequestRegistry = "127.0.0.1:5000"

// Install is how a job gets polyarch.
type Install struct {
	// Version is the polyarch release every job runs. Required.
	Version string `yaml:"version"`
	// Action is the GitHub setup action, pinned to a commit:
	// owner/repo[/path]@<40 hex digits>. It is given `version` as input and
	// puts polyarch, buildkitd and runc on PATH. Required for GitHub.
	Action string `yaml:"action"`
}

// Credential logs jobs in to one registry.
type Credential struct {
	// Registry is host[:port]; default ci.registry, else registry.
	Registry string `yaml:"registry"`
	// Username and Password name CI secrets (GitHub Actions secrets).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Jenkins is the id of a Jenkins username-with-password credential.
	Jenkins string `yaml:"jenkins"`
}

// Jenkins describes the Jenkins Job Builder jobs.
type Jenkins struct {
	// Name prefixes every job's name; default the first image's name.
	Name string `yaml:"name"`
	// Git is the repository URL the jobs check out. Required.
	Git string `yaml:"git"`
	// Branch is the branch they build (and poll); default the first push
	// branch, else main.
	Branch string `yaml:"branch"`
	// Poll is the SCM polling schedule; default "H/15 * * * *".
	Poll string `yaml:"poll"`
	// Agent is the label of the parent and publish jobs; default the agent
	// of linux/amd64.
	Agent string `yaml:"agent"`
}

// Placement is where one platform's CI job runs, defaults applied.
type Placement struct {
	Platform v1.Platform
	Kind     RunnerKind
	// Labels are the GitHub runs-on labels.
	Labels []string
	// Agent is the Jenkins agent label; empty when not given.
	Agent string
	// Optional: the platform is optional in every image that builds it, so
	// its job failing does not fail the run.
	Optional bool
}

// DefaultRunner is where a platform runs when ci.runners leaves it out:
// linux/amd64 and linux/386 on HostedX86, linux/arm64 on HostedARM64, every
// other platform emulated on HostedX86.
func DefaultRunner(p v1.Platform) Runner {
	switch p.Architecture {
	case "amd64", "386":
		return Runner{Hosted: HostedX86}
	case "arm64":
		return Runner{Hosted: HostedARM64}
	}
	return Runner{Emulate: HostedX86}
}

// Placements lists the job of every platform the images build, in the
// order they first appear in images[].platforms. A nil CI places every
// platform on its DefaultRunner.
func (ci *CI) Placements(images []Image) []Placement {
	var out []Placement
	optional := map[string]bool{}
	for _, img := range images {
		for _, t := range img.TargetPlatforms() {
			key := platform.Format(t.Platform)
			if o, seen := optional[key]; seen {
				optional[key] = o && t.Optional
				continue
			}
			optional[key] = t.Optional
			out = append(out, Placement{Platform: t.Platform})
		}
	}
	for i := range out {
		p := &out[i]
		p.Optional = optional[platform.Format(p.Platform)]
		r := DefaultRunner(p.Platform)
		if ci != nil {
			for _, e := range ci.Runners {
				if ep, err := platform.Parse(e.Platform); err == nil && platform.Same(ep, p.Platform) {
					agent := e.Agent
					if e.Hosted != "" || len(e.SelfHosted) > 0 || e.Emulate != "" {
						r = e.Runner
					}
					r.Agent = agent
				}
			}
		}
		p.Agent = r.Agent
		switch {
		case len(r.SelfHosted) > 0:
			p.Kind, p.Labels = SelfHosted, r.SelfHosted
			if !slices.Contains(p.Labels, "self-hosted") {
				p.Labels = append([]string{"self-hosted"}, p.Labels...)
			}
		case r.Emulate != "":
			p.Kind, p.Labels = Emulated, []string{r.Emulate}
		default:
			p.Kind, p.Labels = Hosted, []string{r.Hosted}
		}
	}
	return out
}

// PushBranches are the names of the branches whose pushes release.
func (t Triggers) PushBranches() []string {
	var out []string
	for _, b := range t.Push {
		out = append(out, b.Name)
	}
	return out
}

// PullRequestBranches are the base branches whose pull requests build.
func (ci *CI) PullRequestBranches() []string {
	if ci.PullRequest == nil {
		return nil
	}
	if len(ci.PullRequest.Branches) > 0 {
		return ci.PullRequest.Branches
	}
	if bs := ci.Triggers.PushBranches(); len(bs) > 0 {
		return bs
	}
	return []string{"main"}
}

// PullRequestRegistry is the job-local registry of a pull request's build.
func (ci *CI) PullRequestRegistry() string {
	if ci.PullRequest != nil && ci.PullRequest.Registry != "" {
		return ci.PullRequest.Registry
	}
	return DefaultPullRequestRegistry
}

// CredentialRegistry is the registry a credential logs in to; registry is
// the config's registry:.
func (ci *CI) CredentialRegistry(cr Credential, registry string) string {
	switch {
	case cr.Registry != "":
		return cr.Registry
	case ci.Registry != "":
		return ci.Registry
	}
	return registry
}

// JenkinsName is the prefix of the Jenkins jobs' names.
func (ci *CI) JenkinsName(images []Image) string {
	if ci.Jenkins != nil && ci.Jenkins.Name != "" {
		return ci.Jenkins.Name
	}
	if len(images) > 0 {
		return images[0].Name
	}
	return "polyarch"
}

var (
	ciLabel    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	ciRef      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/*+-]*$`)
	ciSecret   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	ciVersion  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	ciAction   = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[0-9a-f]{40}$`)
	ciRepo     = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	ciHost     = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]+)?$`)
	ciCronPart = regexp.MustCompile(`^[A-Za-z0-9*,/?H-]+$`)
	ciJenkins  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._ &|!()-]*$`)
	ciCredID   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// validateCI checks the ci: section; add reports an error at a field path.
func (c *Config) validateCI(ci *CI, add func(path, format string, args ...any)) {
	if ci == nil {
		return
	}
	built := map[string]bool{}
	for _, img := range c.Images {
		for _, t := range img.TargetPlatforms() {
			built[platform.Format(t.Platform)] = true
		}
	}
	seen := map[string]bool{}
	for _, e := range ci.Runners {
		p := "ci.runners." + e.Platform
		pl, err := platform.Parse(e.Platform)
		if err != nil {
			add(p, "%v", err)
			continue
		}
		key := platform.Format(pl)
		switch {
		case seen[key]:
			add(p, "%s is listed twice", key)
		case !built[key]:
			add(p, "no image builds %s", key)
		}
		seen[key] = true
		kinds := 0
		for _, set := range []bool{e.Hosted != "", len(e.SelfHosted) > 0, e.Emulate != ""} {
			if set {
				kinds++
			}
		}
		if kinds > 1 {
			add(p, "give one of hosted, selfHosted and emulate")
		}
		if e.Hosted == "self-hosted" {
			add(p+".hosted", "self-hosted is not a hosted runner: list self-hosted labels, e.g. [self-hosted, linux, ARM64]")
		} else if e.Hosted != "" && !ciLabel.MatchString(e.Hosted) {
			add(p+".hosted", "runner label %q: letters, digits, '.', '_' and '-' only", e.Hosted)
		}
		if e.Emulate != "" && !ciLabel.MatchString(e.Emulate) {
			add(p+".emulate", "runner label %q: true, or a hosted x86 label such as %s", e.Emulate, HostedX86)
		}
		for _, l := range e.SelfHosted {
			if !ciLabel.MatchString(l) {
				add(p, "self-hosted runner label %q: letters, digits, '.', '_' and '-' only", l)
			}
		}
		if e.Agent != "" && !ciJenkins.MatchString(e.Agent) {
			add(p+".agent", "Jenkins label %q: letters, digits, '.', '_', '-' and the operators && || ! ( )", e.Agent)
		}
	}

	t := ci.Triggers
	if len(t.Push) == 0 && len(t.Tags) == 0 && !t.Release && t.Schedule == "" && !t.Dispatch {
		add("ci.triggers", "missing: nothing would start a release (push, tags, release, schedule, dispatch)")
	}
	for i, b := range t.Push {
		p := fmt.Sprintf("ci.triggers.push[%d]", i)
		if !ciRef.MatchString(b.Name) {
			add(p, "branch %q: letters, digits and . _ / * + - only", b.Name)
		}
		for _, s := range b.Select {
			if err := c.checkSelector(s); err != nil {
				add(p+".select", "%v", err)
			}
		}
	}
	for i, tag := range t.Tags {
		if !ciRef.MatchString(tag) {
			add(fmt.Sprintf("ci.triggers.tags[%d]", i), "tag pattern %q: letters, digits and . _ / * + - only", tag)
		}
	}
	if t.Schedule != "" {
		if err := checkCron(t.Schedule); err != nil {
			add("ci.triggers.schedule", "%v", err)
		}
	}

	if pr := ci.PullRequest; pr != nil {
		for i, b := range pr.Branches {
			if !ciRef.MatchString(b) {
				add(fmt.Sprintf("ci.pullRequest.branches[%d]", i), "branch %q: letters, digits and . _ / * + - only", b)
			}
		}
		if pr.SelfHosted != "" && pr.SelfHosted != "skip" && pr.SelfHosted != "emulate" {
			add("ci.pullRequest.selfHosted", "%q: skip or emulate (a pull request never reaches a self-hosted runner)", pr.SelfHosted)
		}
		if pr.Registry != "" {
			host, port, ok := strings.Cut(pr.Registry, ":")
			if !ok || (host != "127.0.0.1" && host != "localhost") || port == "" || strings.Trim(port, "0123456789") != "" {
				add("ci.pullRequest.registry", "%q: a loopback address such as %s (the registry lives inside the job)", pr.Registry, DefaultPullRequestRegistry)
			}
		}
	}

	switch {
	case ci.Install.Version == "":
		add("ci.install.version", "missing: the polyarch release the jobs run, e.g. v0.5.0")
	case !ciVersion.MatchString(ci.Install.Version):
		add("ci.install.version", "%q: a version such as v0.5.0", ci.Install.Version)
	}
	switch {
	case ci.Install.Action == "":
		add("ci.install.action", "missing: the setup action, pinned to a commit: owner/repo@<40-hex commit>")
	case !ciAction.MatchString(ci.Install.Action):
		add("ci.install.action", "%q: pin the action to a commit: owner/repo[/path]@<40-hex commit> (a tag can be moved)", ci.Install.Action)
	}
	if ci.Registry != "" && !ciHost.MatchString(ci.Registry) {
		add("ci.registry", "%q: host[:port]", ci.Registry)
	}
	if ci.Repository != "" && !ciRepo.MatchString(ci.Repository) {
		add("ci.repository", "%q: owner/name", ci.Repository)
	}
	for i, cr := range ci.Credentials {
		p := fmt.Sprintf("ci.credentials[%d]", i)
		if reg := ci.CredentialRegistry(cr, c.Registry); reg == "" {
			add(p+".registry", "missing: the registry these credentials are for")
		} else if !ciHost.MatchString(reg) {
			add(p+".registry", "%q: host[:port]", reg)
		}
		if cr.Username == "" && cr.Password == "" && cr.Jenkins == "" {
			add(p, "missing: username and password (secret names), or jenkins (a credentials id)")
		}
		if (cr.Username == "") != (cr.Password == "") {
			add(p, "give both username and password (the names of two secrets)")
		}
		for _, f := range []struct{ field, v string }{{"username", cr.Username}, {"password", cr.Password}} {
			switch {
			case f.v == "":
			case !ciSecret.MatchString(f.v):
				add(p+"."+f.field, "secret name %q: letters, digits and '_', not starting with a digit", f.v)
			case strings.HasPrefix(strings.ToUpper(f.v), "GITHUB_"):
				add(p+"."+f.field, "secret name %q: names starting GITHUB_ are reserved by GitHub", f.v)
			}
		}
		if cr.Jenkins != "" && !ciCredID.MatchString(cr.Jenkins) {
			add(p+".jenkins", "credentials id %q: letters, digits, '.', '_' and '-' only", cr.Jenkins)
		}
	}

	if j := ci.Jenkins; j != nil {
		if j.Git == "" {
			add("ci.jenkins.git", "missing: the repository URL the jobs check out")
		} else if strings.ContainsAny(j.Git, " \t\n'\"$`\\") {
			add("ci.jenkins.git", "%q is not a repository URL", j.Git)
		}
		if j.Name != "" && !ciLabel.MatchString(j.Name) {
			add("ci.jenkins.name", "%q: letters, digits, '.', '_' and '-' only", j.Name)
		}
		if j.Branch != "" && !ciRef.MatchString(j.Branch) {
			add("ci.jenkins.branch", "branch %q: letters, digits and . _ / * + - only", j.Branch)
		}
		if j.Poll != "" {
			if err := checkCron(j.Poll); err != nil {
				add("ci.jenkins.poll", "%v", err)
			}
		}
		if j.Agent != "" && !ciJenkins.MatchString(j.Agent) {
			add("ci.jenkins.agent", "Jenkins label %q: letters, digits, '.', '_', '-' and the operators && || ! ( )", j.Agent)
		}
		var agentless []string
		for _, pl := range ci.Placements(c.Images) {
			if pl.Agent == "" {
				agentless = append(agentless, platform.Format(pl.Platform))
			}
		}
		if len(agentless) > 0 {
			add("ci.jenkins", "no Jenkins agent for %s: give each platform an agent label under ci.runners (e.g. linux/arm64: {selfHosted: [ARM64], agent: arm64})", strings.Join(agentless, ", "))
		}
	}
}

// checkSelector checks an IMAGE[@VERSION] selector against the images.
func (c *Config) checkSelector(s string) error {
	name, version, hasVersion := strings.Cut(s, "@")
	img, ok := c.Image(name)
	if !ok {
		return fmt.Errorf("selector %q: no image %q", s, name)
	}
	if !hasVersion {
		return nil
	}
	for _, u := range img.Units() {
		if u.Version == version {
			return nil
		}
	}
	return fmt.Errorf("selector %q: image %s has no version %q", s, name, version)
}

// checkCron checks the shape of a five-field cron line; the CI checks the rest.
func checkCron(s string) error {
	f := strings.Fields(s)
	if len(f) != 5 {
		return fmt.Errorf("cron %q: five fields (minute hour day month weekday), e.g. \"0 3 * * *\"", s)
	}
	for _, p := range f {
		if !ciCronPart.MatchString(p) {
			return fmt.Errorf("cron %q: field %q", s, p)
		}
	}
	return nil
}
