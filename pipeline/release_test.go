package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
)

// relNode is a builder node that "builds" by pushing a random image of the
// job's platform to the job's ref, and "tests" by answering what the test
// configured. The same node serves every platform, natively.
type relNode struct {
	t *testing.T
	// images are what each platform builds (made once, so a rebuild gives
	// the same digest, as BuildKit's cache does).
	images map[string]v1.Image
	// buildErr, testErr and failTests break a platform's build, keep its
	// tests from running, or fail one of them.
	buildErr  map[string]error
	testErr   map[string]error
	failTests map[string]bool

	mu     sync.Mutex
	built  []string
	tested []string
}

func newRelNode(t *testing.T) *relNode {
	return &relNode{t: t, images: map[string]v1.Image{}, buildErr: map[string]error{}, testErr: map[string]error{}, failTests: map[string]bool{}}
}

func (n *relNode) Name() string             { return "fake" }
func (n *relNode) Native(v1.Platform) bool  { return true }
func (n *relNode) Parallel() int            { return 2 }
func (n *relNode) builds(p string) []string { return n.count(n.built, p) }

func (n *relNode) count(list []string, p string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, s := range list {
		if p == "" || s == p {
			out = append(out, s)
		}
	}
	return out
}

func (n *relNode) image(p v1.Platform) v1.Image {
	n.mu.Lock()
	defer n.mu.Unlock()
	key := platform.Format(p)
	if n.images[key] == nil {
		n.images[key] = testutil.Image(n.t, p.OS, p.Architecture, p.Variant, types.OCIManifestSchema1)
	}
	return n.images[key]
}

// rebuildAll makes every platform's next build a new image.
func (n *relNode) rebuildAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.images = map[string]v1.Image{}
}

func (n *relNode) Build(ctx context.Context, job build.Job, log io.Writer) (build.Output, error) {
	p := platform.Format(job.Platform)
	n.mu.Lock()
	n.built = append(n.built, p)
	err := n.buildErr[p]
	n.mu.Unlock()
	if err != nil {
		fmt.Fprintf(log, "RUN make\nmake: *** [all] Error 2\n")
		return build.Output{}, err
	}
	img := n.image(job.Platform)
	d, err := img.Digest()
	if err != nil {
		return build.Output{}, err
	}
	where := job.Ref
	if job.ByDigest { // as BuildKit's push-by-digest: untagged
		where += "@" + d.String()
	}
	ref, err := name.ParseReference(where)
	if err != nil {
		return build.Output{}, err
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return build.Output{}, err
	}
	return build.Output{Digest: d.String(), Ref: job.Ref}, nil
}

func (n *relNode) Test(ctx context.Context, t *imagetest.Target, spec *imagetest.Spec, o imagetest.Options) ([]imagetest.Result, error) {
	p := platform.Format(t.Platform)
	n.mu.Lock()
	n.tested = append(n.tested, p)
	err, fail := n.testErr[p], n.failTests[p]
	n.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return []imagetest.Result{
		{Platform: p, Image: t.Ref, Kind: imagetest.KindArch, Name: "uname -m", Passed: true},
		{Platform: p, Image: t.Ref, Kind: imagetest.KindCommand, Name: "app --version", Passed: !fail, Message: map[bool]string{true: "exit code: expected 0, got 1"}[fail]},
	}, nil
}

// relNodes serves every platform with node, but those in unserved.
type relNodes struct {
	node     *relNode
	unserved map[string]bool
}

func (ns relNodes) Describe(p v1.Platform) (string, bool, error) {
	if ns.unserved[platform.Format(p)] {
		return "", false, &build.UnservedError{Platform: p, Err: errors.New("the fake serves no " + platform.Format(p))}
	}
	return ns.node.Name(), true, nil
}

func (ns relNodes) For(ctx context.Context, p v1.Platform) (pipeline.Node, bool, error) {
	if _, _, err := ns.Describe(p); err != nil {
		return nil, false, err
	}
	return ns.node, true, nil
}

// relProject plans app 1.0 (tags 1.0 and latest) for platforms (a YAML
// list) in reg.
func relProject(t *testing.T, host, platforms string) *pipeline.Plan {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	yaml := "registry: " + host + "\nimages:\n  - name: app\n    context: .\n    platforms: " + platforms +
		"\n    version: \"1.0\"\n    tags: [\"{{.Version}}\", latest]\n    archRef: \"app:{{.Version}}-{{.OS}}-{{.ArchVariant}}\"\n"
	for f, content := range map[string]string{"Dockerfile": "FROM scratch\n", "polyarch.yaml": yaml} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "polyarch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.NewPlan(cfg, nil, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// published reads the index a name gives: its digest and its platforms'
// digests. No index: "".
func published(t *testing.T, ref string) (string, map[string]string) {
	t.Helper()
	idx, err := remote.Index(testutil.Ref(t, ref))
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return "", nil
		}
		t.Fatalf("reading %s: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range m.Manifests {
		if c.Platform != nil {
			out[platform.Format(*c.Platform)] = c.Digest.String()
		}
	}
	return d.String(), out
}

