package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/report"
)

// fanRegistry is the embedded registry behind a server that counts the
// writes of the index's main tag.
type fanRegistry struct {
	host        string
	indexWrites atomic.Int32
}

func newFanRegistry(t *testing.T) *fanRegistry {
	t.Helper()
	reg := testutil.NewRegistry(t)
	f := &fanRegistry{}
	h := reg.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/v2/org/app/manifests/1.0" {
			f.indexWrites.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.host = strings.TrimPrefix(srv.URL, "http://")
	return f
}

// commits of the project, oldest first.
var fanCommits = []pipeline.GitInfo{
	{Commit: "1111111111111111111111111111111111111111", Time: "2026-11-20T10:00:00Z"},
	{Commit: "2222222222222222222222222222222222222222", Time: "2026-11-21T10:00:00Z"},
}

var fanPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}

// fanUnit plans the project's one unit with every platform, at commit.
func fanUnit(t *testing.T, host string, git pipeline.GitInfo, noArchTags bool) (*config.Config, *pipeline.Unit) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	yaml := "registry: " + host + "\nimages:\n  - name: app\n    repository: org/app\n    context: app\n" +
		"    platforms: [linux/amd64, linux/arm64, linux/arm/v7]\n    archRef: \"org/app-{{.Arch}}:{{.Version}}\"\n" +
		"    version: \"1.0\"\n    tags: [\"{{.Version}}\", latest]\n"
	file := filepath.Join(dir, "polyarch.yaml")
	os.WriteFile(file, []byte(yaml), 0o644)
	cfg, err := config.Parse(file, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.NewPlan(cfg, nil, pipeline.Options{NoArchTags: noArchTags})
	if err != nil {
		t.Fatal(err)
	}
	u := plan.Units[0]
	u.Git = git
	return cfg, u
}

func fanSpec(t *testing.T, cfg *config.Config, u *pipeline.Unit) string {
	spec, err := pipeline.TestSpec(cfg, u.Image)
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.SpecDigest(spec)
}

// fanBuild does what a runner does for platform p of u: push an image built
// from u's commit to its ref (or by digest) and record its tests.
func fanBuild(t *testing.T, u *pipeline.Unit, spec, p string, passed bool) *pipeline.Local {
	t.Helper()
	var tgt *pipeline.Target
	for _, x := range u.Targets {
		if platform.Format(x.Platform) == p {
			tgt = x
		}
	}
	plat := tgt.Platform
	img := testutil.Image(t, plat.OS, plat.Architecture, plat.Variant, types.OCIManifestSchema1)
	img = mutate.Annotations(img, u.Git.Annotations(u.Version)).(v1.Image)
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var repo name.Repository
	if tgt.Job.ByDigest {
		repo, _ = name.NewRepository(tgt.Job.Ref)
		testutil.Push(t, repo.Digest(d.String()).String(), img)
	} else {
		testutil.Push(t, tgt.Job.Ref, img)
		repo = testutil.Ref(t, tgt.Job.Ref).Context()
	}
	results := []imagetest.Result{{Platform: p, Kind: "command", Name: "hello", Passed: passed, Message: map[bool]string{false: "exit code: expected 0, got 1"}[passed]}}
	rec := &pipeline.TestRecord{Digest: d.String(), Platform: p, SpecDigest: spec, Passed: passed, Node: "runner-" + plat.Architecture,
		Native: true, Commit: u.Git.Commit, Version: u.Version, Results: results, TestDuration: time.Second,
		CI: &pipeline.CIRun{System: "github-actions", Run: "42", Job: "build-" + plat.Architecture}}
	if err := pipeline.WriteTestRecord(context.Background(), repo, rec); err != nil {
		t.Fatal(err)
	}
	return &pipeline.Local{Digest: d.String(), Record: rec}
}

