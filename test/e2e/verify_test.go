package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestVerifyExitCodes runs `polyarch verify` on indexes pushed to
// `polyarch registry serve`: 0 when every label is true, 1 with the report
// on stdout and one error line on stderr when one is not, 2 for a bad
// command line.
func TestVerifyExitCodes(t *testing.T) {
	bin := polyarchBinary(t)
	host := startServe(t, "--quiet").host

	amd64 := verifyImage(t, "amd64", elf.EM_X86_64, "usr/bin/agent")
	arm64 := verifyImage(t, "arm64", elf.EM_AARCH64, "usr/bin/agent")
	good := host + "/org/agent:v1"
	verifyPushIndex(t, good, amd64, arm64)
	// The arm64 image of this one ships the x86-64 build of its agent.
	wrong := verifyImage(t, "arm64", elf.EM_X86_64, "usr/bin/agent")
	bad := host + "/org/agent:v1-broken"
	verifyPushIndex(t, bad, amd64, wrong)
	wrongLayer, _ := wrong.Layers()
	layerDigest, _ := wrongLayer[0].Digest()

	stdout, stderr, code := runSplit(t, bin, "verify", good)
	if code != 0 || stdout != "verified 2 platforms, 2 layers, 2 ELF files: 0 findings\n" || stderr != "" {
		t.Errorf("verify %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0 and the summary line only", good, code, stdout, stderr)
	}

	stdout, stderr, code = runSplit(t, bin, "verify", bad)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], "linux/arm64 elf-architecture: usr/bin/agent: ELF 64-bit LSB x86-64, expected aarch64") ||
		!strings.Contains(lines[0], layerDigest.String()) || lines[1] != "verified 2 platforms, 2 layers, 2 ELF files: 1 finding" {
		t.Errorf("verify %s: exit %d, stdout:\n%s\nwant exit 1, the finding with its layer %s, then the summary", bad, code, stdout, layerDigest)
	}
	if stderr != "polyarch: "+bad+": 1 finding\n" {
		t.Errorf("verify %s: stderr %q, want one line naming the reference and the count", bad, stderr)
	}

	stdout, _, code = runSplit(t, bin, "verify", "--json", bad)
	var rep struct {
		Children []struct {
			Platform string
			Findings []struct{ Kind, Layer, Path string }
		}
		Summary struct{ Findings int }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, stdout)
	}
	if code != 1 || rep.Summary.Findings != 1 || len(rep.Children) != 2 || len(rep.Children[1].Findings) != 1 ||
		rep.Children[1].Findings[0].Path != "usr/bin/agent" || rep.Children[1].Findings[0].Layer != layerDigest.String() {
		t.Errorf("verify --json %s: exit %d, report:\n%s", bad, code, stdout)
	}

	if stdout, _, code = runSplit(t, bin, "verify", "--ignore", "usr/bin/*", bad); code != 0 || !strings.HasSuffix(stdout, ": 0 findings\n") {
		t.Errorf("verify --ignore 'usr/bin/*': exit %d, stdout:\n%s\nwant 0 findings", code, stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no reference", []string{"verify"}, 2, "takes 1 argument"},
		{"bad reference", []string{"verify", "Not A Ref"}, 2, "Not A Ref"},
		{"bad glob", []string{"verify", "--ignore", "usr/[bin", good}, 2, "usr/[bin"},
		{"zero jobs", []string{"verify", "--jobs", "0", good}, 2, `"0" for "--jobs"`},
		{"missing tag", []string{"verify", host + "/org/agent:nope"}, 1, host + "/org/agent:nope"},
		{"unreachable registry", []string{"verify", "127.0.0.1:1/org/agent:v1"}, 1, "127.0.0.1:1/org/agent:v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runSplit(t, bin, tc.args...)
			if code != tc.code || !strings.HasPrefix(stderr, "polyarch: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("polyarch %v: exit %d, stderr:\n%s\nwant exit %d and an error naming %q", tc.args, code, stderr, tc.code, tc.want)
			}
		})
	}
}

