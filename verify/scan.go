package verify

import (
	"archive/tar"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/internal/layerstream"
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
// A binary for the right CPU can still need a newer revision of it than the
// platform's variant promises: a KindELFVariant finding is returned for a
// 32-bit ARM binary whose build attributes (.ARM.attributes, Tag_CPU_arch)
// name a later architecture than arm/v5, v6, v7 or v8 (arm alone reads as
// v7), and for an x86-64 binary whose .note.gnu.property asks for a later
// microarchitecture level (x86 ISA needed) than amd64 (v1), v2, v3 or v4.
// A binary that records neither, such as Go's, is judged by its header alone.
//
// Nothing is written to disk and files are not buffered: of each regular
// file the first 20 bytes (the ELF identification and e_machine) are read;
// of an x86-64 binary its program headers and notes within its first 64 KiB;
// of a 32-bit ARM binary its section headers and .ARM.attributes within its
// first 64 KiB or last 1 MiB (where linkers put them). The rest is
// decompressed and discarded on the way to the next header. The stream is
// read to its end, so gzip's and zstd's checksums are checked (and, for a
// layer from a registry, its digest).
//
// An architecture the scan has no ELF expectation for (wasm) gives no
// findings. eBPF objects are never reported: they run on no CPU.
func ScanLayer(r io.Reader, want v1.Platform, opts ...Option) ([]Finding, ScanStats, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, ScanStats{}, err
	}
	s, err := scan(r, o.ignore, nil)
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
	path  string
	id    elfID
	needs cpuNeeds
}

// check returns a finding for each ELF file not for want, Platform set to label.
func (s layerScan) check(want v1.Platform, label string) []Finding {
	want = platform.Normalize(want)
	exp, known := expectedELF[want.Architecture]
	if !known {
		return nil
	}
	var out []Finding
	for _, f := range s.elf {
		if f.id == exp {
			if v, found := variantFinding(f.needs, want); found {
				v.Platform, v.Path = label, f.path
				out = append(out, v)
			}
			continue
		}
		if archNeutral(f.id.machine) {
			continue
		}
		out = append(out, Finding{Kind: KindELF, Platform: label, Path: f.path, Message: mismatch(f.id, exp)})
	}
	return out
}

// scan walks the tar in r and records its ELF files. With rec, every
// header goes to it and every regular file's whole content through it too.
func scan(r io.Reader, ignore []pattern, rec *evidence.LayerRecorder) (layerScan, error) {
	tarStream, done, err := layerstream.Open(r)
	if err != nil {
		return layerScan{}, err
	}
	defer done()

	var s layerScan
	var w elfWindow
	tr := tar.NewReader(tarStream)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return layerScan{}, fmt.Errorf("tar: %w", err)
		}
		var body io.Reader = tr
		var sbom io.Writer
		if rec != nil {
			if sbom = rec.Entry(hdr); sbom != nil {
				body = io.TeeReader(tr, sbom)
			}
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := s.file(body, hdr, ignore, &w); err != nil {
			return layerScan{}, err
		}
		if sbom != nil { // the rest of the file, for its checksums
			if _, err := io.Copy(io.Discard, body); err != nil {
				return layerScan{}, fmt.Errorf("tar: reading %s: %w", layerstream.Path(hdr.Name), err)
			}
		}
	}
	// What follows the tar's end marker (padding to the record size) is read
	// too, so the decompressor reaches its checksum and the source its end.
	if _, err := io.Copy(io.Discard, tarStream); err != nil {
		return layerScan{}, fmt.Errorf("reading past the tar's end: %w", err)
	}
	return s, nil
}

// file records one regular file: an ELF binary's identity and needs, read
// from body, its content.
func (s *layerScan) file(body io.Reader, hdr *tar.Header, ignore []pattern, w *elfWindow) error {
	s.stats.Files++
	name := layerstream.Path(hdr.Name)
	if matchAny(ignore, name) {
		s.stats.Ignored++
		return nil
	}
	if hdr.Size < elfHeaderLen {
		return nil
	}
	w.reset(body, hdr.Size)
	id, ok := parseELF(w.at(0, elfHeaderLen))
	var needs cpuNeeds
	if ok {
		needs = readNeeds(w, id)
	}
	if w.err != nil {
		return fmt.Errorf("tar: reading %s: %w", name, w.err)
	}
	if ok {
		s.stats.ELFFiles++
		s.elf = append(s.elf, elfFile{path: name, id: id, needs: needs})
	}
	return nil
}
