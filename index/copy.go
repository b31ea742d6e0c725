package index

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/platform"
)

// CopyResult says what Copy did.
type CopyResult struct {
	Source      string          `json:"source"`
	Destination string          `json:"destination"`
	Digest      string          `json:"digest"`
	MediaType   types.MediaType `json:"mediaType"`
	Platforms   []string        `json:"platforms"`
	// Unchanged is true when the destination already was this digest.
	Unchanged bool `json:"unchanged"`
}

// Copy copies an image or a multi-arch image from src to dst, with every
// platform (digest kept) or only those listed (a new index, so a new digest).
// Blobs move concurrently and streamed, are skipped when the destination
// has them, and are mounted instead of copied within one registry.
func Copy(ctx context.Context, src, dst name.Reference, platforms []v1.Platform, opts ...remote.Option) (*CopyResult, error) {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	desc, err := remote.Get(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", src, err)
	}
	res := &CopyResult{Source: src.String(), Destination: dst.String()}

	var write func() error
	switch {
	case desc.MediaType.IsIndex():
		ii, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading index %s: %w", src, err)
		}
		if len(platforms) > 0 {
			if ii, err = selectPlatforms(src, ii, platforms); err != nil {
				return nil, err
			}
		}
		im, err := ii.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, m := range im.Manifests {
			if m.Platform != nil && !isAttestation(m) {
				res.Platforms = append(res.Platforms, platform.Format(*m.Platform))
			}
		}
		d, err := ii.Digest()
		if err != nil {
			return nil, err
		}
		mt, _ := ii.MediaType()
		res.Digest, res.MediaType = d.String(), mt
		write = func() error { return remote.WriteIndex(dst, ii, opts...) }
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", src, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the config of %s: %w", src, err)
		}
		p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		if len(platforms) > 0 && !containsPlatform(platforms, p) {
			return nil, fmt.Errorf("%s is a single %s image, not %s", src, platform.Format(p), formatAll(platforms))
		}
		res.Platforms = []string{platform.Format(p)}
		res.Digest, res.MediaType = desc.Digest.String(), desc.MediaType
		write = func() error { return remote.Write(dst, img, opts...) }
	default:
		return nil, fmt.Errorf("%s: cannot copy a %s", src, desc.MediaType)
	}

	if cur, err := remote.Head(dst, opts...); err == nil && cur.Digest.String() == res.Digest {
		res.Unchanged = true
		return res, nil
	} else if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("checking %s: %w", dst, err)
	}
	if err := write(); err != nil {
		return nil, fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return res, nil
}

// selectPlatforms returns a new index with only the listed platforms (and
// their attestations). Every listed platform must be there.
func selectPlatforms(src name.Reference, ii v1.ImageIndex, want []v1.Platform) (v1.ImageIndex, error) {
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, err
	}
	var adds []mutate.IndexAddendum
	kept := map[string]bool{}
	var have []string
	for _, w := range want {
		found := false
		for _, d := range im.Manifests {
			if d.Platform == nil || isAttestation(d) || !platform.Same(*d.Platform, w) {
				continue
			}
			add, err := addendumFor(ii, d)
			if err != nil {
				return nil, fmt.Errorf("reading %s@%s: %w", src.Context(), d.Digest, err)
			}
			adds = append(adds, add)
			kept[d.Digest.String()] = true
			found = true
			break
		}
		if !found {
			if have == nil {
				for _, d := range im.Manifests {
					if d.Platform != nil && !isAttestation(d) {
						have = append(have, platform.Format(*d.Platform))
					}
				}
			}
			return nil, fmt.Errorf("%s has no %s image (it has %s)", src, platform.Format(w), strings.Join(have, ", "))
		}
	}
	for _, d := range im.Manifests {
		if isAttestation(d) && kept[d.Annotations[annotationReferenceDigest]] {
			add, err := addendumFor(ii, d)
			if err != nil {
				return nil, err
			}
			adds = append(adds, add)
		}
	}
	mt, err := ii.MediaType()
	if err != nil {
		return nil, err
	}
	out := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, mt), adds...)
	if len(im.Annotations) > 0 {
		out = mutate.Annotations(out, im.Annotations).(v1.ImageIndex)
	}
	return out, nil
}

func addendumFor(ii v1.ImageIndex, d v1.Descriptor) (mutate.IndexAddendum, error) {
	var add mutate.IndexAddendum
	if d.MediaType.IsIndex() {
		child, err := ii.ImageIndex(d.Digest)
		if err != nil {
			return add, err
		}
		add.Add = child
	} else {
		img, err := ii.Image(d.Digest)
		if err != nil {
			return add, err
		}
		add.Add = img
	}
	add.Descriptor = v1.Descriptor{Platform: d.Platform, Annotations: d.Annotations, URLs: d.URLs}
	return add, nil
}

func containsPlatform(ps []v1.Platform, p v1.Platform) bool {
	for _, q := range ps {
		if platform.Same(p, q) {
			return true
		}
	}
	return false
}

func formatAll(ps []v1.Platform) string {
	var s []string
	for _, p := range ps {
		s = append(s, platform.Format(p))
	}
	return strings.Join(s, ", ")
}