func release(t *testing.T, plan *pipeline.Plan, nodes pipeline.Nodes) (*pipeline.Report, []pipeline.Event, error) {
	t.Helper()
	var mu sync.Mutex
	var events []pipeline.Event
	rep, err := pipeline.Release(context.Background(), plan, nodes, pipeline.ReleaseOptions{
		LogDir:  t.TempDir(),
		OnEvent: func(e pipeline.Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	})
	return rep, events, err
}

func targetOf(t *testing.T, rep *pipeline.Report, p string) *pipeline.TargetReport {
	t.Helper()
	for _, tr := range rep.Units[0].Targets {
		if tr.Platform == p {
			return tr
		}
	}
	t.Fatalf("the report has no %s target", p)
	return nil
}

const threePlatforms = "[linux/amd64, linux/arm64, {platform: linux/s390x, optional: true}]"

func TestReleasePublishesEveryPlatformThenChecksIt(t *testing.T) {
	reg := testutil.NewRegistry(t)
	node := newRelNode(t)
	plan := relProject(t, reg.Host, threePlatforms)
	rep, events, err := release(t, plan, relNodes{node: node})
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	u := rep.Units[0]
	if !rep.OK || u.Status != pipeline.StatusPublished || u.Reason != "" {
		t.Fatalf("report: ok %v, status %v, reason %q", rep.OK, u.Status, u.Reason)
	}
	idx, children := published(t, reg.Host+"/app:1.0")
	if latest, _ := published(t, reg.Host+"/app:latest"); latest != idx || idx != u.Digest {
		t.Errorf("1.0 is %s, latest %s, the report says %s", idx, latest, u.Digest)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/s390x"} {
		tr := targetOf(t, rep, p)
		if !tr.Status.Passed() || tr.LeftOut || tr.Node != "fake" || !tr.Native || len(tr.Tests) != 2 {
			t.Errorf("%s: %+v", p, tr)
		}
		if children[p] == "" || children[p] != tr.Digest {
			t.Errorf("%s: the index gives %q, the tested image is %s", p, children[p], tr.Digest)
		}
	}
	if len(u.Resolved) != 3 {
		t.Errorf("%d platforms checked after publishing, want 3: %+v", len(u.Resolved), u.Resolved)
	}
	if !slices.ContainsFunc(events, func(e pipeline.Event) bool {
		return e.Stage == pipeline.StagePublish && e.State == pipeline.StateDone && e.Status == pipeline.StatusPublished
	}) {
		t.Errorf("no published event: %+v", events)
	}

	// A rerun of the same images publishes nothing new and tests nothing
	// again: the passing results are found beside each image.
	testedBefore := len(node.count(node.tested, ""))
	rep, _, err = release(t, plan, relNodes{node: node})
	if err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if rep.Units[0].Status != pipeline.StatusUnchanged {
		t.Errorf("second release: status %v, want unchanged", rep.Units[0].Status)
	}
	if n := len(node.count(node.tested, "")); n != testedBefore {
		t.Errorf("the second release tested %d images again", n-testedBefore)
	}
	for _, tr := range rep.Units[0].Targets {
		if !tr.TestsReused || !tr.Status.Passed() {
			t.Errorf("%s: reused %v, status %v", tr.Platform, tr.TestsReused, tr.Status)
		}
	}
}

func TestReleaseLeavesOutAnOptionalPlatformThatFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		breaks func(n *relNode)
		status pipeline.Status
	}{
		{"build fails", func(n *relNode) { n.buildErr["linux/s390x"] = errors.New("exit code 2") }, pipeline.StatusBuildFailed},
		{"a test fails", func(n *relNode) { n.failTests["linux/s390x"] = true }, pipeline.StatusTestsFailed},
		{"tests cannot run", func(n *relNode) { n.testErr["linux/s390x"] = errors.New("no QEMU") }, pipeline.StatusTestsFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testutil.NewRegistry(t)
			node := newRelNode(t)
			tc.breaks(node)
			rep, events, err := release(t, relProject(t, reg.Host, threePlatforms), relNodes{node: node})
			if err != nil {
				t.Fatalf("Release: %v", err)
			}
			u := rep.Units[0]
			if !rep.OK || u.Status != pipeline.StatusPublished {
				t.Errorf("unit %v, ok %v; an optional platform does not block", u.Status, rep.OK)
			}
			_, children := published(t, reg.Host+"/app:1.0")
			if len(children) != 2 || children["linux/amd64"] == "" || children["linux/arm64"] == "" {
				t.Errorf("index platforms %v, want linux/amd64 and linux/arm64", children)
			}
			s390x := targetOf(t, rep, "linux/s390x")
			if s390x.Status != tc.status || !s390x.LeftOut || s390x.Error == "" {
				t.Errorf("s390x: status %v, left out %v, error %q; want %v, left out, and why", s390x.Status, s390x.LeftOut, s390x.Error, tc.status)
			}
			if !slices.ContainsFunc(events, func(e pipeline.Event) bool {
				return e.Stage == pipeline.StagePublish && strings.Contains(e.Text, "without linux/s390x")
			}) {
				t.Errorf("the publish event does not say linux/s390x was left out: %+v", events)
			}
		})
	}
}

