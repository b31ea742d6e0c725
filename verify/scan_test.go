package verify_test

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/polyarch/polyarch/verify"
)

func TestScanLayerKnowsEachArchitecture(t *testing.T) {
	type bin struct {
		class   elf.Class
		data    elf.Data
		machine elf.Machine
	}
	var (
		x8664   = bin{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64}
		i386    = bin{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386}
		aarch64 = bin{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64}
		arm     = bin{elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM}
		ppc64le = bin{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64}
		ppc64   = bin{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_PPC64}
		s390x   = bin{elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390}
		riscv64 = bin{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_RISCV}
		mips64l = bin{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_MIPS}
		loong64 = bin{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_LOONGARCH}
		bpf     = bin{elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_BPF}
	)
	tests := []struct {
		platform string
		native   bin
		foreign  bin
		message  string
	}{
		{"linux/amd64", x8664, aarch64, "ELF 64-bit LSB aarch64, expected x86-64"},
		{"linux/386", i386, x8664, "ELF 64-bit LSB x86-64, expected Intel 80386"},
		{"linux/arm64", aarch64, arm, "ELF 32-bit LSB ARM, expected aarch64"},
		{"linux/arm/v6", arm, aarch64, "ELF 64-bit LSB aarch64, expected ARM"},
		{"linux/arm/v7", arm, x8664, "ELF 64-bit LSB x86-64, expected ARM"},
		{"linux/ppc64le", ppc64le, ppc64, "ELF 64-bit MSB PowerPC64, expected 64-bit LSB PowerPC64"},
		{"linux/ppc64", ppc64, ppc64le, "ELF 64-bit LSB PowerPC64, expected 64-bit MSB PowerPC64"},
		{"linux/s390x", s390x, x8664, "ELF 64-bit LSB x86-64, expected IBM S/390"},
		{"linux/riscv64", riscv64, aarch64, "ELF 64-bit LSB aarch64, expected RISC-V"},
		{"linux/mips64le", mips64l, x8664, "ELF 64-bit LSB x86-64, expected MIPS"},
		{"linux/loong64", loong64, riscv64, "ELF 64-bit LSB RISC-V, expected LoongArch"},
		{"linux/x86_64", x8664, i386, "ELF 32-bit LSB Intel 80386, expected x86-64"},
	}
	for _, tc := range tests {
		t.Run(tc.platform, func(t *testing.T) {
			raw := tarOf(t,
				file{"usr/bin/native", elfBinary(t, tc.native.class, tc.native.data, tc.native.machine)},
				file{"usr/lib/bpf/probe.o", elfBinary(t, bpf.class, bpf.data, bpf.machine)},
				file{"usr/bin/foreign", elfBinary(t, tc.foreign.class, tc.foreign.data, tc.foreign.machine)},
			)
			findings, stats, err := verify.ScanLayer(bytes.NewReader(raw), mustPlatform(t, tc.platform))
			if err != nil {
				t.Fatal(err)
			}
			if len(findings) != 1 || findings[0].Path != "usr/bin/foreign" || findings[0].Message != tc.message || findings[0].Kind != verify.KindELF || findings[0].Platform != tc.platform {
				t.Errorf("findings = %+v, want usr/bin/foreign: %q", findings, tc.message)
			}
			if stats.Files != 3 || stats.ELFFiles != 3 {
				t.Errorf("stats = %+v, want 3 files, all ELF", stats)
			}
		})
	}
}

func TestScanLayerNotELF(t *testing.T) {
	raw := tarOf(t,
		file{"bin/tiny", []byte("\x7fELF")},                                               // the magic, but no header
		file{"bin/bad-class", append([]byte("\x7fELF\x07\x01\x01"), make([]byte, 40)...)}, // no such class
		file{"etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n")},
		file{"empty", nil},
	)
	findings, stats, err := verify.ScanLayer(bytes.NewReader(raw), mustPlatform(t, "linux/arm64"))
	if err != nil || len(findings) != 0 || stats.Files != 4 || stats.ELFFiles != 0 {
		t.Errorf("ScanLayer = %v, %+v, %v; want no findings, 4 files, none ELF", findings, stats, err)
	}
}

