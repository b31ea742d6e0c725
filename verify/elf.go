package verify

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// elfHeaderLen is how much of a file identifies an ELF binary: e_ident (16
// bytes), e_type (2) and e_machine (2).
const elfHeaderLen = 20

// elfID is what an ELF header says about the CPU its code is for.
type elfID struct {
	class   elf.Class   // ELFCLASS32 or ELFCLASS64
	data    elf.Data    // ELFDATA2LSB or ELFDATA2MSB
	machine elf.Machine // e_machine
}

// parseELF reads the identification from a file's first bytes. ok is false
// when they are not an ELF header: no magic, an invalid class or byte order,
// or fewer than elfHeaderLen bytes.
func parseELF(b []byte) (id elfID, ok bool) {
	if len(b) < elfHeaderLen || string(b[:4]) != elf.ELFMAG {
		return elfID{}, false
	}
	id.class, id.data = elf.Class(b[elf.EI_CLASS]), elf.Data(b[elf.EI_DATA])
	if id.class != elf.ELFCLASS32 && id.class != elf.ELFCLASS64 {
		return elfID{}, false
	}
	switch id.data {
	case elf.ELFDATA2LSB:
		id.machine = elf.Machine(binary.LittleEndian.Uint16(b[18:20]))
	case elf.ELFDATA2MSB:
		id.machine = elf.Machine(binary.BigEndian.Uint16(b[18:20]))
	default:
		return elfID{}, false
	}
	return id, true
}

// String describes the header as file(1) does: "ELF 64-bit LSB x86-64".
func (id elfID) String() string {
	return "ELF " + id.shape() + " " + machineName(id.machine)
}

// shape is "64-bit LSB", "32-bit MSB"...
func (id elfID) shape() string {
	bits, order := "32-bit", "LSB"
	if id.class == elf.ELFCLASS64 {
		bits = "64-bit"
	}
	if id.data == elf.ELFDATA2MSB {
		order = "MSB"
	}
	return bits + " " + order
}

// mismatch describes how got differs from want: "ELF 32-bit LSB ARM,
// expected aarch64", naming the class and byte order expected only when the
// machine alone does not tell them apart (ppc64 and ppc64le are both PowerPC64).
func mismatch(got, want elfID) string {
	if got.machine != want.machine {
		return fmt.Sprintf("%s, expected %s", got, machineName(want.machine))
	}
	return fmt.Sprintf("%s, expected %s %s", got, want.shape(), machineName(want.machine))
}

// machineName names the machines polyarch knows the way file(1) does, and
// falls back to debug/elf's constant name (EM_SPARCV9) for the others.
func machineName(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86-64"
	case elf.EM_386:
		return "Intel 80386"
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_ARM:
		return "ARM"
	case elf.EM_PPC64:
		return "PowerPC64"
	case elf.EM_PPC:
		return "PowerPC"
	case elf.EM_S390:
		return "IBM S/390"
	case elf.EM_RISCV:
		return "RISC-V"
	case elf.EM_MIPS:
		return "MIPS"
	case elf.EM_LOONGARCH:
		return "LoongArch"
	}
	return m.String()
}

// expectedELF is the ELF header the binaries of each (normalised) GOARCH
// carry. Every variant of an architecture shares its entry: arm/v6 and arm/v7
// binaries differ only in their build attributes (variant.go).
var expectedELF = map[string]elfID{
	"amd64":    {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64},
	"386":      {elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386},
	"arm64":    {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64},
	"arm":      {elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM},
	"ppc64le":  {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64},
	"ppc64":    {elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_PPC64},
	"s390x":    {elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390},
	"riscv64":  {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_RISCV},
	"mips64le": {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_MIPS},
	"mips64":   {elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_MIPS},
	"mipsle":   {elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_MIPS},
	"mips":     {elf.ELFCLASS32, elf.ELFDATA2MSB, elf.EM_MIPS},
	"loong64":  {elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_LOONGARCH},
}

// archNeutral reports machines whose objects no CPU of any platform runs
// directly, so they belong in an image of any architecture: eBPF programs
// (Cilium, Falco and other agents ship them as .o files).
func archNeutral(m elf.Machine) bool { return m == elf.EM_BPF }
