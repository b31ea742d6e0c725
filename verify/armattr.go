package verify

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ARM build attributes, as the Arm ABI addenda ("Build Attributes", the
// aeabi public attributes) define them and GNU and LLVM toolchains write
// them in the .ARM.attributes section of every object and executable:
//
//	'A'                            format version
//	[ uint32 length                the subsection, this field included
//	  NTBS   vendor                "aeabi" for the public attributes
//	  [ ULEB128 scope              Tag_File (1), Tag_Section (2), Tag_Symbol (3)
//	    uint32  size               the subsubsection, scope tag included
//	    [ section or symbol numbers, ULEB128, ending with 0 ]
//	    [ ULEB128 tag, ULEB128 or NTBS value ]* ]* ]*
//
// The uint32s are in the file's byte order. Whether a tag's value is a
// number or a string is fixed by the tag, so a reader can step over tags it
// does not know: Tag_CPU_raw_name (4) and Tag_CPU_name (5) are strings, the
// other tags below 32 numbers, Tag_compatibility (32) a number then a
// string, and from 32 on odd tags are strings and even ones numbers.
//
// Only the file-scope Tag_CPU_arch and Tag_CPU_arch_profile are kept: what
// the whole binary needs of the CPU.

// shtARMAttributes is SHT_ARM_ATTRIBUTES, the type of .ARM.attributes.
const shtARMAttributes = 0x70000003

// maxARMAttributes bounds the section read; GNU ld writes about 50 bytes.
const maxARMAttributes = 64 << 10

const (
	tagFile           = 1
	tagCPURawName     = 4
	tagCPUName        = 5
	tagCPUArch        = 6
	tagCPUArchProfile = 7
	tagCompatibility  = 32
)

// armAttributes are what a binary's build attributes say of its CPU.
type armAttributes struct {
	// hasArch is true when the file-scope attributes set Tag_CPU_arch.
	hasArch bool
	// arch is Tag_CPU_arch: 10 for ARMv7, 14 for ARMv8 (armArchs).
	arch uint64
	// profile is Tag_CPU_arch_profile: 'A', 'R', 'M', 'S' or 0 (none).
	profile uint64
}

var errShortAttributes = errors.New("truncated")

// parseARMAttributes reads a .ARM.attributes section. An error says the
// section is malformed; attributes set before the fault are returned too.
func parseARMAttributes(b []byte, order binary.ByteOrder) (armAttributes, error) {
	var a armAttributes
	if len(b) == 0 || b[0] != 'A' {
		return a, errors.New("not format version A")
	}
	b = b[1:]
	for len(b) > 0 {
		if len(b) < 4 {
			return a, fmt.Errorf("subsection length: %w", errShortAttributes)
		}
		n := uint64(order.Uint32(b))
		if n < 4 || n > uint64(len(b)) {
			return a, fmt.Errorf("subsection length %d of %d bytes", n, len(b))
		}
		sub := b[4:n]
		b = b[n:]
		vendor, rest, err := ntbs(sub)
		if err != nil {
			return a, fmt.Errorf("vendor name: %w", err)
		}
		if vendor != "aeabi" {
			continue // another vendor's attributes
		}
		if err := a.parseVendorData(rest, order); err != nil {
			return a, err
		}
	}
	return a, nil
}

// parseVendorData reads the aeabi subsection's subsubsections.
func (a *armAttributes) parseVendorData(b []byte, order binary.ByteOrder) error {
	for len(b) > 0 {
		scope, k, err := uleb128(b)
		if err != nil {
			return fmt.Errorf("scope tag: %w", err)
		}
		if uint64(len(b)) < uint64(k)+4 {
			return fmt.Errorf("scope size: %w", errShortAttributes)
		}
		n := uint64(order.Uint32(b[k:]))
		if n < uint64(k)+4 || n > uint64(len(b)) {
			return fmt.Errorf("scope size %d of %d bytes", n, len(b))
		}
		body := b[k+4 : n]
		b = b[n:]
		if scope != tagFile {
			continue // attributes of some sections or symbols only
		}
		if err := a.parseFileAttributes(body); err != nil {
			return err
		}
	}
	return nil
}

// parseFileAttributes reads the tag-value pairs of a Tag_File subsubsection.
func (a *armAttributes) parseFileAttributes(b []byte) error {
	for len(b) > 0 {
		tag, k, err := uleb128(b)
		if err != nil {
			return fmt.Errorf("tag: %w", err)
		}
		b = b[k:]
		if tag == tagCompatibility {
			if _, k, err = uleb128(b); err != nil {
				return fmt.Errorf("Tag_compatibility: %w", err)
			}
			b = b[k:]
		}
		if armTagIsString(tag) {
			if _, b, err = ntbs(b); err != nil {
				return fmt.Errorf("tag %d: %w", tag, err)
			}
			continue
		}
		v, k, err := uleb128(b)
		if err != nil {
			return fmt.Errorf("tag %d: %w", tag, err)
		}
		b = b[k:]
		switch tag {
		case tagCPUArch:
			a.hasArch, a.arch = true, v
		case tagCPUArchProfile:
			a.profile = v
		}
	}
	return nil
}

// armTagIsString reports tags whose value is a NTBS (Tag_compatibility's
// after its number).
func armTagIsString(tag uint64) bool {
	switch {
	case tag == tagCPURawName, tag == tagCPUName, tag == tagCompatibility:
		return true
	case tag < 32:
		return false
	}
	return tag%2 == 1
}

// uleb128 decodes an unsigned LEB128 number from the start of b and returns
// it and its length. More than 64 bits is an error.
func uleb128(b []byte) (v uint64, n int, err error) {
	var shift uint
	for i, c := range b {
		if shift == 63 && c > 1 || shift > 63 {
			return 0, 0, errors.New("ULEB128 overflows 64 bits")
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, fmt.Errorf("ULEB128: %w", errShortAttributes)
}

// ntbs splits a NUL-terminated string off the start of b.
func ntbs(b []byte) (s string, rest []byte, err error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", nil, fmt.Errorf("string without its NUL: %w", errShortAttributes)
	}
	return string(b[:i]), b[i+1:], nil
}

// armArchs names the Tag_CPU_arch values as readelf -A does, with the ARM
// architecture version whose hosts run them: a label arm/vN promises that
// no binary needs more than ARMvN. The v6 variants, the microcontroller
// profiles included, run on an ARMv6 host in the sense arm/v6 means
// (Raspberry Pi 1 and Zero: ARM1176JZF-S, v6KZ); v8.x-A AArch32 code needs
// an ARMv8 CPU.
var armArchs = []struct {
	name    string
	version int
}{
	0: {"Pre-v4", 3}, 1: {"v4", 4}, 2: {"v4T", 4}, 3: {"v5T", 5}, 4: {"v5TE", 5}, 5: {"v5TEJ", 5},
	6: {"v6", 6}, 7: {"v6KZ", 6}, 8: {"v6T2", 6}, 9: {"v6K", 6}, 10: {"v7", 7}, 11: {"v6-M", 6},
	12: {"v6S-M", 6}, 13: {"v7E-M", 7}, 14: {"v8", 8}, 15: {"v8-R", 8}, 16: {"v8-M.baseline", 8},
	17: {"v8-M.mainline", 8}, 18: {"v8.1-A", 8}, 19: {"v8.2-A", 8}, 20: {"v8.3-A", 8},
	21: {"v8.1-M.mainline", 8}, 22: {"v9", 9},
}

// needs returns the ARM version the attributes need and how to say it:
// "ARMv7-A (Tag_CPU_arch v7)". ok is false without Tag_CPU_arch or for a
// value newer than this table.
func (a armAttributes) needs() (version int, desc string, ok bool) {
	if !a.hasArch || a.arch >= uint64(len(armArchs)) {
		return 0, "", false
	}
	arch := armArchs[a.arch]
	name := "ARM" + arch.name
	if !strings.Contains(arch.name, "-") {
		switch a.profile {
		case 'A', 'R', 'M':
			name += "-" + string(rune(a.profile))
		}
	}
	return arch.version, fmt.Sprintf("%s (Tag_CPU_arch %s)", name, arch.name), true
}