func TestScanLayerErrors(t *testing.T) {
	raw := tarOf(t, file{"usr/bin/app", amd64ELF(t)})
	for name, r := range map[string]io.Reader{
		"truncated tar":  bytes.NewReader(raw[:700]),
		"truncated gzip": bytes.NewReader(gzipBytes(t, raw)[:100]),
		"not a tar":      strings.NewReader(strings.Repeat("not a tar archive, just text\n", 100)),
	} {
		if _, _, err := verify.ScanLayer(r, mustPlatform(t, "linux/arm64")); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func gzipBytes(t testing.TB, raw []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// countingReader counts the bytes read through it and the largest read asked for.
type countingReader struct {
	r       io.Reader
	n       int64
	maxRead int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.maxRead = max(c.maxRead, len(p))
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// patternReader is size bytes of a repeating, compressible, non-ELF pattern,
// made as it is read: the test itself never holds the big file.
type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(b)), p.left)
	for i := range b[:n] {
		b[i] = "log line: nothing to see here\n"[i%30]
	}
	p.left -= n
	return int(n), nil
}

// bigLayer streams a tar, compressed as compress says ("none", "gzip",
// "zstd"), with a size-byte text file between two ELF binaries, made as it
// is read. *produced is how many bytes the stream had once it ends.
func bigLayer(t *testing.T, size int64, compress string) (r io.Reader, produced *int64) {
	amd, arm := amd64ELF(t), arm64ELF(t)
	pr, pw := io.Pipe()
	out := &countingWriter{w: pw}
	go func() {
		var w io.WriteCloser = nopWriteCloser{out}
		switch compress {
		case "gzip":
			w, _ = gzip.NewWriterLevel(out, gzip.BestSpeed)
		case "zstd":
			w, _ = zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		}
		tw := tar.NewWriter(w)
		put := func(name string, size int64, r io.Reader) error {
			if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
				return err
			}
			_, err := io.Copy(tw, r)
			return err
		}
		err := put("usr/bin/before", int64(len(arm)), bytes.NewReader(arm))
		if err == nil {
			err = put("var/log/huge.log", size, &patternReader{left: size})
		}
		if err == nil {
			err = put("usr/bin/after", int64(len(amd)), bytes.NewReader(amd))
		}
		if err == nil {
			err = tw.Close()
		}
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, &out.n
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// TestScanDoesNotBufferFiles streams a layer holding a 64 MiB file and checks
// that the scan found the binary behind it, read the stream to its end in
// small reads, and allocated far less than the file: it skips file contents
// instead of holding them.
func TestScanDoesNotBufferFiles(t *testing.T) {
	const size = 64 << 20
	for _, compress := range []string{"none", "gzip", "zstd"} {
		t.Run(compress, func(t *testing.T) {
			layer, produced := bigLayer(t, size, compress)
			src := &countingReader{r: layer}

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			findings, stats, err := verify.ScanLayer(src, mustPlatform(t, "linux/arm64"))
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if len(findings) != 1 || findings[0].Path != "usr/bin/after" || stats.Files != 3 || stats.ELFFiles != 2 {
				t.Fatalf("findings %+v, stats %+v; want usr/bin/after found behind the big file", findings, stats)
			}
			if src.n != *produced {
				t.Errorf("the scan read %d bytes of a %d-byte layer; it must read to the end", src.n, *produced)
			}
			if src.maxRead > 1<<20 {
				t.Errorf("the scan asked for %d bytes in one read; a streaming scan reads in small pieces", src.maxRead)
			}
			// The goroutine making the layer allocates too (the compressor's
			// state, a few MiB for zstd): all of it is far below the 64 MiB a
			// buffered file would cost.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 24<<20 {
				t.Errorf("scanning allocated %d MiB for a layer with a 64 MiB file; it must not buffer files", alloc>>20)
			} else {
				t.Logf("%s: read %d bytes, allocated %.1f MiB", compress, src.n, float64(alloc)/(1<<20))
			}
		})
	}
}
