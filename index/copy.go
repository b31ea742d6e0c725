package index

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/client"
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

// BlobReader reads a blob of a repository as the registry sends it, without
// checking its digest: only for bytes handed on to a registry, which checks
// them (client.Direct is one).
type BlobReader interface {
	Open(ctx context.Context, repo name.Repository, h v1.Hash) (io.ReadCloser, error)
}

// CopyOptions says what Copy copies and how. The zero value copies every
// platform.
type CopyOptions struct {
	// Platforms, when set, are the only platforms copied: a new index, so a
	// new digest. Every one must be in the source.
	Platforms []v1.Platform
	// Blobs, when set, reads the layers moved between registries unchecked:
	// the destination hashes every blob it receives and refuses one that
	// does not match its digest, so hashing it here too only doubled the
	// work (most of a copy's CPU time). A layer that cannot be read that way
	// is read and checked as without Blobs; manifests and configs are always
	// checked.
	Blobs BlobReader
	// Progress, when set, is told how far the blobs have got, and told Done
	// on every return.
	Progress Progress
}

// Copy copies an image or a multi-arch image from src to dst, with every
// platform (digest kept) or only o.Platforms. Blobs move concurrently and
// streamed, are skipped when the destination has them, and are mounted
// instead of copied within one registry.
func Copy(ctx context.Context, src, dst name.Reference, o CopyOptions, opts ...remote.Option) (*CopyResult, error) {
	m := newMeter(o.Progress)
	defer m.end()
	opts = withContext(ctx, opts)
	desc, err := remote.Get(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", src, err)
	}
	res := &CopyResult{Source: src.String(), Destination: dst.String()}
	v := via{meter: m}
	if o.Blobs != nil && src.Context().RegistryStr() != dst.Context().RegistryStr() {
		v.open = func(h v1.Hash) (io.ReadCloser, error) { return o.Blobs.Open(ctx, src.Context(), h) }
	}
	platforms := o.Platforms

	var write func() error
	switch {
	case desc.MediaType.IsIndex():
		ii, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading index %s: %w", src, err)
		}
		ii = sourceIndex{ii, v}
		if len(platforms) > 0 {
			if ii, err = selectPlatforms(src, ii, platforms); err != nil {
				return nil, err
			}
		}
		im, err := ii.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, d := range im.Manifests {
			if d.Platform != nil && !IsAttestation(d) {
				res.Platforms = append(res.Platforms, platform.Format(*d.Platform))
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
		img = sourceImage{img, v}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the config of %s: %w", src, err)
		}
		p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		if len(platforms) > 0 && !platform.Contains(platforms, p) {
			return nil, fmt.Errorf("%s is a single %s image, not %s", src, platform.Format(p), platform.FormatList(platforms))
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
	} else if err != nil && !client.IsNotFound(err) {
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
	mt, err := ii.MediaType()
	if err != nil {
		return nil, err
	}
	var adds []mutate.IndexAddendum
	kept := map[string]bool{}
	var have []string
	for _, w := range want {
		found := false
		for _, d := range im.Manifests {
			if d.Platform == nil || IsAttestation(d) || !platform.Same(*d.Platform, w) {
				continue
			}
			add, err := addendumFor(ii, d, mt)
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
					if d.Platform != nil && !IsAttestation(d) {
						have = append(have, platform.Format(*d.Platform))
					}
				}
			}
			return nil, fmt.Errorf("%s has no %s image (it has %s)", src, platform.Format(w), strings.Join(have, ", "))
		}
	}
	for _, d := range im.Manifests {
		if IsAttestation(d) && kept[d.Annotations[annotationReferenceDigest]] {
			add, err := addendumFor(ii, d, mt)
			if err != nil {
				return nil, err
			}
			adds = append(adds, add)
		}
	}
	out := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, mt), adds...)
	if len(im.Annotations) > 0 {
		out = mutate.Annotations(out, im.Annotations).(v1.ImageIndex)
	}
	return out, nil
}

// addendumFor is d, a child of ii, for a new index of type mt.
func addendumFor(ii v1.ImageIndex, d v1.Descriptor, mt types.MediaType) (mutate.IndexAddendum, error) {
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
		if si, ok := img.(sourceImage); ok {
			si.v.docker = mt == types.DockerManifestList
			img = si
		} else {
			img = sourceImage{img, via{docker: mt == types.DockerManifestList}}
		}
		add.Add = img
	}
	add.Descriptor = v1.Descriptor{Platform: d.Platform, Annotations: d.Annotations, URLs: d.URLs}
	return add, nil
}
