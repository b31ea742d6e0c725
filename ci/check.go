package ci

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rule names a mistake `polyarch ci check` finds in a GitHub workflow.
type Rule string

const (
	// SelfHostedUntrusted: a job on a self-hosted runner can be started by
	// a pull request or a comment, so anyone's code can run on the runner.
	SelfHostedUntrusted Rule = "self-hosted-untrusted"
	// PullRequestTargetCheckout: a pull_request_target (or comment) job
	// checks out the pull request's head, running its code with the base
	// repository's secrets and write token.
	PullRequestTargetCheckout Rule = "pr-target-checkout"
	// SecretsInPullRequest: a job that runs a pull request's code uses secrets.
	SecretsInPullRequest Rule = "secrets-in-pull-request"
	// Permissions: permissions: write-all, or no permissions at all (the
	// repository's default token, possibly read-write).
	Permissions Rule = "permissions"
	// UnpinnedAction: a third-party action or image not pinned to a digest.
	UnpinnedAction Rule = "unpinned-action"
)

// Finding is one mistake, where it is and how to fix it.
type Finding struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Job     string `json:"job,omitempty"`
	Rule    Rule   `json:"rule"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// String is "file:line:col: job J: message [rule]; fix: ...".
func (f Finding) String() string {
	job := ""
	if f.Job != "" {
		job = "job " + f.Job + ": "
	}
	return fmt.Sprintf("%s:%d:%d: %s%s [%s]\n  fix: %s", f.File, f.Line, f.Column, job, f.Message, f.Rule, f.Fix)
}

// untrusted are the events anyone can cause whose jobs may run a pull
// request's code or act on its content.
var untrusted = []string{"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment", "issue_comment", "discussion_comment"}

// prTargetLike are the untrusted events whose jobs run with the base
// repository's secrets and token, where checking out the head is the mistake.
var prTargetLike = []string{"pull_request_target", "pull_request_review", "pull_request_review_comment", "issue_comment", "discussion_comment"}

// Check audits one workflow file for the mistakes that expose self-hosted
// runners or secrets to untrusted code. It returns an error only when b is
// not a YAML mapping; anything else odd in it is read as best it can be.
func Check(file string, b []byte) ([]Finding, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty workflow", file)
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: a workflow is a mapping (name:, on:, jobs:)", file, root.Line)
	}
	w := &workflow{file: file, root: root, jobs: map[string]*job{}}
	w.read()
	w.checkPermissions()
	for _, j := range w.order {
		w.checkJob(j)
	}
	sort.SliceStable(w.findings, func(a, b int) bool {
		fa, fb := w.findings[a], w.findings[b]
		if fa.Line != fb.Line {
			return fa.Line < fb.Line
		}
		return fa.Column < fb.Column
	})
	return w.findings, nil
}

type workflow struct {
	file     string
	root     *yaml.Node
	events   []string
	jobs     map[string]*job
	order    []*job
	findings []Finding
}

type job struct {
	id      string
	key     *yaml.Node // the job's key, for its line
	node    *yaml.Node
	cond    string
	needs   []string
	reach   map[string]truth // memo of reachable, per event
	visited map[string]bool  // guards needs: cycles
}

func (w *workflow) add(n *yaml.Node, j *job, r Rule, fix, format string, args ...any) {
	f := Finding{File: w.file, Line: n.Line, Column: n.Column, Rule: r, Message: fmt.Sprintf(format, args...), Fix: fix}
	if j != nil {
		f.Job = j.id
	}
	w.findings = append(w.findings, f)
}

// deref follows an alias to its anchor.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return &yaml.Node{}
	}
	return n
}

// get returns the value of key in a mapping, and its key node.
func get(n *yaml.Node, key string) (val, k *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if kn := deref(n.Content[i]); kn.Kind == yaml.ScalarNode && kn.Value == key {
			return deref(n.Content[i+1]), n.Content[i]
		}
	}
	return nil, nil
}

// strs reads a scalar or a sequence of scalars.
func strs(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, e := range n.Content {
			if e = deref(e); e.Kind == yaml.ScalarNode {
				out = append(out, e.Value)
			}
		}
		return out
	}
	return nil
}

func (w *workflow) read() {
	on, _ := get(w.root, "on")
	if on == nil {
		// YAML 1.1 readers turn an unquoted on: into true.
		on, _ = get(w.root, "true")
	}
	if on != nil {
		if on.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(on.Content); i += 2 {
				w.events = append(w.events, deref(on.Content[i]).Value)
			}
		} else {
			w.events = strs(on)
		}
	}
	jobs, _ := get(w.root, "jobs")
	if jobs == nil || jobs.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(jobs.Content); i += 2 {
		k, v := deref(jobs.Content[i]), deref(jobs.Content[i+1])
		j := &job{id: k.Value, key: jobs.Content[i], node: v, reach: map[string]truth{}, visited: map[string]bool{}}
		if c, _ := get(v, "if"); c != nil && c.Kind == yaml.ScalarNode {
			j.cond = c.Value
		}
		needs, _ := get(v, "needs")
		j.needs = strs(needs)
		if _, dup := w.jobs[j.id]; !dup {
			w.jobs[j.id] = j
			w.order = append(w.order, j)
		}
	}
}

// reachable is whether job j can run when the workflow runs for event:
// its if: can be true, and the jobs it needs can run (unless its if: runs
// it whatever they did).
func (w *workflow) reachable(j *job, event string) truth {
	if t, ok := j.reach[event]; ok {
		return t
	}
	if j.visited[event] {
		return maybe // a needs: cycle, which GitHub refuses anyway
	}
	j.visited[event] = true
	t := yes
	if j.cond != "" {
		t = evalCondition(j.cond, map[string]string{"github.event_name": event})
	}
	lc := strings.ToLower(j.cond)
	independent := strings.Contains(lc, "always()") || strings.Contains(lc, "failure()") || strings.Contains(lc, "cancelled()")
	if t != no && !independent {
		for _, n := range j.needs {
			if d, ok := w.jobs[n]; ok && w.reachable(d, event) == no {
				t = no
				break
			}
		}
	}
	j.reach[event] = t
	return t
}

// reachedBy lists the events among evs that can run j.
func (w *workflow) reachedBy(j *job, evs []string) []string {
	var out []string
	for _, e := range w.events {
		if slices.Contains(evs, e) && w.reachable(j, e) != no {
			out = append(out, e)
		}
	}
	return out
}

const fixPermissions = "set `permissions: contents: read` at the top of the workflow and grant more only to the jobs that need it"

func (w *workflow) checkPermissions() {
	top, topKey := get(w.root, "permissions")
	if top != nil && top.Kind == yaml.ScalarNode && top.Value == "write-all" {
		w.add(topKey, nil, Permissions, fixPermissions, "permissions: write-all gives every job a token that can write to the whole repository")
	}
	for _, j := range w.order {
		p, pk := get(j.node, "permissions")
		switch {
		case p != nil && p.Kind == yaml.ScalarNode && p.Value == "write-all":
			w.add(pk, j, Permissions, "list only the scopes the job writes, e.g. `permissions: {contents: read, packages: write}`", "permissions: write-all gives the job a token that can write to the whole repository")
		case p == nil && top == nil:
			w.add(j.key, j, Permissions, fixPermissions, "no permissions: in the job or the workflow, so the job gets the repository's default token, which may be read-write")
		}
	}
}

var (
	fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)
	// hostedLabel matches GitHub-hosted runner labels: ubuntu-24.04,
	// ubuntu-24.04-arm, ubuntu-latest, windows-2025, windows-11-arm, macos-15-xlarge...
	hostedLabel = regexp.MustCompile(`^(ubuntu|windows|macos)-(latest|slim|[0-9][0-9.]*)(-arm|-arm64|-large|-xlarge)?$`)
	matrixRef   = regexp.MustCompile(`^\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}$`)
	// prHead matches what names a pull request's head in a checkout.
	prHead = regexp.MustCompile(`(?i)github\.event\.pull_request\.head|github\.head_ref|refs/pull/|github\.event\.issue\.number|github\.event\.pull_request\.number|github\.event\.number`)
	// prHeadRun matches shell that fetches or checks out a pull request.
	prHeadRun = regexp.MustCompile(`(?i)gh pr checkout|refs/pull/|git (fetch|checkout|pull)[^\n]*(pull/|head_ref|pull_request\.head)`)
	secretRef = regexp.MustCompile(`(?i)\bsecrets\s*(\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[)`)
)

func (w *workflow) checkJob(j *job) {
	w.checkRunner(j)
	headCheckout := w.checkHeadCheckout(j)
	w.checkSecrets(j, headCheckout)
	w.checkPins(j)
}

// selfHosted reports whether a job's runs-on can select a self-hosted
// runner, and the labels that say so.
func (w *workflow) selfHosted(j *job) (*yaml.Node, []string) {
	ro, _ := get(j.node, "runs-on")
	if ro == nil {
		return nil, nil
	}
	var labels []string
	switch ro.Kind {
	case yaml.MappingNode:
		if g, _ := get(ro, "group"); g != nil {
			return ro, []string{"group " + g.Value}
		}
		l, _ := get(ro, "labels")
		labels = strs(l)
	default:
		labels = strs(ro)
	}
	var found []string
	for _, l := range labels {
		for _, v := range w.expand(j, l) {
			if strings.EqualFold(v, "self-hosted") || !hostedLabel.MatchString(v) {
				found = append(found, v)
			}
		}
	}
	return ro, found
}

// expand resolves a label written ${{ matrix.X }} to the values the job's
// matrix gives X; other expressions give nothing (not known to be
// self-hosted).
func (w *workflow) expand(j *job, label string) []string {
	if !strings.Contains(label, "${{") {
		return []string{label}
	}
	m := matrixRef.FindStringSubmatch(strings.TrimSpace(label))
	if m == nil {
		return nil
	}
	matrix, _ := get(j.node, "strategy")
	matrix, _ = get(matrix, "matrix")
	if matrix == nil {
		return nil
	}
	var out []string
	vals, _ := get(matrix, m[1])
	if vals != nil && vals.Kind == yaml.SequenceNode {
		for _, v := range vals.Content {
			out = append(out, strs(deref(v))...)
		}
	}
	inc, _ := get(matrix, "include")
	if inc != nil && inc.Kind == yaml.SequenceNode {
		for _, e := range inc.Content {
			v, _ := get(e, m[1])
			out = append(out, strs(v)...)
		}
	}
	return out
}

func (w *workflow) checkRunner(j *job) {
	ro, labels := w.selfHosted(j)
	if len(labels) == 0 {
		return
	}
	evs := w.reachedBy(j, untrusted)
	if len(evs) == 0 {
		return
	}
	w.add(ro, j, SelfHostedUntrusted,
		"run it only on trusted events (e.g. if: github.event_name == 'push' || github.event_name == 'release'), and build pull requests on GitHub-hosted runners; `polyarch ci generate github` writes both",
		"runs on a self-hosted runner (%s) and can be started by %s: code from anyone's pull request or comment could run on it",
		strings.Join(labels, ", "), strings.Join(evs, ", "))
}

// steps are a job's step mappings.
func steps(j *job) []*yaml.Node {
	s, _ := get(j.node, "steps")
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(s.Content))
	for _, st := range s.Content {
		if st = deref(st); st.Kind == yaml.MappingNode {
			out = append(out, st)
		}
	}
	return out
}

// checkHeadCheckout reports a pull_request_target or comment job that
// checks out the pull request's head, and returns whether it does.
func (w *workflow) checkHeadCheckout(j *job) bool {
	evs := w.reachedBy(j, prTargetLike)
	if len(evs) == 0 {
		return false
	}
	found := false
	for _, st := range steps(j) {
		var at *yaml.Node
		if u, _ := get(st, "uses"); u != nil && strings.HasPrefix(strings.ToLower(u.Value), "actions/checkout@") {
			if ref, _ := get(get1(st, "with"), "ref"); ref != nil && prHead.MatchString(ref.Value) {
				at = ref
			}
			if repo, _ := get(get1(st, "with"), "repository"); repo != nil && prHead.MatchString(repo.Value) || repo != nil && strings.Contains(strings.ToLower(repo.Value), "pull_request.head.repo") {
				at = repo
			}
		}
		if r, _ := get(st, "run"); r != nil && prHeadRun.MatchString(r.Value) {
			at = r
		}
		if at != nil {
			found = true
			w.add(at, j, PullRequestTargetCheckout,
				"check out the base (the default) in "+evs[0]+" jobs; build the pull request's code in a pull_request workflow, which gets no secrets and a read-only token",
				"runs on %s and checks out the pull request's head: its code runs with this repository's secrets and token", strings.Join(evs, ", "))
		}
	}
	return found
}

func get1(n *yaml.Node, key string) *yaml.Node {
	v, _ := get(n, key)
	return v
}

// checkSecrets reports secrets in a job that runs a pull request's code:
// one reachable from pull_request, or a pull_request_target or comment job
// that checks out the head.
func (w *workflow) checkSecrets(j *job, headCheckout bool) {
	evs := w.reachedBy(j, []string{"pull_request"})
	if headCheckout {
		evs = append(evs, w.reachedBy(j, prTargetLike)...)
	}
	if len(evs) == 0 {
		return
	}
	at, name := firstSecret(j.node)
	if at == nil {
		if env, _ := get(w.root, "env"); env != nil {
			at, name = firstSecret(env)
		}
	}
	if at == nil {
		return
	}
	w.add(at, j, SecretsInPullRequest,
		"use secrets only in jobs that run on push, release or schedule; a pull request's build needs none (build it without pushing)",
		"uses %s and runs the code of a pull request (%s): that code can read it", name, strings.Join(evs, ", "))
}

// firstSecret finds the first secret a subtree uses, other than
// GITHUB_TOKEN, or a reusable workflow's secrets: inherit.
func firstSecret(n *yaml.Node) (*yaml.Node, string) {
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, depth int) (*yaml.Node, string)
	walk = func(n *yaml.Node, depth int) (*yaml.Node, string) {
		n = deref(n)
		if seen[n] || depth > 100 {
			return nil, ""
		}
		seen[n] = true
		if n.Kind == yaml.ScalarNode {
			for _, m := range secretRef.FindAllStringSubmatch(n.Value, -1) {
				if !strings.EqualFold(m[2], "GITHUB_TOKEN") {
					if m[2] == "" {
						return n, "secrets[...]"
					}
					return n, "secrets." + m[2]
				}
			}
			return nil, ""
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k, v := deref(n.Content[i]), deref(n.Content[i+1]); k.Value == "secrets" && v.Kind == yaml.ScalarNode && v.Value == "inherit" {
					return v, "secrets: inherit"
				}
			}
		}
		for _, c := range n.Content {
			if at, name := walk(c, depth+1); at != nil {
				return at, name
			}
		}
		return nil, ""
	}
	return walk(n, 0)
}

// checkPins reports third-party actions, reusable workflows and
// docker:// images not pinned to a digest.
func (w *workflow) checkPins(j *job) {
	uses := []*yaml.Node{}
	if u, _ := get(j.node, "uses"); u != nil {
		uses = append(uses, u)
	}
	for _, st := range steps(j) {
		if u, _ := get(st, "uses"); u != nil {
			uses = append(uses, u)
		}
	}
	for _, u := range uses {
		if u.Kind != yaml.ScalarNode {
			continue
		}
		ref := strings.TrimSpace(u.Value)
		switch {
		case strings.HasPrefix(ref, "./"):
		case strings.HasPrefix(ref, "docker://"):
			if !strings.Contains(ref, "@sha256:") {
				w.add(u, j, UnpinnedAction, "pin the image to its digest: docker://image@sha256:<digest>",
					"uses image %s by tag: whoever controls the tag controls what runs", strings.TrimPrefix(ref, "docker://"))
			}
		default:
			path, version, ok := strings.Cut(ref, "@")
			owner, _, _ := strings.Cut(path, "/")
			if o := strings.ToLower(owner); o == "actions" || o == "github" {
				continue
			}
			if !ok || !fullSHA.MatchString(version) {
				w.add(u, j, UnpinnedAction, "pin it to a full commit SHA: "+path+"@<40-hex commit> # "+version,
					"uses third-party %s at %q, a ref its owner can move", path, version)
			}
		}
	}
}
