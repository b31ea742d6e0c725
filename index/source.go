package index

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// via is how the images of a copy or publish are written: how their layers
// are read, who counts the bytes, and what their index descriptors say.
type via struct {
	// open, when set, reads a layer without hashing it (BlobReader).
	open opener
	// meter counts the bytes read to be sent; nil counts nothing.
	meter *meter
	// docker is set when the images go into a Docker manifest list.
	docker bool
}

// opener starts reading a blob of the source without hashing it.
type opener func(v1.Hash) (io.ReadCloser, error)

// sourceIndex is an index whose images are written via v. Everything else,
// the manifests above all, is the source's.
type sourceIndex struct {
	ii v1.ImageIndex
	v  via
}

func (s sourceIndex) MediaType() (types.MediaType, error)       { return s.ii.MediaType() }
func (s sourceIndex) Digest() (v1.Hash, error)                  { return s.ii.Digest() }
func (s sourceIndex) Size() (int64, error)                      { return s.ii.Size() }
func (s sourceIndex) IndexManifest() (*v1.IndexManifest, error) { return s.ii.IndexManifest() }
func (s sourceIndex) RawManifest() ([]byte, error)              { return s.ii.RawManifest() }

func (s sourceIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := s.ii.Image(h)
	if err != nil {
		return nil, err
	}
	return sourceImage{img, s.v}, nil
}

func (s sourceIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	ii, err := s.ii.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return sourceIndex{ii, s.v}, nil
}

// sourceImage is an image written via v. It keeps the source's mountable
// config, as remote.WriteIndex would see it without the wrapper.
type sourceImage struct {
	v1.Image
	v via
}

// Descriptor is the image's descriptor in an index: go-containerregistry's,
// with artifactType only on artifacts. It sets artifactType from the
// config's media type on every image, and Docker's manifest list has no
// such field (nor annotations on descriptors): tools that parse the list
// into Docker's schema drop them and write another index, with another
// digest (skopeo copy --all did), which breaks digest pins on mirrors.
func (s sourceImage) Descriptor() (*v1.Descriptor, error) {
	d, err := partial.Descriptor(s.Image)
	if err != nil {
		return nil, err
	}
	out := *d
	if s.v.docker {
		out.ArtifactType, out.Annotations = "", nil
	} else if !isArtifactType(out.ArtifactType) {
		out.ArtifactType = ""
	}
	return &out, nil
}

// isArtifactType reports whether a descriptor's artifactType names an
// artifact: not empty, and not the config type of an ordinary image (which
// is what go-containerregistry falls back to).
func isArtifactType(t string) bool {
	switch types.MediaType(t) {
	case "", types.OCIConfigJSON, types.DockerConfigJSON:
		return false
	}
	return true
}

func (s sourceImage) ConfigLayer() (v1.Layer, error) {
	l, err := partial.ConfigLayer(s.Image)
	if err != nil {
		return nil, err
	}
	if s.v.meter == nil {
		return l, nil
	}
	// Configs are always read and checked, never opened unhashed.
	return s.wrap(l, via{meter: s.v.meter}), nil
}

func (s sourceImage) Layers() ([]v1.Layer, error) {
	ls, err := s.Image.Layers()
	if err != nil {
		return nil, err
	}
	if s.v.open == nil && s.v.meter == nil {
		return ls, nil
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = s.wrap(l, s.v)
	}
	return out, nil
}

func (s sourceImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := s.Image.LayerByDigest(h)
	if err != nil || (s.v.open == nil && s.v.meter == nil) {
		return l, err
	}
	return s.wrap(l, s.v), nil
}

// wrap keeps a mountable layer mountable.
func (s sourceImage) wrap(l v1.Layer, v via) v1.Layer {
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: sourceLayer{ml.Layer, v}, Reference: ml.Reference}
	}
	return sourceLayer{l, v}
}

// sourceLayer reads its compressed bytes with open when it can (falling
// back to the checked read when that fails to start), counted by meter.
type sourceLayer struct {
	v1.Layer
	v via
}

func (l sourceLayer) Descriptor() (*v1.Descriptor, error) { return partial.Descriptor(l.Layer) }

func (l sourceLayer) Compressed() (io.ReadCloser, error) {
	h, err := l.Layer.Digest()
	if err != nil {
		return nil, err
	}
	var rc io.ReadCloser
	if l.v.open != nil {
		if rc, err = l.v.open(h); err != nil {
			rc = nil
		}
	}
	if rc == nil {
		if rc, err = l.Layer.Compressed(); err != nil {
			return nil, err
		}
	}
	if l.v.meter == nil {
		return rc, nil
	}
	size, err := l.Layer.Size()
	if err != nil {
		rc.Close()
		return nil, err
	}
	return l.v.meter.reader(h, size, rc), nil
}
