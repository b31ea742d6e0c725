package verify_test

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/verify"
)

// A layer of an arm64 image that carries an x86-64 binary.
func ExampleScanLayer() {
	var bin bytes.Buffer
	binary.Write(&bin, binary.LittleEndian, elf.Header64{
		Ident:   [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:    uint16(elf.ET_EXEC),
		Machine: uint16(elf.EM_X86_64),
		Version: uint32(elf.EV_CURRENT),
		Ehsize:  64,
	})
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "usr/bin/agent", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(bin.Len())})
	tw.Write(bin.Bytes())
	tw.Close()

	findings, stats, err := verify.ScanLayer(&layer, v1.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		panic(err)
	}
	fmt.Println(stats.ELFFiles, "ELF file")
	for _, f := range findings {
		fmt.Println(f)
	}
	// Output:
	// 1 ELF file
	// linux/arm64 elf-architecture: usr/bin/agent: ELF 64-bit LSB x86-64, expected aarch64
}
