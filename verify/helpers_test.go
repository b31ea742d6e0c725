package verify_test

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/platform"
)

// elfBinary is a minimal valid ELF file for machine: a real ELF32 or ELF64
// header (written from debug/elf's structs) followed by some code-like bytes.
// It is checked with debug/elf, so the fixture cannot drift from the format.
func elfBinary(t testing.TB, class elf.Class, data elf.Data, machine elf.Machine) []byte {
	t.Helper()
	var order binary.ByteOrder = binary.LittleEndian
	if data == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(class), byte(data), byte(elf.EV_CURRENT)}
	var buf bytes.Buffer
	switch class {
	case elf.ELFCLASS64:
		binary.Write(&buf, order, elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(machine),
			Version: uint32(elf.EV_CURRENT), Entry: 0x401000, Ehsize: 64, Phentsize: 56, Shentsize: 64})
	case elf.ELFCLASS32:
		binary.Write(&buf, order, elf.Header32{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(machine),
			Version: uint32(elf.EV_CURRENT), Entry: 0x8048000, Ehsize: 52, Phentsize: 32, Shentsize: 40})
	}
	for i := 0; i < 200; i++ {
		buf.WriteByte(byte(i * 7))
	}
	f, err := elf.NewFile(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("ELF fixture for %v: %v", machine, err)
	}
	if f.Class != class || f.Data != data || f.Machine != machine {
		t.Fatalf("ELF fixture reads back as %v %v %v, want %v %v %v", f.Class, f.Data, f.Machine, class, data, machine)
	}
	return buf.Bytes()
}

func amd64ELF(t testing.TB) []byte {
	return elfBinary(t, elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64)
}
func arm64ELF(t testing.TB) []byte {
	return elfBinary(t, elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64)
}
func armELF(t testing.TB) []byte { return elfBinary(t, elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM) }

// nativeELF is a binary for p's architecture.
func nativeELF(t testing.TB, p string) []byte {
	switch platform.Normalize(mustPlatform(t, p)).Architecture {
	case "amd64":
		return amd64ELF(t)
	case "arm64":
		return arm64ELF(t)
	case "arm":
		return armELF(t)
	}
	t.Fatalf("no ELF fixture for %s", p)
	return nil
}

// file is a regular file in a test layer.
type file struct {
	path string
	body []byte
}

// tarOf writes files (and their parent directories) as a tar stream.
func tarOf(t testing.TB, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.path, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.WriteHeader(&tar.Header{Name: "usr/bin/sh-link", Typeflag: tar.TypeSymlink, Linkname: "app"})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layer makes a layer of files compressed as comp says: "gzip", "zstd" or
// "none".
func layer(t testing.TB, comp string, files ...file) v1.Layer {
	t.Helper()
	raw := tarOf(t, files...)
	if comp == "none" {
		return static.NewLayer(raw, types.OCIUncompressedLayer)
	}
	opts := []tarball.LayerOption{tarball.WithCompression(compression.GZip), tarball.WithMediaType(types.OCILayer)}
	if comp == "zstd" {
		opts = []tarball.LayerOption{tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd)}
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// image is an OCI image of layers whose config says platform p.
func image(t testing.TB, p v1.Platform, layers ...v1.Layer) v1.Image {
	t.Helper()
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// entry is an index child: an image and the platform its descriptor claims.
type entry struct {
	img         v1.Image
	platform    *v1.Platform
	annotations map[string]string
}

func index(entries ...entry) v1.ImageIndex {
	var adds []mutate.IndexAddendum
	for _, e := range entries {
		adds = append(adds, mutate.IndexAddendum{Add: e.img, Descriptor: v1.Descriptor{Platform: e.platform, Annotations: e.annotations}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}

func mustPlatform(t testing.TB, s string) v1.Platform {
	t.Helper()
	p, err := v1.ParsePlatform(s) // as written: no normalisation, aarch64 stays aarch64
	if err != nil {
		t.Fatal(err)
	}
	return *p
}

func ptr(p v1.Platform) *v1.Platform { return &p }

// pushIndex pushes idx (children included) to reg as repo:tag.
func pushIndex(t testing.TB, reg *testutil.Registry, repoTag string, idx v1.ImageIndex) name.Reference {
	t.Helper()
	ref := testutil.Ref(t, reg.Host+"/"+repoTag)
	if err := remote.WriteIndex(ref, idx, remote.WithContext(context.Background())); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

func pushImage(t testing.TB, reg *testutil.Registry, repoTag string, img v1.Image) name.Reference {
	t.Helper()
	ref := testutil.Ref(t, reg.Host+"/"+repoTag)
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

func digest(t testing.TB, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
