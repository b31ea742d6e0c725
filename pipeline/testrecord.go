package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/sign"
)

// Test records are kept in the registry, beside the image they are about:
// an OCI artifact whose subject is the tested digest, found again through the
// referrers API. They are the only state a release shares between machines:
// a rerun that finds a passing record for the same digest and spec does not
// test again, and a publish step on any machine (the last CI job, or the
// runner that finishes last) decides from them whether every required
// platform passed.
//
// A record counts for a (digest, platform, spec) only when its subject, its
// content and its annotations all name that digest, platform and spec
// digest; the newest such record (passed or failed) is the verdict. Its
// integrity rests on who may push to the repository: anyone who can push an
// image can push a record beside it (docs/fanout.md).
const (
	// testRecordArtifactType is the artifactType of a record; version 1
	// records (a bare list of passing results) are not read any more, so
	// images tested by an older polyarch are tested again.
	testRecordArtifactType = "application/vnd.polyarch.test-record.v2+json"
	annotationSpecDigest   = "dev.polyarch.test.spec-digest"
	annotationPlatform     = "dev.polyarch.test.platform"
	annotationOutcome      = "dev.polyarch.test.outcome"
	// annotationRecordSignature is the base64 signature, by the runner's
	// sign: key, over the record's blob; annotationRecordKey names that key
	// (pipeline/evidence.go).
	annotationRecordSignature = "dev.polyarch.test.signature"
	annotationRecordKey       = "dev.polyarch.test.key"
	annotationCreated         = "org.opencontainers.image.created"
	// annotationRecordBlob names the record's layer, so that a reader of
	// the referrers listing fetches the record in one request.
	annotationRecordBlob = "dev.polyarch.test.record-blob"
	// recordTime is the created annotation's format: fixed width, so that
	// the times sort as strings too.
	recordTime = "2006-01-02T15:04:05.000000000Z07:00"
	// testRecordFormat changes when what "passed" means changes (the
	// automatic tests, say), so that older records are not trusted.
	testRecordFormat = "polyarch-test-v1"
	// maxRecordSize bounds how much of a record is read.
	maxRecordSize = 16 << 20
)

// Outcomes of a test record, in its annotation.
const (
	outcomePassed = "passed"
	outcomeFailed = "failed"
)

// TestRecord is one test run of one per-arch image, as kept in the registry.
type TestRecord struct {
	// Polyarch is the version of polyarch that ran the tests.
	Polyarch string `json:"polyarch"`
	// Digest is the tested manifest; Platform the platform it was tested as.
	Digest   string `json:"digest"`
	Platform string `json:"platform"`
	// SpecDigest identifies the test spec (and what the automatic tests
	// were) the image was tested against.
	SpecDigest string `json:"specDigest"`
	Passed     bool   `json:"passed"`
	// Node built and tested the image, natively or under emulation.
	Node   string `json:"node,omitempty"`
	Native bool   `json:"native"`
	// BuildDuration is zero when the image was not built by the same run.
	BuildDuration time.Duration `json:"buildDuration,omitempty"`
	TestDuration  time.Duration `json:"testDuration"`
	// Commit and Version are what the image says it was built from.
	Commit  string `json:"commit,omitempty"`
	Version string `json:"version,omitempty"`
	// CI is the CI run and job that tested it, when it ran in CI.
	CI      *CIRun             `json:"ci,omitempty"`
	Time    time.Time          `json:"time"`
	Results []imagetest.Result `json:"results"`

	// Ref is where the record itself is stored (set when read or written).
	Ref string `json:"-"`
}

// Failures lists the tests that failed, as "kind: name".
func (r *TestRecord) Failures() []string {
	var out []string
	for _, t := range r.Results {
		if t.Failed() {
			out = append(out, t.Kind+": "+t.Name)
		}
	}
	return out
}

// SpecDigest identifies a test spec in records: a record of another spec
// (or of an older meaning of the automatic tests) never counts.
func SpecDigest(spec *imagetest.Spec) string {
	b, _ := json.Marshal(struct {
		Format string
		Spec   *imagetest.Spec
	}{testRecordFormat, spec})
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// PolyarchVersion is this binary's version as records name it: the module
// version, or the VCS revision of a development build.
func PolyarchVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	switch {
	case rev == "":
		return "dev"
	case dirty:
		return "dev+" + rev + "-dirty"
	}
	return "dev+" + rev
}

// rawManifest is a manifest pushed as is.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.body, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// withContext puts ctx last among opts: the context argument wins over any
// context the options already carry.
func withContext(ctx context.Context, opts []remote.Option) []remote.Option {
	return append(append([]remote.Option{}, opts...), remote.WithContext(ctx))
}

// WriteTestRecord pushes rec as a referrer of rec.Digest in repo. Its
// Polyarch and Time are filled in when empty.
func WriteTestRecord(ctx context.Context, repo name.Repository, rec *TestRecord, opts ...remote.Option) error {
	return writeTestRecord(ctx, repo, rec.Digest, rec, nil, opts)
}

// WriteSignedTestRecord is WriteTestRecord, the record signed with s's key
// (unsigned when s is nil).
func WriteSignedTestRecord(ctx context.Context, repo name.Repository, rec *TestRecord, s *Signing, opts ...remote.Option) error {
	return writeTestRecord(ctx, repo, rec.Digest, rec, s, opts)
}