// fanIndex returns the digest of each platform in the published index.
func fanIndex(t *testing.T, ref string) (string, map[string]string) {
	t.Helper()
	desc, err := remote.Get(testutil.Ref(t, ref))
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	var m v1.IndexManifest
	json.Unmarshal(desc.Manifest, &m)
	out := map[string]string{}
	for _, c := range m.Manifests {
		out[platform.Format(*c.Platform)] = c.Digest.String()
	}
	return desc.Digest.String(), out
}

func waitsFor(r *pipeline.PublishResult) map[string]string {
	out := map[string]string{}
	for _, p := range r.State.Platforms {
		if p.Wait != pipeline.Ready {
			out[platform.Format(p.Platform)] = p.Why()
		}
	}
	return out
}

func TestPublishWaitsUntilEveryRunnerIsDone(t *testing.T) {
	for _, noArchTags := range []bool{false, true} {
		t.Run(fmt.Sprintf("noArchTags=%v", noArchTags), func(t *testing.T) {
			reg := newFanRegistry(t)
			cfg, u := fanUnit(t, reg.host, fanCommits[0], noArchTags)
			spec := fanSpec(t, cfg, u)
			ctx := context.Background()
			index := reg.host + "/org/app:1.0"

			built := map[string]*pipeline.Local{}
			for i, p := range fanPlatforms {
				built[p] = fanBuild(t, u, spec, p, true)
				r, err := pipeline.PublishUnit(ctx, u, spec, map[string]*pipeline.Local{p: built[p]}, pipeline.PublishOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if i < len(fanPlatforms)-1 {
					if r.Outcome != pipeline.Waiting {
						t.Fatalf("after the %s runner: %s (%s), want waiting", p, r.Outcome, r.Reason)
					}
					for _, later := range fanPlatforms[i+1:] {
						if w := waitsFor(r)[later]; !strings.HasPrefix(w, "not pushed yet") || !strings.Contains(r.Reason, later+": not pushed yet") {
							t.Errorf("after the %s runner, %s: %q, reason %q; want not pushed yet", p, later, w, r.Reason)
						}
					}
					if _, err := remote.Head(testutil.Ref(t, index)); err == nil {
						t.Fatalf("an index was published after only the %s runner", p)
					}
					continue
				}
				if r.Outcome != pipeline.Published || r.Reason != "" {
					t.Fatalf("last runner: %s (%s), want published", r.Outcome, r.Reason)
				}
			}
			_, got := fanIndex(t, index)
			for _, p := range fanPlatforms {
				if got[p] != built[p].Digest {
					t.Errorf("index gives %s %s, the runner tested %s", p, got[p], built[p].Digest)
				}
			}
			if n := reg.indexWrites.Load(); n != 1 {
				t.Errorf("%d writes of the index, want 1", n)
			}
			if noArchTags {
				tags, err := remote.List(testutil.Ref(t, index).Context())
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(tags, ",") != "1.0,latest" {
					t.Errorf("tags after the publish: %v, want 1.0 and latest only (temporary tags deleted)", tags)
				}
			}

			// The merge job, run after: nothing to do.
			res, err := pipeline.Publish(ctx, &pipeline.Plan{Config: cfg, Units: []*pipeline.Unit{u}}, pipeline.PublishOptions{})
			if err != nil || res[0].Outcome != pipeline.Unchanged {
				t.Fatalf("merge job after the runners: %v, %+v", err, res)
			}
		})
	}
}

func TestPublishNamesWhatEachPlatformWaitsFor(t *testing.T) {
	reg := newFanRegistry(t)
	cfg, u := fanUnit(t, reg.host, fanCommits[1], false)
	spec := fanSpec(t, cfg, u)
	ctx := context.Background()

	fanBuild(t, u, spec, "linux/amd64", true)
	fanBuild(t, u, spec, "linux/arm64", false)
	_, old := fanUnit(t, reg.host, fanCommits[0], false)
	fanBuild(t, old, spec, "linux/arm/v7", true)

	res, err := pipeline.Publish(ctx, &pipeline.Plan{Config: cfg, Units: []*pipeline.Unit{u}}, pipeline.PublishOptions{})
	if !errors.Is(err, pipeline.ErrNotPublished) {
		t.Fatalf("merge job: %v, want ErrNotPublished", err)
	}
	w := waitsFor(res[0])
	if !strings.HasPrefix(w["linux/arm64"], "tests failed: command: hello") {
		t.Errorf("linux/arm64: %q, want tests failed naming the test", w["linux/arm64"])
	}
	if arm := w["linux/arm/v7"]; !strings.HasPrefix(arm, "built from another commit") || !strings.Contains(arm, "111111111111") || !strings.Contains(arm, "222222222222") {
		t.Errorf("linux/arm/v7: %q, want another commit naming both", arm)
	}
	if _, ok := w["linux/amd64"]; ok {
		t.Errorf("linux/amd64 is ready, yet: %q", w["linux/amd64"])
	}
	for _, want := range []string{"linux/arm64: tests failed", "linux/arm/v7: built from another commit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if reg.indexWrites.Load() != 0 {
		t.Error("an index was written")
	}

	// A record for another spec, or whose content is about another
	// digest, does not count.
	t.Run("records that do not count", func(t *testing.T) {
		loc := fanBuild(t, u, "sha256:0000000000000000000000000000000000000000000000000000000000000000", "linux/arm64", true)
		other := fanBuild(t, u, spec, "linux/amd64", true)
		arm64 := testutil.Ref(t, reg.host+"/org/app-arm64:1.0").Context()
		forged := &pipeline.TestRecord{Digest: other.Digest, Platform: "linux/arm64", SpecDigest: spec, Passed: true}
		if err := writeRecordAbout(arm64, loc.Digest, forged); err != nil {
			t.Fatal(err)
		}
		res, _ := pipeline.Publish(ctx, &pipeline.Plan{Config: cfg, Units: []*pipeline.Unit{u}}, pipeline.PublishOptions{})
		if got := waitsFor(res[0])["linux/arm64"]; !strings.HasPrefix(got, "not tested") {
			t.Errorf("linux/arm64 with a record of another spec and one about another digest: %q, want not tested", got)
		}
	})
}

// writeRecordAbout pushes rec as a referrer of subject (which rec does not name).
func writeRecordAbout(repo name.Repository, subject string, rec *pipeline.TestRecord) error {
	return pipeline.WriteTestRecordAbout(context.Background(), repo, subject, rec)
}

func TestPublishNeverGoesBack(t *testing.T) {
	reg := newFanRegistry(t)
	ctx := context.Background()
	cfg, newU := fanUnit(t, reg.host, fanCommits[1], false)
	spec := fanSpec(t, cfg, newU)
	for _, p := range fanPlatforms {
		fanBuild(t, newU, spec, p, true)
	}
	if res, err := pipeline.Publish(ctx, &pipeline.Plan{Config: cfg, Units: []*pipeline.Unit{newU}}, pipeline.PublishOptions{}); err != nil || res[0].Outcome != pipeline.Published {
		t.Fatalf("publishing the new commit: %v %+v", err, res)
	}
	published, _ := fanIndex(t, reg.host+"/org/app:1.0")

	// A late runner of the older commit rebuilds every platform.
	_, oldU := fanUnit(t, reg.host, fanCommits[0], false)
	local := map[string]*pipeline.Local{}
	for _, p := range fanPlatforms {
		local[p] = fanBuild(t, oldU, spec, p, true)
	}
	r, err := pipeline.PublishUnit(ctx, oldU, spec, local, pipeline.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != pipeline.Superseded || !strings.Contains(r.Reason, "222222222222") || !strings.Contains(r.Reason, "111111111111") {
		t.Errorf("late runner of the older commit: %s (%s), want superseded naming both commits", r.Outcome, r.Reason)
	}
	if d, _ := fanIndex(t, reg.host+"/org/app:1.0"); d != published {
		t.Errorf("the index moved from %s to %s", published, d)
	}

	r, err = pipeline.PublishUnit(ctx, oldU, spec, local, pipeline.PublishOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != pipeline.Published || !r.Forced {
		t.Errorf("--force: %s forced=%v (%s), want published, forced", r.Outcome, r.Forced, r.Reason)
	}
}

func TestPublishAfterAPartialRunKeepsEveryPlatform(t *testing.T) {
	reg := newFanRegistry(t)
	ctx := context.Background()
	cfg, u := fanUnit(t, reg.host, fanCommits[0], false)
	spec := fanSpec(t, cfg, u)
	local := map[string]*pipeline.Local{}
	for _, p := range fanPlatforms {
		local[p] = fanBuild(t, u, spec, p, true)
	}
	if r, err := pipeline.PublishUnit(ctx, u, spec, local, pipeline.PublishOptions{}); err != nil || r.Outcome != pipeline.Published {
		t.Fatalf("full release: %v %+v", err, r)
	}
	before, _ := fanIndex(t, reg.host+"/org/app:1.0")

	// A --platform linux/arm64 run of the same commit: the same digest...
	r, err := pipeline.PublishUnit(ctx, u, spec, map[string]*pipeline.Local{"linux/arm64": local["linux/arm64"]}, pipeline.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != pipeline.Unchanged {
		t.Errorf("--platform linux/arm64 run: %s (%s), want unchanged", r.Outcome, r.Reason)
	}
	if after, _ := fanIndex(t, reg.host+"/org/app:1.0"); after != before {
		t.Errorf("index moved from %s to %s", before, after)
	}
	// ... or a rebuild with another digest: that one platform is updated.
	rebuilt := fanBuild(t, u, spec, "linux/arm64", true)
	r, err = pipeline.PublishUnit(ctx, u, spec, map[string]*pipeline.Local{"linux/arm64": rebuilt}, pipeline.PublishOptions{})
	if err != nil || r.Outcome != pipeline.Published {
		t.Fatalf("rebuilt linux/arm64: %v %+v", err, r)
	}
	_, got := fanIndex(t, reg.host+"/org/app:1.0")
	if len(got) != 3 || got["linux/arm64"] != rebuilt.Digest || got["linux/amd64"] != local["linux/amd64"].Digest || got["linux/arm/v7"] != local["linux/arm/v7"].Digest {
		t.Errorf("index after the arm64 rebuild: %v", got)
	}
}

func TestRunnersFinishingTogetherWriteTheIndexOnce(t *testing.T) {
	for _, noArchTags := range []bool{false, true} {
		t.Run(fmt.Sprintf("noArchTags=%v", noArchTags), func(t *testing.T) {
			reg := newFanRegistry(t)
			ctx := context.Background()
			cfg, u := fanUnit(t, reg.host, fanCommits[0], noArchTags)
			spec := fanSpec(t, cfg, u)
			local := map[string]*pipeline.Local{}
			for _, p := range fanPlatforms {
				local[p] = fanBuild(t, u, spec, p, true)
				if err := pipeline.PushPendingTags(ctx, u, map[string]*pipeline.Local{p: local[p]}); err != nil {
					t.Fatal(err)
				}
			}
			results := make([]*pipeline.PublishResult, len(fanPlatforms))
			var wg sync.WaitGroup
			for i, p := range fanPlatforms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := pipeline.PublishUnit(ctx, u, spec, map[string]*pipeline.Local{p: local[p]}, pipeline.PublishOptions{Settle: 10 * time.Second})
					if err != nil {
						t.Error(err)
						return
					}
					results[i] = r
				}()
			}
			wg.Wait()
			published := 0
			for i, r := range results {
				if r == nil {
					continue
				}
				switch r.Outcome {
				case pipeline.Published:
					published++
				case pipeline.Unchanged:
				default:
					t.Errorf("%s runner: %s (%s)", fanPlatforms[i], r.Outcome, r.Reason)
				}
			}
			if published != 1 || reg.indexWrites.Load() != 1 {
				t.Errorf("%d runners said published, %d index writes; want 1 and 1", published, reg.indexWrites.Load())
			}
			_, got := fanIndex(t, reg.host+"/org/app:1.0")
			for _, p := range fanPlatforms {
				if got[p] != local[p].Digest {
					t.Errorf("%s: index gives %s, tested %s", p, got[p], local[p].Digest)
				}
			}
		})
	}
}

func TestTagArchRefNeverMovesBack(t *testing.T) {
	reg := newFanRegistry(t)
	ctx := context.Background()
	cfg, newU := fanUnit(t, reg.host, fanCommits[1], false)
	spec := fanSpec(t, cfg, newU)
	_, oldU := fanUnit(t, reg.host, fanCommits[0], false)
	tag := reg.host + "/org/app-arm64:1.0"
	target := newU.Targets[1]
	if platform.Format(target.Platform) != "linux/arm64" || pipeline.PushJob(target).Ref != reg.host+"/org/app-arm64" || !pipeline.PushJob(target).ByDigest {
		t.Fatalf("release pushes %s by digest into %+v", target.Job.Ref, pipeline.PushJob(target))
	}

	// The runner of the newer commit has tagged its image.
	newer := fanBuild(t, newU, spec, "linux/arm64", true)
	// A runner of the older commit pushes its image by digest, then tags.
	img := testutil.Image(t, "linux", "arm64", "", types.OCIManifestSchema1)
	img = mutate.Annotations(img, oldU.Git.Annotations(oldU.Version)).(v1.Image)
	d, _ := img.Digest()
	testutil.Push(t, reg.host+"/org/app-arm64@"+d.String(), img)
	moved, why, err := pipeline.TagArchRef(ctx, oldU, oldU.Targets[1], d.String())
	if err != nil || moved || !strings.Contains(why, "222222222222") {
		t.Errorf("older runner: moved %v, %q, %v; want the tag left alone, naming the newer commit", moved, why, err)
	}
	if got, _ := remote.Head(testutil.Ref(t, tag)); got.Digest.String() != newer.Digest {
		t.Errorf("%s moved to %s", tag, got.Digest)
	}

	// A newer runner moves it, and so does a rerun of the same commit.
	newest := testutil.Image(t, "linux", "arm64", "", types.OCIManifestSchema1)
	newest = mutate.Annotations(newest, newU.Git.Annotations(newU.Version)).(v1.Image)
	nd, _ := newest.Digest()
	testutil.Push(t, reg.host+"/org/app-arm64@"+nd.String(), newest)
	if moved, why, err := pipeline.TagArchRef(ctx, newU, target, nd.String()); err != nil || !moved {
		t.Errorf("same commit: moved %v, %q, %v", moved, why, err)
	}
	if got, _ := remote.Head(testutil.Ref(t, tag)); got.Digest != nd {
		t.Errorf("%s is %s, want %s", tag, got.Digest, nd)
	}
}

func TestPreviewPublishOfAPartialRun(t *testing.T) {
	reg := newFanRegistry(t)
	ctx := context.Background()
	cfg, u := fanUnit(t, reg.host, fanCommits[0], false)
	spec := fanSpec(t, cfg, u)
	fanBuild(t, u, spec, "linux/amd64", true)
	arm64 := &pipeline.Unit{}
	*arm64 = *u
	arm64.Targets = []*pipeline.Target{u.Targets[1]}

	r, err := pipeline.PreviewPublish(ctx, cfg, arm64, pipeline.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := waitsFor(r)
	if r.Outcome != pipeline.Waiting || !strings.Contains(r.Reason, "linux/arm/v7: not pushed yet") || strings.Contains(r.Reason, "linux/amd64") || strings.Contains(r.Reason, "linux/arm64") {
		t.Errorf("preview of a linux/arm64 run with amd64 done: %s (%s), want waiting for linux/arm/v7 only", r.Outcome, r.Reason)
	}
	if w["linux/arm64"] != "built by this run" {
		t.Errorf("linux/arm64 in the preview: %q", w["linux/arm64"])
	}
	fanBuild(t, u, spec, "linux/arm/v7", true)
	if r, err = pipeline.PreviewPublish(ctx, cfg, arm64, pipeline.PublishOptions{}); err != nil || r.Outcome != pipeline.WouldPublish {
		t.Errorf("preview with the others done: %v %s (%s), want would publish", err, r.Outcome, r.Reason)
	}
	if reg.indexWrites.Load() != 0 {
		t.Error("a preview wrote the index")
	}
}

// The regression of issue 10: a --platform release after a full release
// replaced the published 3-platform index with a 1-platform one.
func TestReleaseOfSomePlatformsNeverPublishesASmallerIndex(t *testing.T) {
	reg := testutil.NewRegistry(t)
	node := newRelNode(t)
	full := relProject(t, reg.Host, threePlatforms)
	arm64, err := pipeline.NewPlan(full.Config, nil, pipeline.Options{Platforms: []v1.Platform{{OS: "linux", Architecture: "arm64"}}})
	if err != nil {
		t.Fatal(err)
	}

	// On a fresh registry the arm64 runner waits for the others.
	rep, _, err := release(t, arm64, relNodes{node: node})
	if err != nil || !rep.OK || rep.Units[0].Status != report.Waiting {
		t.Fatalf("arm64 runner first: %v, ok %v, status %v (%s); want waiting", err, rep.OK, rep.Units[0].Status, rep.Units[0].Reason)
	}
	if !strings.Contains(rep.Units[0].Reason, "linux/amd64: not pushed yet") || strings.Contains(rep.Units[0].Reason, "linux/s390x") {
		t.Errorf("waiting reason %q: want linux/amd64 not pushed yet, and nothing about the optional s390x", rep.Units[0].Reason)
	}
	if d, _ := published(t, reg.Host+"/app:1.0"); d != "" {
		t.Fatalf("the arm64 runner published %s alone", d)
	}

	if rep, _, err = release(t, full, relNodes{node: node}); err != nil || rep.Units[0].Status != pipeline.StatusPublished {
		t.Fatalf("full release: %v %+v", err, rep.Units[0])
	}
	before, children := published(t, reg.Host+"/app:1.0")

	rep, _, err = release(t, arm64, relNodes{node: node})
	if err != nil || rep.Units[0].Status != pipeline.StatusUnchanged {
		t.Errorf("--platform linux/arm64 after the full release: %v, status %v (%s); want unchanged", err, rep.Units[0].Status, rep.Units[0].Reason)
	}
	if after, got := published(t, reg.Host+"/app:1.0"); after != before || len(got) != 3 {
		t.Errorf("the index went from %s %v to %s %v", before, children, after, got)
	}

	node.rebuildAll() // arm64 rebuilt with another digest: that platform is updated
	rep, _, err = release(t, arm64, relNodes{node: node})
	if err != nil || rep.Units[0].Status != pipeline.StatusPublished {
		t.Fatalf("rebuilt arm64: %v, status %v (%s)", err, rep.Units[0].Status, rep.Units[0].Reason)
	}
	_, got := published(t, reg.Host+"/app:1.0")
	if len(got) != 3 || got["linux/amd64"] != children["linux/amd64"] || got["linux/s390x"] != children["linux/s390x"] || got["linux/arm64"] != targetOf(t, rep, "linux/arm64").Digest {
		t.Errorf("after the arm64 rebuild the index has %v; before %v", got, children)
	}
}