// runSplit runs a command and returns its stdout, stderr and exit status.
func runSplit(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// verifyImage is a linux/arch image whose one layer holds an ELF binary for
// machine at path.
func verifyImage(t *testing.T, arch string, machine elf.Machine, path string) v1.Image {
	t.Helper()
	var bin bytes.Buffer
	binary.Write(&bin, binary.LittleEndian, elf.Header64{
		Ident: [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:  uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64,
	})
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: path, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(bin.Len())})
	tw.Write(bin.Bytes())
	tw.Close()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), static.NewLayer(layer.Bytes(), types.OCIUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// verifyPushIndex pushes an OCI index of images, each under its config's platform.
func verifyPushIndex(t *testing.T, ref string, imgs ...v1.Image) {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cfg, _ := img.ConfigFile()
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cfg.Platform()}})
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// TestVerifyCPUVariants runs `polyarch verify` on images whose binaries are
// for the right CPU but a later revision of it than the label promises: an
// ARMv7 binary (its .ARM.attributes say Tag_CPU_arch v7) under linux/arm/v6,
// which an ARMv6 host dies on, and an x86-64-v3 binary (its
// .note.gnu.property says so) under linux/amd64.
func TestVerifyCPUVariants(t *testing.T) {
	bin := polyarchBinary(t)
	host := startServe(t, "--quiet").host

	for _, tc := range []struct {
		name, platform string
		bin            []byte
		finding        string // "" for none
		needs          string
	}{
		{"armv7 under arm/v6", "linux/arm/v6", armAttributedELF(t, 10), "linux/arm/v6 elf-variant: usr/bin/agent: needs ARMv7-A (Tag_CPU_arch v7); the label promises ARMv6", "v7"},
		{"armv7 under arm/v7", "linux/arm/v7", armAttributedELF(t, 10), "", ""},
		{"armv6 under arm/v6", "linux/arm/v6", armAttributedELF(t, 6), "", ""},
		{"x86-64-v3 under amd64", "linux/amd64", x86LevelELF(t, 1|2|4), "linux/amd64 elf-variant: usr/bin/agent: needs x86-64-v3 (x86 ISA needed); the label promises x86-64-v1", "v3"},
		{"x86-64-v3 under amd64/v3", "linux/amd64/v3", x86LevelELF(t, 1|2|4), "", ""},
		{"baseline under amd64", "linux/amd64", x86LevelELF(t, 1), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := elfImage(t, tc.platform, "usr/bin/agent", tc.bin)
			layers, _ := img.Layers()
			layerDigest, _ := layers[0].Digest()
			ref := host + "/org/variant:" + strings.NewReplacer(" ", "-", "/", "-").Replace(tc.name)
			verifyPushIndex(t, ref, img)

			stdout, stderr, code := runSplit(t, bin, "verify", ref)
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if tc.finding == "" {
				if code != 0 || stdout != "verified 1 platform, 1 layer, 1 ELF file: 0 findings\n" {
					t.Errorf("verify %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0, no findings", ref, code, stdout, stderr)
				}
				return
			}
			if code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], tc.finding+" (manifest ") || !strings.Contains(lines[0], "layer "+layerDigest.String()) ||
				lines[1] != "verified 1 platform, 1 layer, 1 ELF file: 1 finding" || stderr != "polyarch: "+ref+": 1 finding\n" {
				t.Errorf("verify %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and\n%s (manifest ..., layer %s)", ref, code, stdout, stderr, tc.finding, layerDigest)
			}

			stdout, _, _ = runSplit(t, bin, "verify", "--json", ref)
			var rep struct {
				Children []struct {
					Findings []struct{ Kind, Path, Layer, Needs string }
				}
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("verify --json: %v\n%s", err, stdout)
			}
			if len(rep.Children) != 1 || len(rep.Children[0].Findings) != 1 {
				t.Fatalf("verify --json %s:\n%s", ref, stdout)
			}
			f := rep.Children[0].Findings[0]
			if f.Kind != "elf-variant" || f.Path != "usr/bin/agent" || f.Layer != layerDigest.String() || f.Needs != tc.needs {
				t.Errorf("verify --json %s: finding %+v", ref, f)
			}
		})
	}
}

