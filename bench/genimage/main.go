// Command genimage writes a multi-platform image of incompressible random
// data as an OCI image layout, so every registry under benchmark is sent the
// very same bytes.
//
//	genimage -out /tmp/layout    # 4 platforms x 128 MiB, 4 layers each
//
// The layout's index.json holds one entry, the image index, which is what
// `crane push DIR REF` pushes. Output is deterministic for a given -seed:
// each layer's bytes come from a ChaCha8 stream seeded by (seed, platform,
// layer), so no two layers share a digest and no blob is deduplicated.
//
// It uses only the standard library and the OCI image-spec types.
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func main() {
	out := flag.String("out", "", "directory to write the OCI layout to; must not exist (required)")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64,linux/arm/v7,linux/ppc64le", "comma-separated os/arch[/variant] list")
	mibPerPlatform := flag.Int("mib-per-platform", 128, "random payload per platform, in MiB")
	layers := flag.Int("layers", 4, "layers per platform; the payload is split evenly between them")
	seed := flag.Uint64("seed", 1, "seed of the random payload")
	flag.Parse()
	if err := run(*out, *platforms, *mibPerPlatform, *layers, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "genimage:", err)
		os.Exit(1)
	}
}

func run(out, platformList string, mibPerPlatform, layers int, seed uint64) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	if mibPerPlatform < 1 || layers < 1 || mibPerPlatform<<20%layers != 0 {
		return fmt.Errorf("-mib-per-platform %d must split evenly into -layers %d", mibPerPlatform, layers)
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	l := layout{dir: out}

	var index v1.Index
	index.Versioned = specs.Versioned{SchemaVersion: 2}
	index.MediaType = v1.MediaTypeImageIndex
	for p, s := range strings.Split(platformList, ",") {
		plat, err := parsePlatform(s)
		if err != nil {
			return err
		}
		desc, err := l.writeImage(plat, layers, int64(mibPerPlatform)<<20/int64(layers), seed, uint64(p))
		if err != nil {
			return fmt.Errorf("platform %s: %w", s, err)
		}
		index.Manifests = append(index.Manifests, desc)
	}
	indexDesc, err := l.writeJSON(v1.MediaTypeImageIndex, index)
	if err != nil {
		return err
	}

	var top v1.Index
	top.Versioned = specs.Versioned{SchemaVersion: 2}
	top.MediaType = v1.MediaTypeImageIndex
	top.Manifests = []v1.Descriptor{indexDesc}
	if err := writeFileJSON(filepath.Join(out, "index.json"), top); err != nil {
		return err
	}
	if err := writeFileJSON(filepath.Join(out, v1.ImageLayoutFile), v1.ImageLayout{Version: v1.ImageLayoutVersion}); err != nil {
		return err
	}
	fmt.Printf("%s %s (%d platforms x %d MiB in %d layers)\n", out, indexDesc.Digest, len(index.Manifests), mibPerPlatform, layers)
	return nil
}

func parsePlatform(s string) (*v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	p := &v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// layout writes content-addressed blobs under dir/blobs/sha256.
type layout struct{ dir string }

// writeImage writes one platform's layers, config and manifest and returns
// the manifest's descriptor, platform included, for the index.
func (l layout) writeImage(plat *v1.Platform, layers int, layerSize int64, seed, platformNo uint64) (v1.Descriptor, error) {
	config := v1.Image{Platform: *plat, RootFS: v1.RootFS{Type: "layers"}}
	manifest := v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest}
	for i := range layers {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[0:], seed)
		binary.LittleEndian.PutUint64(key[8:], platformNo)
		binary.LittleEndian.PutUint64(key[16:], uint64(i))
		desc, diffID, err := l.writeLayer(rand.NewChaCha8(key), layerSize, fmt.Sprintf("payload-%d.bin", i))
		if err != nil {
			return v1.Descriptor{}, err
		}
		manifest.Layers = append(manifest.Layers, desc)
		config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, diffID)
	}
	configDesc, err := l.writeJSON(v1.MediaTypeImageConfig, config)
	if err != nil {
		return v1.Descriptor{}, err
	}
	manifest.Config = configDesc
	desc, err := l.writeJSON(v1.MediaTypeImageManifest, manifest)
	desc.Platform = plat
	return desc, err
}

// writeLayer writes a gzipped tar holding one file of size random bytes and
// returns the layer's descriptor and its diff ID (digest of the plain tar).
// Random bytes do not compress, so gzip stores them (NoCompression): the blob
// is as big as the payload and generating it costs hashing, not deflating.
func (l layout) writeLayer(src io.Reader, size int64, name string) (v1.Descriptor, digest.Digest, error) {
	blob, err := l.newBlob()
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	defer blob.abort()
	zw, err := gzip.NewWriterLevel(blob, gzip.NoCompression)
	if err != nil {
		return v1.Descriptor{}, "", err
	}
	diffID := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diffID))
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return v1.Descriptor{}, "", err
	}
	if _, err := io.CopyN(tw, src, size); err != nil {
		return v1.Descriptor{}, "", err
	}
	if err := tw.Close(); err != nil {
		return v1.Descriptor{}, "", err
	}
	if err := zw.Close(); err != nil {
		return v1.Descriptor{}, "", err
	}
	desc, err := blob.commit(v1.MediaTypeImageLayerGzip)
	return desc, digest.NewDigest(digest.SHA256, diffID), err
}

// writeJSON stores v as a blob of the given media type.
func (l layout) writeJSON(mediaType string, v any) (v1.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return v1.Descriptor{}, err
	}
	blob, err := l.newBlob()
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer blob.abort()
	if _, err := blob.Write(b); err != nil {
		return v1.Descriptor{}, err
	}
	return blob.commit(mediaType)
}

// blobWriter hashes and counts what it writes to a temporary file, which
// commit renames to its digest.
type blobWriter struct {
	l    layout
	f    *os.File
	h    hash.Hash
	size int64
}

func (l layout) newBlob() (*blobWriter, error) {
	f, err := os.CreateTemp(filepath.Join(l.dir, "blobs"), "tmp-*")
	if err != nil {
		return nil, err
	}
	return &blobWriter{l: l, f: f, h: sha256.New()}, nil
}

func (b *blobWriter) Write(p []byte) (int, error) {
	n, err := b.f.Write(p)
	b.h.Write(p[:n])
	b.size += int64(n)
	return n, err
}

func (b *blobWriter) commit(mediaType string) (v1.Descriptor, error) {
	d := digest.NewDigest(digest.SHA256, b.h)
	if err := b.f.Chmod(0o644); err != nil {
		return v1.Descriptor{}, err
	}
	if err := b.f.Close(); err != nil {
		return v1.Descriptor{}, err
	}
	if err := os.Rename(b.f.Name(), filepath.Join(b.l.dir, "blobs", "sha256", d.Encoded())); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: b.size}, nil
}

// abort removes the temporary file unless commit renamed it.
func (b *blobWriter) abort() {
	b.f.Close()
	os.Remove(b.f.Name())
}

func writeFileJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
