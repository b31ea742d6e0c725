package verify

import (
	"debug/elf"
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cpuNeeds is what an ELF binary records about the revision of its CPU it
// needs, beyond e_machine: what a platform's variant promises.
type cpuNeeds struct {
	// arm is read from a 32-bit ARM binary's .ARM.attributes.
	arm armAttributes
	// x86ISA are an x86-64 binary's GNU_PROPERTY_X86_ISA_1_NEEDED bits.
	x86ISA uint32
}

// readNeeds reads, within the window's bounds, what the file in w whose
// header is id records about its CPU: the build attributes of a 32-bit ARM
// binary, the ISA level of an x86-64 one.
func readNeeds(w *elfWindow, id elfID) cpuNeeds {
	var n cpuNeeds
	switch {
	case id.machine == elf.EM_ARM && id.class == elf.ELFCLASS32:
		l, ok := w.layout(id)
		if !ok {
			break
		}
		if b := w.sectionOfType(l, shtARMAttributes, maxARMAttributes); b != nil {
			// A malformed section keeps what was read before the fault.
			n.arm, _ = parseARMAttributes(b, l.order)
		}
	case id.machine == elf.EM_X86_64 && id.class == elf.ELFCLASS64:
		if l, ok := w.layout(id); ok {
			n.x86ISA = w.x86ISANeeded(l)
		}
	}
	return n
}

// variantFinding returns a KindELFVariant finding when a binary with needs
// asks more of the CPU than want's variant (want normalised) promises.
func variantFinding(needs cpuNeeds, want v1.Platform) (Finding, bool) {
	switch want.Architecture {
	case "arm":
		label, ok := variantNumber(want.Variant) // Normalize reads arm as arm/v7
		version, desc, known := needs.arm.needs()
		if !ok || !known || version <= label {
			return Finding{}, false
		}
		return Finding{
			Kind:    KindELFVariant,
			Needs:   "v" + strconv.Itoa(version),
			Message: fmt.Sprintf("needs %s; the label promises ARMv%d", desc, label),
		}, true
	case "amd64":
		label := 1 // no variant is v1: the baseline every amd64 host has
		if want.Variant != "" {
			var ok bool
			if label, ok = variantNumber(want.Variant); !ok {
				return Finding{}, false
			}
		}
		level := x86Level(needs.x86ISA)
		if level <= label {
			return Finding{}, false
		}
		return Finding{
			Kind:    KindELFVariant,
			Needs:   "v" + strconv.Itoa(level),
			Message: fmt.Sprintf("needs %s (x86 ISA needed); the label promises %s", x86LevelName(level), x86LevelName(label)),
		}, true
	}
	return Finding{}, false
}

// variantNumber reads "v7" as 7.
func variantNumber(v string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	return n, err == nil && strings.HasPrefix(v, "v") && n > 0
}