func TestReleasePublishesNothingWhenARequiredPlatformFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		breaks func(n *relNode)
		want   string // in the unit's reason
	}{
		{"build fails", func(n *relNode) { n.buildErr["linux/arm64"] = errors.New("exit code 2") }, "linux/arm64 (build failed)"},
		{"a test fails", func(n *relNode) { n.failTests["linux/arm64"] = true }, "linux/arm64 (tests failed)"},
		{"tests cannot run", func(n *relNode) { n.testErr["linux/arm64"] = errors.New("connection refused") }, "linux/arm64 (tests failed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testutil.NewRegistry(t)
			node := newRelNode(t)
			plan := relProject(t, reg.Host, threePlatforms)
			if _, _, err := release(t, plan, relNodes{node: node}); err != nil {
				t.Fatalf("first release: %v", err)
			}
			before, beforeChildren := published(t, reg.Host+"/app:1.0")

			node.rebuildAll()
			tc.breaks(node)
			rep, events, err := release(t, plan, relNodes{node: node})
			if !errors.Is(err, pipeline.ErrReleaseFailed) || !strings.Contains(err.Error(), "app") {
				t.Fatalf("Release: %v, want ErrReleaseFailed naming app", err)
			}
			u := rep.Units[0]
			if rep.OK || u.Status != pipeline.StatusNotPublished || !strings.Contains(u.Reason, tc.want) {
				t.Errorf("report: ok %v, status %v, reason %q; want not published because %s", rep.OK, u.Status, u.Reason, tc.want)
			}
			if arm := targetOf(t, rep, "linux/arm64"); arm.Status.Passed() || arm.LeftOut || arm.Error == "" {
				t.Errorf("arm64: %+v", arm)
			}
			if amd := targetOf(t, rep, "linux/amd64"); !amd.Status.Passed() {
				t.Errorf("amd64 passed on its own, the report says %v", amd.Status)
			}
			for _, tag := range []string{"1.0", "latest"} {
				after, children := published(t, reg.Host+"/app:"+tag)
				if after != before || !maps.Equal(children, beforeChildren) {
					t.Errorf("%s moved from %s to %s (%v): the previous index must stay", tag, before, after, children)
				}
			}
			if !slices.ContainsFunc(events, func(e pipeline.Event) bool {
				return e.State == pipeline.StateFailed && e.Stage == pipeline.StagePublish && strings.Contains(e.Text, "NOT published")
			}) {
				t.Errorf("no NOT published event: %+v", events)
			}
		})
	}
}

func TestReleaseRefusesAPlatformNoNodeCanBuildBeforeBuilding(t *testing.T) {
	reg := testutil.NewRegistry(t)
	node := newRelNode(t)
	plan := relProject(t, reg.Host, "[linux/amd64, windows/amd64, {platform: windows/arm64, optional: true}]")
	nodes := relNodes{node: node, unserved: map[string]bool{"windows/amd64": true, "windows/arm64": true}}

	rep, _, err := release(t, plan, nodes)
	var ue *build.UnservedError
	if !errors.As(err, &ue) || platform.Format(ue.Platform) != "windows/amd64" || rep != nil {
		t.Fatalf("Release = %v, %v; want an UnservedError for windows/amd64 and no report", rep, err)
	}
	if !strings.Contains(err.Error(), "app windows/amd64") || strings.Contains(err.Error(), "windows/arm64") {
		t.Errorf("error %q: want the required platform named, not the optional one", err)
	}
	if b := node.builds(""); len(b) != 0 {
		t.Errorf("built %v before finding that windows/amd64 cannot be built", b)
	}
	if d, _ := published(t, reg.Host+"/app:1.0"); d != "" {
		t.Errorf("published %s", d)
	}

	// Optional only: left out, said why, never built.
	plan = relProject(t, reg.Host, "[linux/amd64, {platform: windows/arm64, optional: true}]")
	rep, _, err = release(t, plan, nodes)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	win := targetOf(t, rep, "windows/arm64")
	if win.Status != pipeline.StatusNotRun || !win.LeftOut || !strings.Contains(win.Error, "the fake serves no windows/arm64") {
		t.Errorf("windows/arm64: %+v", win)
	}
	if b := node.builds("windows/arm64"); len(b) != 0 {
		t.Errorf("built windows/arm64 %d times", len(b))
	}
	if _, children := published(t, reg.Host+"/app:1.0"); len(children) != 1 || children["linux/amd64"] == "" {
		t.Errorf("index platforms %v, want linux/amd64 alone", children)
	}
}
