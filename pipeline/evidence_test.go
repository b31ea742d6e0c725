package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/report"
	"github.com/polyarch/polyarch/sign"
	"github.com/polyarch/polyarch/verify"
)

// The "done means": with sign: configured, a merge job accepts only
// test records signed by a configured key (an unsigned record, or one
// signed by another key, leaves its platform not tested, named), and once
// every record is signed it publishes, then signs every child and the
// index, each child with its SBOM and provenance.
func TestPublishWithSigningTrustsOnlySignedRecords(t *testing.T) {
	ctx := context.Background()
	reg := newFanRegistry(t)
	cfg, u := fanUnit(t, reg.host, fanCommits[1], false)
	spec := fanSpec(t, cfg, u)
	merge, runner, stranger := testutil.SigningKey(t), testutil.SigningKey(t), testutil.SigningKey(t)
	signing := &pipeline.Signing{Key: merge, Evidence: true, RecordKeys: []*sign.PublicKey{merge.Public(), runner.Public()}}

	repoOf := map[string]string{"linux/amd64": "org/app-amd64", "linux/arm64": "org/app-arm64", "linux/arm/v7": "org/app-arm:1.0"}
	resign := func(p string, loc *pipeline.Local, key *sign.Key) {
		t.Helper()
		repo := testutil.Ref(t, reg.host+"/"+strings.TrimSuffix(repoOf[p], ":1.0")+":1.0").Context()
		if err := pipeline.WriteSignedTestRecord(ctx, repo, loc.Record, &pipeline.Signing{Key: key}); err != nil {
			t.Fatal(err)
		}
	}
	amd := fanBuild(t, u, spec, "linux/amd64", true)
	resign("linux/amd64", amd, runner)
	fanBuild(t, u, spec, "linux/arm64", true) // unsigned
	arm := fanBuild(t, u, spec, "linux/arm/v7", true)
	resign("linux/arm/v7", arm, stranger)

	plan := &pipeline.Plan{Config: cfg, Units: []*pipeline.Unit{u}}
	res, err := pipeline.Publish(ctx, plan, pipeline.PublishOptions{Signing: signing})
	if !errors.Is(err, pipeline.ErrNotPublished) {
		t.Fatalf("merge job with unsigned records: %v, want ErrNotPublished", err)
	}
	w := waitsFor(res[0])
	for _, p := range []string{"linux/arm64", "linux/arm/v7"} {
		if !strings.Contains(w[p], "signed by a key of sign:") {
			t.Errorf("%s: %q, want its record refused as not signed by a configured key", p, w[p])
		}
	}
	if _, ok := w["linux/amd64"]; ok {
		t.Errorf("linux/amd64, signed by the runner's key, is refused: %q", w["linux/amd64"])
	}
	if reg.indexWrites.Load() != 0 {
		t.Fatal("an index was written")
	}
	// Without sign: the same records count.
	if _, err := pipeline.Publish(ctx, plan, pipeline.PublishOptions{DryRun: true}); err != nil {
		t.Fatalf("the records without sign: %v", err)
	}

	resign("linux/arm64", &pipeline.Local{Record: fanRecord(t, ctx, reg.host+"/org/app-arm64:1.0", spec)}, runner)
	resign("linux/arm/v7", arm, merge)
	res, err = pipeline.Publish(ctx, plan, pipeline.PublishOptions{Signing: signing})
	if err != nil {
		t.Fatalf("merge job with signed records: %v", err)
	}
	if res[0].Outcome != pipeline.Published || res[0].Signed == nil || len(res[0].Signed.Children) != 3 {
		t.Fatalf("published and signed: %+v", res[0])
	}
	rep, err := verify.Signatures(ctx, testutil.Ref(t, u.IndexRef()), []*sign.PublicKey{merge.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("the published index: %v", err)
	}
	for _, c := range rep.Children {
		if !strings.Contains(c.Provenance.Detail, "native on runner-") || !strings.Contains(c.Provenance.Detail, "tests passed") || !strings.Contains(c.Provenance.Detail, "222222222222") {
			t.Errorf("%s provenance: %q", c.Platform, c.Provenance.Detail)
		}
	}
}

// fanRecord reads back the newest record of the image at ref.
func fanRecord(t *testing.T, ctx context.Context, ref, spec string) *pipeline.TestRecord {
	t.Helper()
	r := testutil.Ref(t, ref)
	img, err := remoteImage(r)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	cf, _ := img.ConfigFile()
	rec, err := pipeline.FindTestRecord(ctx, r.Context().Digest(d.String()), *cf.Platform(), spec)
	if err != nil || rec == nil {
		t.Fatalf("record of %s: %v", ref, err)
	}
	return rec
}

var remoteImage = func(r name.Reference) (v1.Image, error) { return remote.Image(r) }

// A release with signing: images tested before under unsigned records are
// tested again (such records would not count at publish), the records it
// writes are signed, and the index it publishes is signed with every
// child's evidence; a rerun trusts its own signed records.
func TestReleaseWithSigningSignsRecordsAndTheIndex(t *testing.T) {
	reg := testutil.NewRegistry(t)
	plan := relProject(t, reg.Host, "[linux/amd64, linux/arm64]")
	node := newRelNode(t)
	nodes := relNodes{node: node}
	if _, _, err := release(t, plan, nodes); err != nil {
		t.Fatal(err)
	}
	if n := len(node.tested); n != 2 {
		t.Fatalf("%d platforms tested, want 2", n)
	}
	key := testutil.SigningKey(t)
	signed := func() *report.Signed {
		t.Helper()
		rep, err := pipeline.Release(context.Background(), plan, nodes, pipeline.ReleaseOptions{LogDir: t.TempDir(),
			Signing: &pipeline.Signing{Key: key, Evidence: true, RecordKeys: []*sign.PublicKey{key.Public()}}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Units[0].Signed == nil {
			t.Fatalf("the run report of a signed release says nothing of signing: %+v", rep.Units[0])
		}
		return rep.Units[0].Signed
	}
	// The report says what was signed: 2 children with their SBOM and
	// provenance, then the index.
	if s := signed(); s.Format != "tag" || s.Platforms != 2 || s.Written != 2*3+1 || !s.Evidence || s.Duration <= 0 {
		t.Errorf("report of the first signed release: %+v", s)
	}
	if n := len(node.tested); n != 4 {
		t.Errorf("%d platform tests after a signed release, want 4: the unsigned records must not spare a test", n)
	}
	rep, err := verify.Signatures(context.Background(), testutil.Ref(t, reg.Host+"/app:1.0"), []*sign.PublicKey{key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("the released index: %v", err)
	}
	for _, c := range rep.Children {
		if !strings.Contains(c.Provenance.Detail, "native on fake") || !strings.Contains(c.Provenance.Detail, "tests passed") {
			t.Errorf("%s provenance: %q", c.Platform, c.Provenance.Detail)
		}
	}
	if s := signed(); s.Written != 0 {
		t.Errorf("a second signed release wrote %d signatures or attestations, want 0", s.Written)
	}
	if n := len(node.tested); n != 4 {
		t.Errorf("%d platform tests after a second signed release, want 4 (its own signed records reused)", n)
	}
}
