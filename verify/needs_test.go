package verify

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readFileNeeds reads b as the scan reads a file from a layer: forward, once.
func readFileNeeds(t testing.TB, b []byte) (elfID, cpuNeeds, *elfWindow, bool) {
	var w elfWindow
	w.reset(bytes.NewReader(b), int64(len(b)))
	id, ok := parseELF(w.at(0, elfHeaderLen))
	if !ok {
		return id, cpuNeeds{}, &w, false
	}
	return id, readNeeds(&w, id), &w, true
}

// TestX86ISAAgreesWithReadelf reads the host's x86-64 binaries and
// libraries both ways: the scan's window and binutils' readelf -n.
func TestX86ISAAgreesWithReadelf(t *testing.T) {
	readelf, err := exec.LookPath("readelf")
	if err != nil {
		t.Skip("no readelf")
	}
	var paths []string
	for _, glob := range []string{"/usr/bin/*", "/usr/lib/x86_64-linux-gnu/*.so*"} {
		m, _ := filepath.Glob(glob)
		paths = append(paths, m...)
	}
	checked, declared := 0, 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		id, needs, w, ok := readFileNeeds(t, b)
		if !ok || id.machine != elf.EM_X86_64 {
			continue
		}
		if w.err != nil {
			t.Fatalf("%s: %v", p, w.err)
		}
		out, err := exec.Command(readelf, "-n", "--wide", p).Output()
		if err != nil {
			continue
		}
		want := uint32(0)
		for _, line := range strings.Split(string(out), "\n") {
			_, levels, found := strings.Cut(line, "x86 ISA needed: ")
			if !found {
				continue
			}
			for _, l := range strings.Split(strings.Split(levels, ";")[0], ", ") {
				switch strings.TrimSpace(l) {
				case "x86-64-baseline":
					want |= 1
				case "x86-64-v2":
					want |= 2
				case "x86-64-v3":
					want |= 4
				case "x86-64-v4":
					want |= 8
				}
			}
		}
		if needs.x86ISA != want {
			t.Errorf("%s: ISA needed bits %#x, readelf says %#x", p, needs.x86ISA, want)
		}
		if want != 0 {
			declared++
		}
		if checked++; checked == 80 {
			break
		}
	}
	if checked == 0 {
		t.Skip("no x86-64 ELF files on this host")
	}
	t.Logf("checked %d host x86-64 ELF files, %d declaring an ISA level", checked, declared)
}

// TestARMAttributesAgreeWithReadelf reads Debian's armhf busybox both ways.
func TestARMAttributesAgreeWithReadelf(t *testing.T) {
	p := filepath.Join("..", ".cache", "rootfs", "armhf", "bin", "busybox")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skip("no armhf busybox (scripts/busybox-rootfs.sh)")
	}
	_, needs, _, ok := readFileNeeds(t, b)
	version, desc, known := needs.arm.needs()
	if !ok || !known || version != 7 || needs.arm.profile != 'A' || desc != "ARMv7-A (Tag_CPU_arch v7)" {
		t.Errorf("armhf busybox: %+v (%d, %q)", needs.arm, version, desc)
	}
	if readelf, err := exec.LookPath("readelf"); err == nil {
		out, _ := exec.Command(readelf, "-A", p).Output()
		if !strings.Contains(string(out), "Tag_CPU_arch: v7\n") || !strings.Contains(string(out), "Tag_CPU_arch_profile: Application") {
			t.Errorf("readelf -A %s disagrees:\n%s", p, out)
		}
	}
}

