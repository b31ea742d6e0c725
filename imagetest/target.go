package imagetest

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/platform"
)

// Targets pins by digest each image ref names: every platform of an index
// (attestation manifests left out), or ref itself when it is one image.
// only, when set, keeps the images whose config names one of its
// platforms; an error says when none is left.
func Targets(ctx context.Context, ref name.Reference, only []v1.Platform, opts ...remote.Option) ([]*Target, error) {
	desc, err := remote.Get(ref, append(opts[:len(opts):len(opts)], remote.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", ref, err)
	}
	children := []v1.Descriptor{desc.Descriptor}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading the index %s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading the index %s: %w", ref, err)
		}
		children = im.Manifests
	}
	var out []*Target
	for _, d := range children {
		if index.IsAttestation(d) || !d.MediaType.IsImage() {
			continue
		}
		t, err := TargetByDigest(ctx, ref.Context().Digest(d.Digest.String()), opts...)
		if err != nil {
			return nil, err
		}
		if len(only) > 0 && !platform.Contains(only, t.Platform) {
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		want := "any platform"
		if len(only) > 0 {
			want = platform.FormatList(only)
		}
		return nil, fmt.Errorf("%s has no image for %s", ref, want)
	}
	return out, nil
}
