package verify

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// x86-64 microarchitecture levels, as GNU toolchains record them: gcc
// -mneeded (and glibc's own builds) put a GNU_PROPERTY_X86_ISA_1_NEEDED
// property in the .note.gnu.property note of every object, and ld ORs them
// into the executable's. The note is in the first page, covered by the
// PT_GNU_PROPERTY program header (and a PT_NOTE):
//
//	uint32 namesz, descsz, type   4, ..., NT_GNU_PROPERTY_TYPE_0 (5)
//	"GNU\0"
//	[ uint32 pr_type, pr_datasz; data; padding to 8 bytes (4 in ELF32) ]*
//
// readelf -n prints the bits as "x86 ISA needed: x86-64-baseline,
// x86-64-v2, x86-64-v3". Go's linker writes no such note.

const (
	ntGNUPropertyType0      = 5
	gnuPropertyX86ISANeeded = 0xc0008002
)

// x86ISANeeded returns the GNU_PROPERTY_X86_ISA_1_NEEDED bits of the file
// in w, 0 when it declares none or its notes lie beyond the window's prefix.
func (w *elfWindow) x86ISANeeded(l elfLayout) uint32 {
	segs := w.segments(l)
	for _, want := range []elf.ProgType{elf.PT_GNU_PROPERTY, elf.PT_NOTE} {
		for _, s := range segs {
			if s.typ != want {
				continue
			}
			b, _ := w.prefix(s.off, s.size)
			if isa, ok := gnuProperties(b, l.order, s.align, l.is64); ok {
				return isa
			}
		}
	}
	return 0
}

// gnuProperties reads the notes in b, aligned as their segment says (4 or
// 8), for a NT_GNU_PROPERTY_TYPE_0 note and returns its x86 ISA needed bits;
// ok is false when there is no such note.
func gnuProperties(b []byte, order binary.ByteOrder, align uint64, is64 bool) (isa uint32, ok bool) {
	if align != 8 {
		align = 4
	}
	for uint64(len(b)) >= 12 {
		namesz, descsz, typ := uint64(order.Uint32(b)), uint64(order.Uint32(b[4:])), order.Uint32(b[8:])
		descOff := alignUp(12+namesz, align)
		descEnd := descOff + descsz
		if descOff > uint64(len(b)) || descEnd > uint64(len(b)) {
			return 0, false // a malformed note
		}
		if typ == ntGNUPropertyType0 && namesz == 4 && string(b[12:16]) == "GNU\x00" {
			return x86ISAProperty(b[descOff:descEnd], order, is64), true
		}
		b = b[min(alignUp(descEnd, align), uint64(len(b))):]
	}
	return 0, false
}

// x86ISAProperty finds GNU_PROPERTY_X86_ISA_1_NEEDED in a property array.
func x86ISAProperty(b []byte, order binary.ByteOrder, is64 bool) uint32 {
	align := uint64(4)
	if is64 {
		align = 8
	}
	for uint64(len(b)) >= 8 {
		typ, size := order.Uint32(b), uint64(order.Uint32(b[4:]))
		if 8+size > uint64(len(b)) {
			return 0
		}
		if typ == gnuPropertyX86ISANeeded && size == 4 {
			return order.Uint32(b[8:])
		}
		b = b[min(alignUp(8+size, align), uint64(len(b))):]
	}
	return 0
}

func alignUp(n, align uint64) uint64 { return (n + align - 1) &^ (align - 1) }

// x86Level is the x86-64 microarchitecture level the ISA needed bits ask
// for: 1 (baseline, or nothing declared) to 4.
func x86Level(isa uint32) int {
	return max(1, min(bits.Len32(isa&0xf), 4))
}

func x86LevelName(level int) string { return fmt.Sprintf("x86-64-v%d", level) }