func TestULEB128(t *testing.T) {
	for _, tc := range []struct {
		in  []byte
		v   uint64
		n   int
		bad bool
	}{
		{[]byte{0}, 0, 1, false},
		{[]byte{0x7f}, 127, 1, false},
		{[]byte{0x80, 0x01}, 128, 2, false},
		{[]byte{0xe5, 0x8e, 0x26, 0xff}, 624485, 3, false}, // the DWARF specification's example
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1<<64 - 1, 10, false},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, 0, true}, // 65 bits
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 0, true},
		{[]byte{0x80}, 0, 0, true}, // truncated
		{nil, 0, 0, true},
	} {
		v, n, err := uleb128(tc.in)
		if (err != nil) != tc.bad || v != tc.v || n != tc.n {
			t.Errorf("uleb128(%x) = %d, %d, %v; want %d, %d, error %v", tc.in, v, n, err, tc.v, tc.n, tc.bad)
		}
	}
}

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// armSection is an attributes section of one aeabi Tag_File subsubsection.
func armSection(order byteOrder, attrs ...byte) []byte {
	file := order.AppendUint32([]byte{tagFile}, uint32(5+len(attrs)))
	file = append(file, attrs...)
	sub := order.AppendUint32(nil, uint32(4+6+len(file)))
	sub = append(append(sub, "aeabi\x00"...), file...)
	return append([]byte{'A'}, sub...)
}

func TestParseARMAttributes(t *testing.T) {
	le, be := byteOrder(binary.LittleEndian), byteOrder(binary.BigEndian)
	for _, tc := range []struct {
		name  string
		order byteOrder
		b     []byte
		want  armAttributes
		bad   bool
	}{
		{"v7-A", le, armSection(le, tagCPUName, '7', '-', 'A', 0, tagCPUArch, 10, tagCPUArchProfile, 'A'), armAttributes{true, 10, 'A'}, false},
		{"big-endian", be, armSection(be, tagCPUArch, 6), armAttributes{true, 6, 0}, false},
		// Tag_compatibility: a number, then a string holding what looks like Tag_CPU_arch v8.
		{"compatibility", le, armSection(le, tagCompatibility, 1, 6, 14, 0, tagCPUArch, 4), armAttributes{true, 4, 0}, false},
		// An unknown odd tag from 32 up is a string, an even one a number.
		{"unknown tags", le, armSection(le, 0xc1, 0x01, 6, 14, 0, 0xc2, 0x01, 0x86, 0x01, tagCPUArch, 9), armAttributes{true, 9, 0}, false},
		{"Tag_CPU_raw_name", le, armSection(le, tagCPURawName, 6, 14, 0, tagCPUArch, 6), armAttributes{true, 6, 0}, false},
		{"no Tag_CPU_arch", le, armSection(le, 8, 1, 9, 2), armAttributes{}, false},
		{"empty", le, []byte{'A'}, armAttributes{}, false},
		{"format", le, []byte{'B', 0, 0, 0, 0}, armAttributes{}, true},
		{"nothing", le, nil, armAttributes{}, true},
		{"length past the end", le, append([]byte{'A', 0xff, 0, 0, 0}, "aeabi\x00"...), armAttributes{}, true},
		{"length below 4", le, []byte{'A', 3, 0, 0, 0}, armAttributes{}, true},
		{"vendor without NUL", le, []byte{'A', 9, 0, 0, 0, 'a', 'e', 'a', 'b', 'i'}, armAttributes{}, true},
		{"string without NUL", le, armSection(le, tagCPUArch, 10, tagCPUName, '7'), armAttributes{true, 10, 0}, true},
		{"value missing", le, armSection(le, tagCPUArch), armAttributes{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseARMAttributes(tc.b, tc.order)
			if got != tc.want || (err != nil) != tc.bad {
				t.Errorf("parseARMAttributes(%x) = %+v, %v; want %+v, error %v", tc.b, got, err, tc.want, tc.bad)
			}
		})
	}
	// Another vendor's subsection and a Tag_Section scope are stepped over.
	sect := le.AppendUint32([]byte{2}, 5+2+2)
	sect = append(sect, 1, 0, tagCPUArch, 14) // sections 1: Tag_CPU_arch v8
	file := le.AppendUint32([]byte{tagFile}, 5+2)
	file = append(file, tagCPUArch, 3)
	aeabi := le.AppendUint32(nil, uint32(4+6+len(sect)+len(file)))
	aeabi = append(append(append(aeabi, "aeabi\x00"...), sect...), file...)
	gnu := le.AppendUint32(nil, 4+4+2)
	gnu = append(gnu, "gnu\x00"...)
	gnu = append(gnu, tagCPUArch, 14)
	b := append(append([]byte{'A'}, gnu...), aeabi...)
	if got, err := parseARMAttributes(b, le); err != nil || got != (armAttributes{true, 3, 0}) {
		t.Errorf("with a gnu subsection and a Tag_Section scope: %+v, %v; want Tag_CPU_arch v5T from Tag_File", got, err)
	}
}

