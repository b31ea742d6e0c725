package main

import (
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// fileLayer is a generated layer as a v1.Layer, its digests known from
// generation so pushing it reads it once.
type fileLayer struct{ genLayer }

func (l fileLayer) Digest() (v1.Hash, error)            { return v1.Hash{Algorithm: "sha256", Hex: l.digest}, nil }
func (l fileLayer) DiffID() (v1.Hash, error)            { return v1.Hash{Algorithm: "sha256", Hex: l.diffID}, nil }
func (l fileLayer) Size() (int64, error)                { return l.size, nil }
func (l fileLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

// benchImage is a linux/amd64 OCI image of the layers.
func benchImage(layers []genLayer) (v1.Image, error) {
	var ls []v1.Layer
	for _, l := range layers {
		ls = append(ls, fileLayer{l})
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, ls...)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	return mutate.ConfigFile(img, cfg)
}
