package main

import (
	"archive/tar"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// genLayer is a generated gzip layer on disk.
type genLayer struct {
	path         string
	size         int64  // gzip bytes
	uncompressed int64  // tar bytes
	digest       string // sha256 hex of the gzip bytes
	diffID       string // sha256 hex of the tar
	files        int
	elfFiles     int
	foreign      int // ELF files not for amd64
}

// generate writes n gzip tar layers of about total/n compressed bytes each
// into dir, two at a time. Each layer's content comes from its own ChaCha8
// stream, seeded by (seed, layer), so every run writes the same bytes.
func generate(dir string, total int64, n int, seed uint64) ([]genLayer, error) {
	layers := make([]genLayer, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			layers[i], errs[i] = writeLayer(filepath.Join(dir, fmt.Sprintf("layer-%02d.tar.gz", i)), total/int64(n), seed, uint64(i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return layers, nil
}

// writeLayer writes files until the gzip stream reaches target bytes. The
// mix, by uncompressed bytes, is about 40% ELF binaries (x86-64 headers over
// code-like bytes that compress about 2:1), 35% text (3-4:1) and 25% random
// data (incompressible: images, archives, compressed assets). File sizes are
// log-uniform between 4 KiB and 8 MiB. Layer 0 also holds one aarch64
// binary, so every scan has exactly one finding to report.
//
// Compression is klauspost/compress's gzip at the default level (6), which
// writes standard deflate, as docker and BuildKit layers are.
func writeLayer(path string, target int64, seed, layer uint64) (genLayer, error) {
	f, err := os.Create(path)
	if err != nil {
		return genLayer{}, err
	}
	defer f.Close()
	out := &hashCounter{h: sha256.New()}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(f, out), gzip.DefaultCompression)
	if err != nil {
		return genLayer{}, err
	}
	in := &hashCounter{h: sha256.New()}
	tw := tar.NewWriter(io.MultiWriter(zw, in))

	g := newContent(seed, layer)
	l := genLayer{path: path}
	put := func(name string, body []byte) error {
		l.files++
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	if layer == 0 {
		l.elfFiles++
		l.foreign++
		if err := put("usr/lib/bench/foreign/aarch64-helper", g.binary(64<<10, elf.EM_AARCH64)); err != nil {
			return genLayer{}, err
		}
	}
	for i := 0; out.n < target; i++ {
		size := int(math.Exp(g.rng.Float64()*(math.Log(8<<20)-math.Log(4<<10)) + math.Log(4<<10)))
		// Near the target, a file no bigger than what is left keeps the
		// layer from overshooting by a whole incompressible file.
		size = min(size, max(4<<10, int(target-out.n)))
		var name string
		var body []byte
		switch k := g.rng.IntN(100); {
		case k < 40:
			name, body = fmt.Sprintf("usr/lib/bench/%02d/lib%05d.so", layer, i), g.binary(size, elf.EM_X86_64)
			l.elfFiles++
		case k < 75:
			name, body = fmt.Sprintf("usr/share/bench/%02d/doc%05d.txt", layer, i), g.text(size)
		default:
			name, body = fmt.Sprintf("usr/share/bench/%02d/blob%05d.bin", layer, i), g.random(size)
		}
		if err := put(name, body); err != nil {
			return genLayer{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return genLayer{}, err
	}
	if err := zw.Close(); err != nil {
		return genLayer{}, err
	}
	if err := f.Close(); err != nil {
		return genLayer{}, err
	}
	l.size, l.uncompressed = out.n, in.n
	l.digest, l.diffID = fmt.Sprintf("%x", out.h.Sum(nil)), fmt.Sprintf("%x", in.h.Sum(nil))
	return l, nil
}

type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// content makes file bodies from one ChaCha8 stream, into one reused buffer.
type content struct {
	rng   *rand.Rand
	src   *rand.ChaCha8
	words [][]byte
	zipf  *rand.Zipf
	buf   []byte
}

func newContent(seed, layer uint64) *content {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], layer)
	src := rand.NewChaCha8(key)
	rng := rand.New(src)
	c := &content{rng: rng, src: src, buf: make([]byte, 8<<20+64<<10)}
	for range 4000 {
		w := make([]byte, 2+rng.IntN(9))
		for i := range w {
			w[i] = 'a' + byte(rng.IntN(26))
		}
		c.words = append(c.words, w)
	}
	c.zipf = rand.NewZipf(rng, 1.1, 2, uint64(len(c.words)-1))
	return c
}

// binary is an ELF64 LSB executable header for machine, program headers
// and a .note.gnu.property saying "x86 ISA needed: x86-64-baseline" where GNU
// ld puts them (the scan reads them to check the amd64 variant), followed by
// code-like bytes: short random literals and copies of earlier stretches.
func (c *content) binary(size int, machine elf.Machine) []byte {
	const phoff, phnum = 64, 2
	const noteOff, noteLen = phoff + phnum*56, 32
	b := c.buf[:max(size, noteOff+noteLen)]
	le := binary.LittleEndian
	hdr := elf.Header64{
		Ident: [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:  uint16(elf.ET_DYN), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64,
		Phoff: phoff, Phentsize: 56, Phnum: phnum,
	}
	binary.Encode(b, le, hdr)
	for i, typ := range []elf.ProgType{elf.PT_NOTE, elf.PT_GNU_PROPERTY} {
		binary.Encode(b[phoff+56*i:], le, elf.Prog64{Type: uint32(typ), Flags: uint32(elf.PF_R), Off: noteOff, Vaddr: noteOff, Paddr: noteOff, Filesz: noteLen, Memsz: noteLen, Align: 8})
	}
	// NT_GNU_PROPERTY_TYPE_0 "GNU": GNU_PROPERTY_X86_ISA_1_NEEDED = baseline.
	for i, v := range []uint32{4, 16, 5, 0x00554e47, 0xc0008002, 4, 1, 0} {
		le.PutUint32(b[noteOff+4*i:], v)
	}
	for i := noteOff + noteLen; i < len(b); {
		lit := min(1+c.rng.IntN(24), len(b)-i)
		c.src.Read(b[i : i+lit])
		i += lit
		if i > 4096 {
			n := min(8+c.rng.IntN(64), len(b)-i)
			from := i - 1 - c.rng.IntN(min(i-1, 32<<10))
			for j := range n { // byte by byte: the copy may overlap itself
				b[i+j] = b[from+j]
			}
			i += n
		}
	}
	return b
}

// text is lines of words with a Zipf distribution.
func (c *content) text(size int) []byte {
	b := c.buf[:0]
	line := 0
	for len(b) < size {
		w := c.words[c.zipf.Uint64()]
		b = append(b, w...)
		line += len(w) + 1
		if line > 72 {
			b = append(b, '\n')
			line = 0
		} else {
			b = append(b, ' ')
		}
	}
	return b[:size]
}

func (c *content) random(size int) []byte {
	b := c.buf[:size]
	c.src.Read(b)
	return b
}