// FuzzParseARMAttributes: any section, however malformed, parses without a
// panic and without reading past its end.
func FuzzParseARMAttributes(f *testing.F) {
	le := byteOrder(binary.LittleEndian)
	f.Add(armSection(le, tagCPUName, '7', '-', 'A', 0, tagCPUArch, 10, tagCPUArchProfile, 'A'))
	f.Add(armSection(le, tagCompatibility, 1, 'g', 'n', 'u', 0, 0xc1, 0x01, 0, 0xc2, 0x01, 0x86, 0x01))
	f.Add([]byte{'A', 0xff, 0xff, 0xff, 0xff})
	f.Add(armSection(le, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseARMAttributes(b, le)
		if err == nil && len(b) > 0 {
			// A well-formed section still parses with a byte of garbage
			// appended only if that byte is read as a (failing) subsection.
			if _, err := parseARMAttributes(append(b[:len(b):len(b)], 1), le); err == nil {
				t.Errorf("%x plus a stray byte parsed", b)
			}
		}
		if !a.hasArch && a.arch != 0 {
			t.Errorf("arch %d set without Tag_CPU_arch", a.arch)
		}
	})
}

// FuzzGNUProperties: any note segment parses without a panic.
func FuzzGNUProperties(f *testing.F) {
	le := binary.LittleEndian
	note := le.AppendUint32(nil, 4)
	note = le.AppendUint32(note, 16)
	note = le.AppendUint32(note, ntGNUPropertyType0)
	note = append(note, "GNU\x00"...)
	note = le.AppendUint32(le.AppendUint32(note, gnuPropertyX86ISANeeded), 4)
	note = le.AppendUint32(note, 7)
	note = append(note, 0, 0, 0, 0)
	f.Add(note, uint8(8))
	f.Add(note[:20], uint8(4))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 5, 0, 0, 0}, uint8(8))
	f.Fuzz(func(t *testing.T, b []byte, align uint8) {
		isa, ok := gnuProperties(b, le, uint64(align), true)
		if !ok && isa != 0 {
			t.Errorf("ISA bits %#x without a property note", isa)
		}
		x86Level(isa)
	})
}

