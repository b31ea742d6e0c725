package verify

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/polyarch/polyarch/platform"
)

// ScanStats counts what a layer scan read.
type ScanStats struct {
	// Files counts regular files.
	Files int
	// ELFFiles counts the ELF binaries among them, ignored paths excluded.
	ELFFiles int
	// Ignored counts regular files skipped by WithIgnore.
	Ignored int
}

// ScanLayer reads one layer, a tar stream compressed with gzip or zstd or not
// at all (told apart by their magic numbers), from start to end, and returns
// a KindELF finding for each ELF binary that is not for want's CPU. Only
// WithIgnore among the options applies.
//
// Nothing is written to disk and files are not buffered: of each regular
// file only the first 20 bytes (the ELF identification and e_machine) are
// read, the rest is decompressed and discarded on the way to the next header.
// The stream is read to its end, so gzip's and zstd's checksums are checked
// (and, for a layer from a registry, its digest).
//
// An architecture the scan has no ELF expectation for (wasm) gives no
// findings. eBPF objects are never reported: they run on no CPU.
func ScanLayer(r io.Reader, want v1.Platform, opts ...Option) ([]Finding, ScanStats, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, ScanStats{}, err
	}
	s, err := scan(r, o.ignore)
	if err != nil {
		return nil, ScanStats{}, err
	}
	return s.check(want, platform.Format(want)), s.stats, nil
}

// layerScan is what a layer holds, independent of the platform it is judged
// against: a layer shared by two children is read once and checked twice.
type layerScan struct {
	stats ScanStats
	elf   []elfFile
}

type elfFile struct {
	path string
	id   elfID
}

// check returns a finding for each ELF file not for want, Platform set to label.
func (s layerScan) check(want v1.Platform, label string) []Finding {
	exp, known := expectedELF[platform.Normalize(want).Architecture]
	if !known {
		return nil
	}
	var out []Finding
	for _, f := range s.elf {
		if f.id == exp || archNeutral(f.id.machine) {
			continue
		}
		out = append(out, Finding{Kind: KindELF, Platform: label, Path: f.path, Message: mismatch(f.id, exp)})
	}
	return out
}

// readBufferSize is the buffer between the compressed stream and its
// decompressor: large enough that a network or file read is rarely the
// bottleneck, small enough to keep eight scans well under 10 MiB.
const readBufferSize = 256 << 10

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// scan walks the tar in r and records its ELF files.
func scan(r io.Reader, ignore []pattern) (layerScan, error) {
	br := bufio.NewReaderSize(r, readBufferSize)
	magic, _ := br.Peek(4) // a shorter stream is an empty or broken tar; tar says which
	var tarStream io.Reader = br
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return layerScan{}, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		tarStream = zr
	case bytes.HasPrefix(magic, zstdMagic):
		// One goroutine per stream: layers are already scanned in parallel.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return layerScan{}, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		tarStream = zr
	}

	var s layerScan
	var head [elfHeaderLen]byte
	tr := tar.NewReader(tarStream)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return layerScan{}, fmt.Errorf("tar: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		s.stats.Files++
		name := cleanPath(hdr.Name)
		if matchAny(ignore, name) {
			s.stats.Ignored++
			continue
		}
		if hdr.Size < elfHeaderLen {
			continue
		}
		if _, err := io.ReadFull(tr, head[:]); err != nil {
			return layerScan{}, fmt.Errorf("tar: reading %s: %w", name, err)
		}
		if id, ok := parseELF(head[:]); ok {
			s.stats.ELFFiles++
			s.elf = append(s.elf, elfFile{path: name, id: id})
		}
	}
	// What follows the tar's end marker (padding to the record size) is read
	// too, so the decompressor reaches its checksum and the source its end.
	if _, err := io.Copy(io.Discard, tarStream); err != nil {
		return layerScan{}, fmt.Errorf("reading past the tar's end: %w", err)
	}
	return s, nil
}
