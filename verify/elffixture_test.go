package verify_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// A minimal ELF writer for binaries that carry what a linker records about
// the CPU they need: ARM build attributes (.ARM.attributes) and x86 ISA
// levels (.note.gnu.property). Go's own ARM and amd64 binaries carry
// neither, so the fixtures are written here and read back with debug/elf.

// shtARMAttributes is SHT_ARM_ATTRIBUTES (ELF for the Arm Architecture).
const shtARMAttributes = elf.SectionType(0x70000003)

// section is one section of a synthetic ELF file. progs are the program
// headers that cover exactly this section (PT_NOTE, PT_GNU_PROPERTY...).
type section struct {
	name  string
	typ   elf.SectionType
	flags elf.SectionFlag
	align uint64
	data  []byte
	progs []elf.ProgType
}

// elfFile lays out an executable: the ELF header, the program headers,
// each section's data in order, .shstrtab, then the section headers, where
// linkers put them: at the end.
func elfFile(class elf.Class, data elf.Data, machine elf.Machine, sections ...section) []byte {
	var order binary.ByteOrder = binary.LittleEndian
	if data == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	is64 := class == elf.ELFCLASS64
	ehsize, phentsize, shentsize := uint64(52), uint64(32), uint64(40)
	if is64 {
		ehsize, phentsize, shentsize = 64, 56, 64
	}
	nprogs := 0
	for _, s := range sections {
		nprogs += len(s.progs)
	}
	shstrtab := []byte{0}
	names := make([]uint32, len(sections)+1)
	for i, s := range append(sections, section{name: ".shstrtab"}) {
		names[i] = uint32(len(shstrtab))
		shstrtab = append(append(shstrtab, s.name...), 0)
	}
	sections = append(sections, section{name: ".shstrtab", typ: elf.SHT_STRTAB, align: 1, data: shstrtab})

	out := make([]byte, ehsize+uint64(nprogs)*phentsize)
	offsets := make([]uint64, len(sections))
	for i, s := range sections {
		for uint64(len(out))%max(s.align, 1) != 0 {
			out = append(out, 0)
		}
		offsets[i] = uint64(len(out))
		out = append(out, s.data...)
	}
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	shoff := uint64(len(out))

	const base = 0x10000
	var hdr, progs, shdrs bytes.Buffer
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(class), byte(data), byte(elf.EV_CURRENT)}
	shnum, shstrndx := uint16(len(sections)+1), uint16(len(sections))
	if is64 {
		binary.Write(&hdr, order, elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
			Entry: base, Phoff: ehsize, Shoff: shoff, Ehsize: uint16(ehsize), Phentsize: uint16(phentsize), Phnum: uint16(nprogs),
			Shentsize: uint16(shentsize), Shnum: shnum, Shstrndx: shstrndx})
		binary.Write(&shdrs, order, elf.Section64{})
	} else {
		binary.Write(&hdr, order, elf.Header32{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
			Entry: base, Phoff: uint32(ehsize), Shoff: uint32(shoff), Ehsize: uint16(ehsize), Phentsize: uint16(phentsize), Phnum: uint16(nprogs),
			Shentsize: uint16(shentsize), Shnum: shnum, Shstrndx: shstrndx})
		binary.Write(&shdrs, order, elf.Section32{})
	}
	for i, s := range sections {
		off, size := offsets[i], uint64(len(s.data))
		addr := uint64(0)
		if s.flags&elf.SHF_ALLOC != 0 {
			addr = base + off
		}
		for _, p := range s.progs {
			if is64 {
				binary.Write(&progs, order, elf.Prog64{Type: uint32(p), Flags: uint32(elf.PF_R), Off: off, Vaddr: addr, Paddr: addr, Filesz: size, Memsz: size, Align: s.align})
			} else {
				binary.Write(&progs, order, elf.Prog32{Type: uint32(p), Off: uint32(off), Vaddr: uint32(addr), Paddr: uint32(addr), Filesz: uint32(size), Memsz: uint32(size), Flags: uint32(elf.PF_R), Align: uint32(s.align)})
			}
		}
		if is64 {
			binary.Write(&shdrs, order, elf.Section64{Name: names[i], Type: uint32(s.typ), Flags: uint64(s.flags), Addr: addr, Off: off, Size: size, Addralign: s.align})
		} else {
			binary.Write(&shdrs, order, elf.Section32{Name: names[i], Type: uint32(s.typ), Flags: uint32(s.flags), Addr: uint32(addr), Off: uint32(off), Size: uint32(size), Addralign: uint32(s.align)})
		}
	}
	copy(out, hdr.Bytes())
	copy(out[ehsize:], progs.Bytes())
	return append(out, shdrs.Bytes()...)
}