// writeTestRecord pushes rec as a referrer of subject, signed by s unless nil.
func writeTestRecord(ctx context.Context, repo name.Repository, subject string, rec *TestRecord, s *Signing, opts []remote.Option) error {
	opts = withContext(ctx, opts)
	if rec.Polyarch == "" {
		rec.Polyarch = PolyarchVersion()
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	subjectRef := repo.Digest(subject)
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	sig, err := s.signRecord(body)
	if err != nil {
		return err
	}
	layer := static.NewLayer(body, types.MediaType(testRecordArtifactType))
	emptyCfg := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	for _, l := range []v1.Layer{layer, emptyCfg} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return fmt.Errorf("recording the tests of %s: %w", subjectRef, err)
		}
	}
	ld, _ := layer.Digest()
	ed, _ := emptyCfg.Digest()
	sd, err := remote.Head(subjectRef, opts...)
	if err != nil {
		return fmt.Errorf("recording the tests of %s: %w", subjectRef, err)
	}
	outcome := outcomeFailed
	if rec.Passed {
		outcome = outcomePassed
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  testRecordArtifactType,
		Config:        v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: ed, Size: 2},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(testRecordArtifactType), Digest: ld, Size: int64(len(body))}},
		Subject:       &v1.Descriptor{MediaType: sd.MediaType, Digest: sd.Digest, Size: sd.Size},
		Annotations: map[string]string{
			annotationSpecDigest: rec.SpecDigest,
			annotationPlatform:   rec.Platform,
			annotationOutcome:    outcome,
			annotationCreated:    rec.Time.UTC().Format(recordTime),
			annotationRecordBlob: ld.String(),
		},
	}
	for k, v := range sig {
		m.Annotations[k] = v
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	dst := repo.Digest("sha256:" + hex.EncodeToString(sum[:]))
	if err := remote.Put(dst, rawManifest{body: raw, mt: types.OCIManifestSchema1}, opts...); err != nil {
		return fmt.Errorf("recording the tests of %s: %w", subjectRef, err)
	}
	rec.Ref = dst.String()
	return nil
}

// FindTestRecord returns the newest record of ref tested as p against the
// spec with digest spec, passed or failed; nil when there is none. Records
// whose content names another digest, platform or spec are skipped.
func FindTestRecord(ctx context.Context, ref name.Digest, p v1.Platform, spec string, opts ...remote.Option) (*TestRecord, error) {
	rec, _, err := findTestRecord(ctx, ref, platform.Format(p), spec, nil, opts)
	return rec, err
}

// findTestRecord is FindTestRecord; an empty plat takes any platform. With
// keys, only records whose blob one of them signed count; unsigned counts
// the records skipped for that.
func findTestRecord(ctx context.Context, ref name.Digest, plat, spec string, keys []*sign.PublicKey, opts []remote.Option) (rec *TestRecord, unsigned int, err error) {
	opts = withContext(ctx, opts)
	idx, err := remote.Referrers(ref, append(opts, remote.WithFilter("artifactType", testRecordArtifactType))...)
	if err != nil {
		return nil, 0, fmt.Errorf("listing the test records of %s: %w", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, 0, fmt.Errorf("listing the test records of %s: %w", ref, err)
	}
	var candidates []v1.Descriptor
	for _, d := range im.Manifests {
		if d.ArtifactType == testRecordArtifactType && d.Annotations[annotationSpecDigest] == spec && (plat == "" || d.Annotations[annotationPlatform] == plat) {
			candidates = append(candidates, d)
		}
	}
	// Newest first.
	created := func(d v1.Descriptor) time.Time {
		t, _ := time.Parse(time.RFC3339Nano, d.Annotations[annotationCreated])
		return t
	}
	sort.SliceStable(candidates, func(i, j int) bool { return created(candidates[i]).After(created(candidates[j])) })
	// A record that cannot be read is an error (the registry's, or the
	// network's); one whose content is about another digest, platform or
	// spec than its listing says is not a record of this image: skipped.
	var readErrs []error
	for _, d := range candidates {
		rec, body, err := readTestRecord(ref.Context().Digest(d.Digest.String()), d.Annotations[annotationRecordBlob], opts)
		if err != nil {
			readErrs = append(readErrs, err)
			continue
		}
		if len(keys) > 0 && sign.VerifyBlob(body, d.Annotations[annotationRecordSignature], keys) == nil {
			unsigned++
			continue
		}
		if rec.Digest != ref.DigestStr() || rec.Platform != d.Annotations[annotationPlatform] || rec.SpecDigest != spec ||
			rec.Passed != (d.Annotations[annotationOutcome] == outcomePassed) || rec.Passed && len(rec.Failures()) > 0 {
			continue
		}
		return rec, unsigned, nil
	}
	return nil, unsigned, errors.Join(readErrs...)
}

// readTestRecord reads the record stored as ref, from its blob directly
// when its listing names it (the blob's digest is checked as it is read).
func readTestRecord(ref name.Digest, blob string, opts []remote.Option) (*TestRecord, []byte, error) {
	var layer v1.Layer
	if blob != "" {
		l, err := remote.Layer(ref.Context().Digest(blob), opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("reading test record %s: %w", ref, err)
		}
		layer = l
	} else {
		img, err := remote.Image(ref, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("reading test record %s: %w", ref, err)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			return nil, nil, fmt.Errorf("test record %s: want one layer", ref)
		}
		layer = layers[0]
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, nil, fmt.Errorf("reading test record %s: %w", ref, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRecordSize))
	if err != nil {
		return nil, nil, fmt.Errorf("reading test record %s: %w", ref, err)
	}
	rec := &TestRecord{}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, nil, fmt.Errorf("test record %s: %w", ref, err)
	}
	rec.Ref = ref.String()
	return rec, b, nil
}