// elfImage is an image for platform p whose one layer holds bin at path.
func elfImage(t *testing.T, p, path string, bin []byte) v1.Image {
	t.Helper()
	plat, err := v1.ParsePlatform(p)
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: path, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))})
	tw.Write(bin)
	tw.Close()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), static.NewLayer(layer.Bytes(), types.OCIUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = plat.OS, plat.Architecture, plat.Variant
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// armAttributedELF is a 32-bit ARM executable whose .ARM.attributes say
// Tag_CPU_arch arch (10 is v7, 6 v6), profile A from v7 on, as gcc writes
// them: header, code, attributes, .shstrtab, then the section headers.
func armAttributedELF(t *testing.T, arch byte) []byte {
	t.Helper()
	le := binary.LittleEndian
	attrs := []byte{5, '7', '-', 'A', 0, 6, arch, 8, 1, 9, 2} // Tag_CPU_name, Tag_CPU_arch, Tag_ARM_ISA_use, Tag_THUMB_ISA_use
	if arch >= 10 {
		attrs = append(attrs, 7, 'A')
	}
	file := le.AppendUint32([]byte{1}, uint32(5+len(attrs))) // Tag_File
	file = append(file, attrs...)
	section := le.AppendUint32([]byte{'A'}, uint32(4+6+len(file)))
	section = append(append(section, "aeabi\x00"...), file...)
	shstrtab := []byte("\x00.text\x00.ARM.attributes\x00.shstrtab\x00")

	const textOff, textSize = 52, 256
	attrOff := uint32(textOff + textSize)
	strOff := attrOff + uint32(len(section))
	shoff := (strOff + uint32(len(shstrtab)) + 3) &^ 3
	var b bytes.Buffer
	binary.Write(&b, le, elf.Header32{Ident: [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS32), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_ARM), Version: uint32(elf.EV_CURRENT), Entry: 0x10000, Shoff: shoff,
		Ehsize: 52, Shentsize: 40, Shnum: 4, Shstrndx: 3})
	b.Write(bytes.Repeat([]byte{0x1e, 0xff, 0x2f, 0xe1}, textSize/4)) // bx lr
	b.Write(section)
	b.Write(shstrtab)
	b.Write(make([]byte, shoff-uint32(b.Len())))
	for _, s := range []elf.Section32{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint32(elf.SHF_ALLOC | elf.SHF_EXECINSTR), Addr: 0x10000, Off: textOff, Size: textSize, Addralign: 4},
		{Name: 7, Type: 0x70000003, Off: attrOff, Size: uint32(len(section)), Addralign: 1}, // SHT_ARM_ATTRIBUTES
		{Name: 23, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint32(len(shstrtab)), Addralign: 1},
	} {
		binary.Write(&b, le, s)
	}
	f, err := elf.NewFile(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Section(".ARM.attributes"); s == nil || s.Type != 0x70000003 {
		t.Fatalf("ARM fixture: no .ARM.attributes in %v", f.Sections)
	}
	return b.Bytes()
}

// x86LevelELF is an x86-64 executable whose .note.gnu.property (under
// PT_GNU_PROPERTY) says x86 ISA needed = isa (1 baseline, 2 v2, 4 v3, 8 v4).
func x86LevelELF(t *testing.T, isa uint32) []byte {
	t.Helper()
	le := binary.LittleEndian
	note := le.AppendUint32(nil, 4)          // namesz
	note = le.AppendUint32(note, 16)         // descsz
	note = le.AppendUint32(note, 5)          // NT_GNU_PROPERTY_TYPE_0
	note = append(note, "GNU\x00"...)        //
	note = le.AppendUint32(note, 0xc0008002) // GNU_PROPERTY_X86_ISA_1_NEEDED
	note = le.AppendUint32(note, 4)
	note = le.AppendUint32(note, isa)
	note = append(note, 0, 0, 0, 0)
	const noteOff = 64 + 56
	var b bytes.Buffer
	binary.Write(&b, le, elf.Header64{Ident: [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT), Entry: 0x401000, Phoff: 64,
		Ehsize: 64, Phentsize: 56, Phnum: 1, Shentsize: 64})
	binary.Write(&b, le, elf.Prog64{Type: uint32(elf.PT_GNU_PROPERTY), Flags: uint32(elf.PF_R), Off: noteOff, Vaddr: 0x400000 + noteOff,
		Paddr: 0x400000 + noteOff, Filesz: uint64(len(note)), Memsz: uint64(len(note)), Align: 8})
	b.Write(note)
	b.Write(bytes.Repeat([]byte{0xc3}, 256)) // ret
	f, err := elf.NewFile(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Progs) != 1 || f.Progs[0].Type != elf.PT_GNU_PROPERTY {
		t.Fatalf("x86 fixture: program headers %v", f.Progs)
	}
	return b.Bytes()
}