// FuzzELFWindow reads any file as the scan does: no panic, no read past the
// file's end, and never more held than the window's bounds.
func FuzzELFWindow(f *testing.F) {
	le := binary.LittleEndian
	hdr64 := func(machine elf.Machine, phoff, shoff uint64, phnum, shnum uint16) []byte {
		var b bytes.Buffer
		binary.Write(&b, le, elf.Header64{Ident: [16]byte{0x7f, 'E', 'L', 'F', 2, 1, 1}, Machine: uint16(machine), Phoff: phoff, Shoff: shoff,
			Phentsize: 56, Phnum: phnum, Shentsize: 64, Shnum: shnum})
		return b.Bytes()
	}
	hdr32 := func(shoff uint32, shnum uint16) []byte {
		var b bytes.Buffer
		binary.Write(&b, le, elf.Header32{Ident: [16]byte{0x7f, 'E', 'L', 'F', 1, 1, 1}, Machine: uint16(elf.EM_ARM), Shoff: shoff, Shentsize: 40, Shnum: shnum})
		return b.Bytes()
	}
	f.Add(hdr64(elf.EM_X86_64, 64, 0, 3, 0))
	f.Add(append(hdr64(elf.EM_X86_64, 64, 0, 1, 0), le.AppendUint32(nil, uint32(elf.PT_GNU_PROPERTY))...))
	f.Add(hdr64(elf.EM_X86_64, 1<<62, 0, 0xfffe, 0))
	f.Add(hdr32(52, 2))
	f.Add(hdr32(0xfffffff0, 0))
	f.Add(append(hdr32(52, 1), make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &countingReader{r: bytes.NewReader(b)}
		var w elfWindow
		w.reset(r, int64(len(b)))
		id, ok := parseELF(w.at(0, elfHeaderLen))
		if ok {
			readNeeds(&w, id)
		}
		if w.err != nil {
			t.Fatalf("reading a whole %d-byte file: %v", len(b), w.err)
		}
		if r.n > int64(len(b)) || cap(w.buf) > maxELFHead+maxELFTail {
			t.Errorf("read %d of %d bytes, holding %d", r.n, len(b), cap(w.buf))
		}
	})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestELFWindowBounds: what lies beyond the window is not read, and is not
// an error. An x86-64 binary whose note lies past the first 64 KiB holds no
// more than its prefix; a 32-bit ARM binary whose attributes lie more than
// 1 MiB before its end (3 MiB of .symtab after them) is judged by its header.
func TestELFWindowBounds(t *testing.T) {
	le := binary.LittleEndian
	const size = 4 << 20

	x86 := make([]byte, size)
	var h bytes.Buffer
	binary.Write(&h, le, elf.Header64{Ident: [16]byte{0x7f, 'E', 'L', 'F', 2, 1, 1}, Machine: uint16(elf.EM_X86_64), Phoff: 64, Phentsize: 56, Phnum: 1})
	binary.Write(&h, le, elf.Prog64{Type: uint32(elf.PT_GNU_PROPERTY), Off: 3 << 20, Filesz: 32, Align: 8})
	copy(x86, h.Bytes())
	copy(x86[3<<20:], []byte{4, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0, 'G', 'N', 'U', 0, 2, 0x80, 0, 0xc0, 4, 0, 0, 0, 4, 0, 0, 0})
	_, needs, w, ok := readFileNeeds(t, x86)
	if !ok || w.err != nil || needs.x86ISA != 0 || cap(w.buf) > maxELFHead {
		t.Errorf("x86-64 note at 3 MiB: ISA %#x, err %v, holding %d bytes; want nothing read past the prefix", needs.x86ISA, w.err, cap(w.buf))
	}

	arm := make([]byte, size)
	attrs := armSection(le, tagCPUArch, 10)
	const attrOff, shoff = 1 << 20, size - 2*40
	copy(arm[attrOff:], attrs)
	h.Reset()
	binary.Write(&h, le, elf.Header32{Ident: [16]byte{0x7f, 'E', 'L', 'F', 1, 1, 1}, Machine: uint16(elf.EM_ARM), Shoff: shoff, Shentsize: 40, Shnum: 2})
	copy(arm, h.Bytes())
	h.Reset()
	binary.Write(&h, le, []elf.Section32{{}, {Type: shtARMAttributes, Off: attrOff, Size: uint32(len(attrs))}})
	copy(arm[shoff:], h.Bytes())
	_, needs, w, ok = readFileNeeds(t, arm)
	if !ok || w.err != nil || needs.arm.hasArch || cap(w.buf) > maxELFHead+maxELFTail {
		t.Errorf("ARM attributes 3 MiB before the end: %+v, err %v, holding %d bytes; want them unread", needs.arm, w.err, cap(w.buf))
	}
	// The same attributes within the last 1 MiB are read.
	copy(arm[size-(1<<19):], attrs)
	h.Reset()
	binary.Write(&h, le, []elf.Section32{{}, {Type: shtARMAttributes, Off: size - (1 << 19), Size: uint32(len(attrs))}})
	copy(arm[shoff:], h.Bytes())
	if _, needs, _, _ = readFileNeeds(t, arm); !needs.arm.hasArch || needs.arm.arch != 10 {
		t.Errorf("ARM attributes 512 KiB before the end: %+v, want Tag_CPU_arch v7", needs.arm)
	}
}
