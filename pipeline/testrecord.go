package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/imagetest"
)

// Test results are kept in the registry, beside the image they are about:
// an OCI artifact whose subject is the tested digest, found again through the
// referrers API. A rerun of a release that finds a passing record for the
// same digest and the same spec does not test again; the record travels with
// the image, whichever machine runs the next release.
const (
	testResultsArtifactType = "application/vnd.polyarch.test-results.v1+json"
	annotationSpecDigest    = "dev.polyarch.test-spec.digest"
	// testRecordFormat changes when what "passed" means changes (the
	// automatic tests, say), so that older records are not trusted.
	testRecordFormat = "polyarch-test-v1"
)

func specDigest(spec *imagetest.Spec) string {
	b, _ := json.Marshal(struct {
		Format string
		Spec   *imagetest.Spec
	}{testRecordFormat, spec})
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// rawManifest is a manifest pushed as is.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.body, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// recordPass pushes the passing results of a job as a referrer of its image.
func recordPass(ctx context.Context, job imagetest.Job, results []imagetest.Result, opts []remote.Option) error {
	ref, err := name.NewDigest(job.Target.Ref)
	if err != nil {
		return err
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	body, err := json.Marshal(results)
	if err != nil {
		return err
	}
	layer := static.NewLayer(body, types.MediaType(testResultsArtifactType))
	empty := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	for _, l := range []v1.Layer{layer, empty} {
		if err := remote.WriteLayer(ref.Context(), l, opts...); err != nil {
			return err
		}
	}
	ld, _ := layer.Digest()
	ed, _ := empty.Digest()
	subject, err := remote.Head(ref, opts...)
	if err != nil {
		return err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  testResultsArtifactType,
		Config:        v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: ed, Size: 2},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(testResultsArtifactType), Digest: ld, Size: int64(len(body))}},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations:   map[string]string{annotationSpecDigest: specDigest(job.Spec)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	dst, err := name.NewDigest(ref.Context().String() + "@sha256:" + hex.EncodeToString(sum[:]))
	if err != nil {
		return err
	}
	return remote.Put(dst, rawManifest{body: raw, mt: types.OCIManifestSchema1}, opts...)
}

// passedBefore finds a passing record of the same spec for ref.
func passedBefore(ctx context.Context, ref name.Digest, spec *imagetest.Spec, opts []remote.Option) ([]imagetest.Result, bool) {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	idx, err := remote.Referrers(ref, append(opts, remote.WithFilter("artifactType", testResultsArtifactType))...)
	if err != nil {
		return nil, false
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, false
	}
	want := specDigest(spec)
	for _, d := range im.Manifests {
		if d.ArtifactType != testResultsArtifactType || d.Annotations[annotationSpecDigest] != want {
			continue
		}
		results, err := readRecord(ref.Context().Digest(d.Digest.String()), opts)
		if err == nil {
			return results, true
		}
	}
	return nil, false
}

func readRecord(ref name.Digest, opts []remote.Option) ([]imagetest.Result, error) {
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		return nil, fmt.Errorf("test record %s: want one layer", ref)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, err
	}
	var results []imagetest.Result
	if err := json.Unmarshal(b, &results); err != nil {
		return nil, err
	}
	for _, r := range results {
		if r.Failed() {
			return nil, fmt.Errorf("test record %s holds a failure", ref)
		}
	}
	return results, nil
}
