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
	"github.com/google/go-containerregistry/pkg/v1/partial"
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

// BlobReader reads a blob of a repository as the registry sends it, without
// checking its digest: only for bytes handed on to a registry, which checks
// them (client.Direct is one).
type BlobReader interface {
	Open(ctx context.Context, repo name.Repository, h v1.Hash) (io.ReadCloser, error)
}

// Copy copies an image or a multi-arch image from src to dst, with every
// platform (digest kept) or only those listed (a new index, so a new digest).
// Blobs move concurrently and streamed, are skipped when the destination
// has them, and are mounted instead of copied within one registry.
func Copy(ctx context.Context, src, dst name.Reference, platforms []v1.Platform, opts ...remote.Option) (*CopyResult, error) {
	return CopyWith(ctx, src, dst, platforms, nil, opts...)
}

// CopyWith is Copy reading the layers it moves between registries with
// blobs, unchecked: the destination hashes every blob it receives and
// refuses one that does not match its digest, so hashing it here too only
// doubled the work (most of a copy's CPU time). A layer that cannot be read
// that way is read and checked as Copy does; manifests and configs are
// always checked. blobs may be nil.
func CopyWith(ctx context.Context, src, dst name.Reference, platforms []v1.Platform, blobs BlobReader, opts ...remote.Option) (*CopyResult, error) {
	opts = append(opts[:len(opts):len(opts)], remote.WithContext(ctx))
	desc, err := remote.Get(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", src, err)
	}
	res := &CopyResult{Source: src.String(), Destination: dst.String()}
	var open opener
	if blobs != nil && src.Context().RegistryStr() != dst.Context().RegistryStr() {
		open = func(h v1.Hash) (io.ReadCloser, error) { return blobs.Open(ctx, src.Context(), h) }
	}

	var write func() error
	switch {
	case desc.MediaType.IsIndex():
		ii, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading index %s: %w", src, err)
		}
		if open != nil {
			ii = directIndex{ii, open}
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
		if open != nil {
			img = directImage{img, open}
		}
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

// opener starts reading a blob of the source without hashing it.
type opener func(v1.Hash) (io.ReadCloser, error)

// directIndex is a source index whose images' layers are read by open.
// Everything else, the manifests above all, is the source's.
type directIndex struct {
	ii   v1.ImageIndex
	open opener
}

func (d directIndex) MediaType() (types.MediaType, error)       { return d.ii.MediaType() }
func (d directIndex) Digest() (v1.Hash, error)                  { return d.ii.Digest() }
func (d directIndex) Size() (int64, error)                      { return d.ii.Size() }
func (d directIndex) IndexManifest() (*v1.IndexManifest, error) { return d.ii.IndexManifest() }
func (d directIndex) RawManifest() ([]byte, error)              { return d.ii.RawManifest() }

func (d directIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := d.ii.Image(h)
	if err != nil {
		return nil, err
	}
	return directImage{img, d.open}, nil
}

func (d directIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	ii, err := d.ii.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return directIndex{ii, d.open}, nil
}

// directImage is a source image whose layers are read by open. It keeps
// the source's descriptor and mountable config, as remote.WriteIndex
// would see them without it.
type directImage struct {
	v1.Image
	open opener
}

func (d directImage) Descriptor() (*v1.Descriptor, error) { return partial.Descriptor(d.Image) }
func (d directImage) ConfigLayer() (v1.Layer, error)      { return partial.ConfigLayer(d.Image) }

func (d directImage) Layers() ([]v1.Layer, error) {
	ls, err := d.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = d.wrap(l)
	}
	return out, nil
}

func (d directImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := d.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return d.wrap(l), nil
}

// wrap keeps a mountable layer mountable.
func (d directImage) wrap(l v1.Layer) v1.Layer {
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: directLayer{ml.Layer, d.open}, Reference: ml.Reference}
	}
	return directLayer{l, d.open}
}

// directLayer reads its compressed bytes with open, and falls back to the
// checked read when that fails to start.
type directLayer struct {
	v1.Layer
	open opener
}

func (l directLayer) Descriptor() (*v1.Descriptor, error) { return partial.Descriptor(l.Layer) }

func (l directLayer) Compressed() (io.ReadCloser, error) {
	h, err := l.Layer.Digest()
	if err != nil {
		return nil, err
	}
	if rc, err := l.open(h); err == nil {
		return rc, nil
	}
	return l.Layer.Compressed()
}