// checkELF reads b back with debug/elf and fails unless every section
// named in want is there with the same type and contents: the writer
// cannot drift from the format.
func checkELF(t testing.TB, b []byte, want ...section) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("ELF fixture: %v", err)
	}
	for _, w := range want {
		s := f.Section(w.name)
		if s == nil || s.Type != w.typ {
			t.Fatalf("ELF fixture: section %s missing or not %v", w.name, w.typ)
		}
		if got, err := s.Data(); err != nil || !bytes.Equal(got, w.data) {
			t.Fatalf("ELF fixture: section %s reads back as %x, %v", w.name, got, err)
		}
	}
}

// code is size bytes standing in for machine code.
func code(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// armAttr is one build attribute: a ULEB128 tag and a ULEB128 or string
// value (Arm ABI addenda, "Build Attributes").
type armAttr struct {
	tag uint64
	num uint64
	str string
}

// The tags the fixtures use. Tags 4 and 5 and odd tags from 65 up carry
// strings; Tag_compatibility (32) a number then a string.
const (
	tagCPURawName      = 4
	tagCPUName         = 5
	tagCPUArch         = 6
	tagCPUArchProfile  = 7
	tagARMISAUse       = 8
	tagTHUMBISAUse     = 9
	tagFPArch          = 10
	tagABIVFPArgs      = 28
	tagCompatibility   = 32
	tagCPUUnaligned    = 34
	tagConformance     = 67
	tagVirtualization  = 68
	tagUnknownEvenLong = 200 // unknown to the spec: even, so a ULEB128 value; two bytes of tag
)

// Tag_CPU_arch values.
const (
	archV5TE = 4
	archV6   = 6
	archV6KZ = 7
	archV7   = 10
	archV8   = 14
)

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func ntbs(s string) []byte { return append([]byte(s), 0) }

// armAttributes encodes a .ARM.attributes section: format version 'A', a
// "gnu" vendor subsection readers skip, then "aeabi" with one Tag_File
// subsubsection of attrs.
func armAttributes(attrs ...armAttr) []byte {
	var body []byte
	for _, a := range attrs {
		body = append(body, uleb(a.tag)...)
		switch {
		case a.tag == tagCompatibility:
			body = append(append(body, uleb(a.num)...), ntbs(a.str)...)
		case a.tag == tagCPURawName || a.tag == tagCPUName || a.tag >= 32 && a.tag%2 == 1:
			body = append(body, ntbs(a.str)...)
		default:
			body = append(body, uleb(a.num)...)
		}
	}
	le := binary.LittleEndian
	file := le.AppendUint32([]byte{1}, uint32(1+4+len(body))) // Tag_File, its size
	file = append(file, body...)
	vendor := func(name string, data []byte) []byte {
		v := le.AppendUint32(nil, uint32(4+len(name)+1+len(data)))
		return append(append(v, ntbs(name)...), data...)
	}
	out := []byte{'A'}
	out = append(out, vendor("gnu", []byte{1, 9, 0, 0, 0, 6, 14, 7, 'A'})...) // looks like Tag_CPU_arch v8: not aeabi's
	return append(out, vendor("aeabi", file)...)
}

// armAttrsFor is what gcc writes for arch, shaped like Debian armhf's
// (readelf -A of its busybox: Tag_CPU_name "7-A", Tag_CPU_arch v7, profile
// Application, Thumb-2, VFPv3-D16...), with a string after Tag_CPU_arch and
// a two-byte tag to step over.
func armAttrsFor(arch uint64) []armAttr {
	name, profile := map[uint64]string{archV5TE: "5TE", archV6: "6", archV6KZ: "6KZ", archV7: "7-A", archV8: "8-A"}[arch], uint64(0)
	if arch >= archV7 {
		profile = 'A'
	}
	attrs := []armAttr{
		{tag: tagCPUName, str: name},
		{tag: tagCPUArch, num: arch},
	}
	if profile != 0 {
		attrs = append(attrs, armAttr{tag: tagCPUArchProfile, num: profile})
	}
	return append(attrs,
		armAttr{tag: tagARMISAUse, num: 1}, armAttr{tag: tagTHUMBISAUse, num: 2}, armAttr{tag: tagFPArch, num: 3},
		armAttr{tag: tagABIVFPArgs, num: 1}, armAttr{tag: tagCompatibility, num: 0, str: ""},
		armAttr{tag: tagCPUUnaligned, num: 1}, armAttr{tag: tagConformance, str: "2.09"},
		armAttr{tag: tagUnknownEvenLong, num: 300}, armAttr{tag: tagVirtualization, num: 0})
}

// armBinary is a 32-bit ARM executable of about size bytes whose
// .ARM.attributes section is attrs (none when nil), followed by trailer
// bytes of .symtab, as an unstripped binary has.
func armBinary(t testing.TB, attrs []byte, size, trailer int) []byte {
	t.Helper()
	text := section{name: ".text", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, align: 4, data: code(size), progs: []elf.ProgType{elf.PT_LOAD}}
	secs := []section{text}
	var want []section
	if attrs != nil {
		a := section{name: ".ARM.attributes", typ: shtARMAttributes, align: 1, data: attrs}
		secs, want = append(secs, a), append(want, a)
	}
	if trailer > 0 {
		secs = append(secs, section{name: ".symtab", typ: elf.SHT_SYMTAB, align: 4, data: code(trailer)})
	}
	b := elfFile(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM, secs...)
	checkELF(t, b, want...)
	return b
}

// armV is an ARM executable whose attributes say Tag_CPU_arch arch.
func armV(t testing.TB, arch uint64) []byte {
	return armBinary(t, armAttributes(armAttrsFor(arch)...), 300, 0)
}

// GNU property note constants (the x86-64 psABI; readelf -n prints them as
// "x86 ISA needed: x86-64-baseline, x86-64-v2...").
const (
	ntGNUPropertyType0    = 5
	gnuPropertyX86ISANeed = 0xc0008002
	gnuPropertyX86Feature = 0xc0000002 // GNU_PROPERTY_X86_FEATURE_1_AND (IBT, SHSTK)
	isaBaseline           = 1
	isaV2                 = 2
	isaV3                 = 4
	isaV4                 = 8
)

// gnuPropertyNote is a NT_GNU_PROPERTY_TYPE_0 note as a 64-bit linker
// writes it: the x86 feature property, then ISA needed = isa.
func gnuPropertyNote(isa uint32) []byte {
	le := binary.LittleEndian
	var desc []byte
	desc = le.AppendUint32(le.AppendUint32(desc, gnuPropertyX86Feature), 4)
	desc = le.AppendUint32(desc, 3)
	desc = append(desc, 0, 0, 0, 0) // to 8 bytes
	desc = le.AppendUint32(le.AppendUint32(desc, gnuPropertyX86ISANeed), 4)
	desc = le.AppendUint32(desc, isa)
	desc = append(desc, 0, 0, 0, 0)
	n := le.AppendUint32(nil, 4)
	n = le.AppendUint32(n, uint32(len(desc)))
	n = le.AppendUint32(n, ntGNUPropertyType0)
	return append(append(n, "GNU\x00"...), desc...)
}

// buildIDNote is a NT_GNU_BUILD_ID note, which sits beside the property
// note in a PT_NOTE segment of its own.
func buildIDNote() []byte {
	le := binary.LittleEndian
	n := le.AppendUint32(nil, 4)
	n = le.AppendUint32(n, 20)
	n = le.AppendUint32(n, 3)
	return append(append(n, "GNU\x00"...), code(20)...)
}

// x86Binary is an x86-64 executable laid out as GNU ld lays out Debian's:
// .note.gnu.property (covered by PT_NOTE and PT_GNU_PROPERTY) saying ISA
// needed = isa, a build-id note, then code. isa 0 leaves the property note
// out, as Go's linker does.
func x86Binary(t testing.TB, isa uint32, size int) []byte {
	t.Helper()
	var secs []section
	if isa != 0 {
		secs = append(secs, section{name: ".note.gnu.property", typ: elf.SHT_NOTE, flags: elf.SHF_ALLOC, align: 8, data: gnuPropertyNote(isa),
			progs: []elf.ProgType{elf.PT_NOTE, elf.PT_GNU_PROPERTY}})
	}
	secs = append(secs,
		section{name: ".note.gnu.build-id", typ: elf.SHT_NOTE, flags: elf.SHF_ALLOC, align: 4, data: buildIDNote(), progs: []elf.ProgType{elf.PT_NOTE}},
		section{name: ".text", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, align: 16, data: code(size), progs: []elf.ProgType{elf.PT_LOAD}})
	b := elfFile(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64, secs...)
	checkELF(t, b, secs...)
	f, _ := elf.NewFile(bytes.NewReader(b))
	if len(f.Progs) == 0 || f.Progs[0].Type != elf.PT_NOTE && isa != 0 {
		t.Fatalf("x86 fixture: program headers %v", f.Progs)
	}
	return b
}
