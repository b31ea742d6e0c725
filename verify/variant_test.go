package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/verify"
)

// scanOne scans a layer holding bin at usr/bin/app under label p.
func scanOne(t *testing.T, p string, bin []byte) []verify.Finding {
	t.Helper()
	findings, stats, err := verify.ScanLayer(bytes.NewReader(tarOf(t, file{"usr/bin/app", bin})), mustPlatform(t, p))
	if err != nil {
		t.Fatal(err)
	}
	if stats.ELFFiles != 1 {
		t.Fatalf("stats = %+v, want the one ELF file", stats)
	}
	return findings
}

func TestARMBuildAttributesAgainstTheVariant(t *testing.T) {
	tests := []struct {
		label   string
		arch    uint64 // Tag_CPU_arch
		message string // "" for no finding
		needs   string
	}{
		{"linux/arm/v6", archV7, "needs ARMv7-A (Tag_CPU_arch v7); the label promises ARMv6", "v7"},
		{"linux/arm/v6", archV6, "", ""},
		{"linux/arm/v6", archV6KZ, "", ""}, // Raspberry Pi 1 and Zero: ARM1176JZF-S
		{"linux/arm/v6", archV5TE, "", ""},
		{"linux/arm/v5", archV6, "needs ARMv6 (Tag_CPU_arch v6); the label promises ARMv5", "v6"},
		{"linux/arm/v5", archV5TE, "", ""},
		{"linux/arm/v7", archV7, "", ""},
		{"linux/arm/v7", archV6, "", ""},
		{"linux/arm/v7", archV8, "needs ARMv8-A (Tag_CPU_arch v8); the label promises ARMv7", "v8"},
		{"linux/arm/v8", archV8, "", ""},
		{"linux/arm", archV7, "", ""}, // read as arm/v7
		{"linux/arm", archV8, "needs ARMv8-A (Tag_CPU_arch v8); the label promises ARMv7", "v8"},
		{"linux/armel", archV7, "needs ARMv7-A (Tag_CPU_arch v7); the label promises ARMv6", "v7"}, // armel is arm/v6
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s Tag_CPU_arch %d", tc.label, tc.arch), func(t *testing.T) {
			findings := scanOne(t, tc.label, armV(t, tc.arch))
			if tc.message == "" {
				if len(findings) != 0 {
					t.Errorf("findings = %v, want none", findings)
				}
				return
			}
			if len(findings) != 1 {
				t.Fatalf("findings = %v, want one: %s", findings, tc.message)
			}
			f := findings[0]
			if f.Kind != verify.KindELFVariant || f.Path != "usr/bin/app" || f.Message != tc.message || f.Needs != tc.needs || f.Platform != tc.label {
				t.Errorf("finding = %+v\nwant %s on usr/bin/app under %s: %q, needs %s", f, verify.KindELFVariant, tc.label, tc.message, tc.needs)
			}
		})
	}
}

func TestARMWithoutAttributesIsNotAFinding(t *testing.T) {
	// Go's linker writes no .ARM.attributes: GOARM=7 builds look like this.
	if f := scanOne(t, "linux/arm/v6", armBinary(t, nil, 300, 0)); len(f) != 0 {
		t.Errorf("findings = %v, want none for a binary without attributes", f)
	}
	// Attributes without Tag_CPU_arch say nothing about the CPU either.
	bin := armBinary(t, armAttributes(armAttr{tag: tagCPUName, str: "7-A"}, armAttr{tag: tagARMISAUse, num: 1}), 300, 0)
	if f := scanOne(t, "linux/arm/v6", bin); len(f) != 0 {
		t.Errorf("findings = %v, want none without Tag_CPU_arch", f)
	}
}

// TestARMAttributesAtTheEndOfABigBinary streams a 6 MiB ARMv7 binary, its
// attributes and section headers at the end as linkers place them, behind a
// .symtab as an unstripped binary has.
func TestARMAttributesAtTheEndOfABigBinary(t *testing.T) {
	bin := armBinary(t, armAttributes(armAttrsFor(archV7)...), 6<<20, 200<<10)
	findings := scanOne(t, "linux/arm/v6", bin)
	if len(findings) != 1 || findings[0].Needs != "v7" {
		t.Errorf("findings = %v, want the ARMv7 binary", findings)
	}
}

func TestAMD64LevelAgainstTheVariant(t *testing.T) {
	tests := []struct {
		label   string
		isa     uint32 // GNU_PROPERTY_X86_ISA_1_NEEDED
		message string
		needs   string
	}{
		{"linux/amd64", isaBaseline | isaV2 | isaV3, "needs x86-64-v3 (x86 ISA needed); the label promises x86-64-v1", "v3"},
		{"linux/amd64", isaBaseline | isaV2, "needs x86-64-v2 (x86 ISA needed); the label promises x86-64-v1", "v2"},
		{"linux/amd64", isaBaseline, "", ""}, // Debian's /bin/ls
		{"linux/amd64", 0, "", ""},           // no property note: Go's binaries
		{"linux/amd64/v2", isaBaseline | isaV2 | isaV3, "needs x86-64-v3 (x86 ISA needed); the label promises x86-64-v2", "v3"},
		{"linux/amd64/v2", isaBaseline | isaV2, "", ""},
		{"linux/amd64/v3", isaBaseline | isaV2 | isaV3, "", ""},
		{"linux/amd64/v3", isaV4, "needs x86-64-v4 (x86 ISA needed); the label promises x86-64-v3", "v4"},
		{"linux/amd64/v4", isaV4, "", ""},
		{"linux/x86_64", isaV3, "needs x86-64-v3 (x86 ISA needed); the label promises x86-64-v1", "v3"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s ISA needed %#x", tc.label, tc.isa), func(t *testing.T) {
			findings := scanOne(t, tc.label, x86Binary(t, tc.isa, 500))
			if tc.message == "" {
				if len(findings) != 0 {
					t.Errorf("findings = %v, want none", findings)
				}
				return
			}
			if len(findings) != 1 {
				t.Fatalf("findings = %v, want one: %s", findings, tc.message)
			}
			f := findings[0]
			if f.Kind != verify.KindELFVariant || f.Path != "usr/bin/app" || f.Message != tc.message || f.Needs != tc.needs || f.Platform != tc.label {
				t.Errorf("finding = %+v\nwant %s on usr/bin/app under %s: %q, needs %s", f, verify.KindELFVariant, tc.label, tc.message, tc.needs)
			}
		})
	}
}

// TestVariantFindingNamesLayerAndManifest verifies an index from a registry:
// the arm/v6 child ships an ARMv7 binary in its second layer, the amd64
// child an x86-64-v3 one.
func TestVariantFindingNamesLayerAndManifest(t *testing.T) {
	reg := testutil.NewRegistry(t)
	base := layer(t, "gzip", file{"lib/ld-linux.so.3", armV(t, archV6)})
	app := layer(t, "zstd", file{"usr/bin/ok", armV(t, archV6KZ)}, file{"usr/local/bin/agent", armV(t, archV7)})
	armv6 := image(t, mustPlatform(t, "linux/arm/v6"), base, app)
	amd64 := image(t, mustPlatform(t, "linux/amd64"), layer(t, "gzip", file{"usr/local/bin/agent", x86Binary(t, isaBaseline|isaV2|isaV3, 4000)}))
	ref := pushIndex(t, reg, "org/agent:v1", index(
		entry{img: amd64, platform: ptr(mustPlatform(t, "linux/amd64"))},
		entry{img: armv6, platform: ptr(mustPlatform(t, "linux/arm/v6"))},
	))
	rep, err := verify.Verify(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	want := []verify.Finding{
		{Kind: verify.KindELFVariant, Platform: "linux/amd64", Manifest: digest(t, amd64), Layer: digest(t, mustLayer(t, amd64, 0)), Path: "usr/local/bin/agent",
			Needs: "v3", Message: "needs x86-64-v3 (x86 ISA needed); the label promises x86-64-v1"},
		{Kind: verify.KindELFVariant, Platform: "linux/arm/v6", Manifest: digest(t, armv6), Layer: digest(t, app), Path: "usr/local/bin/agent",
			Needs: "v7", Message: "needs ARMv7-A (Tag_CPU_arch v7); the label promises ARMv6"},
	}
	got := rep.Findings()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("findings:\n%swant\n%v\n%v", findingLines(rep), want[0], want[1])
	}
	if s := got[1].String(); !strings.Contains(s, "usr/local/bin/agent") || !strings.Contains(s, digest(t, app).String()) || !strings.Contains(s, "v7") || !strings.Contains(s, "ARMv6") {
		t.Errorf("text line %q does not name the file, the layer, v7 and ARMv6", s)
	}
	var js bytes.Buffer
	rep.WriteJSON(&js)
	if !strings.Contains(js.String(), `"kind": "elf-variant"`) || !strings.Contains(js.String(), `"needs": "v7"`) {
		t.Errorf("JSON report lacks the kind or needs:\n%s", js.String())
	}
}

// TestRealX86ISALevels scans binaries the host's toolchain made: Debian's
// own (x86-64 baseline: no finding) and one gcc builds for x86-64-v3 with
// -mneeded, which records the level in .note.gnu.property.
func TestRealX86ISALevels(t *testing.T) {
	ls, err := os.ReadFile("/bin/ls")
	if err != nil {
		t.Skip("no /bin/ls")
	}
	if f := scanOne(t, "linux/amd64", ls); len(f) != 0 && f[0].Kind == verify.KindELFVariant {
		t.Errorf("/bin/ls: %v, want no variant finding", f)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "v3.c")
	os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644)
	out, err := exec.Command(gcc, "-O2", "-march=x86-64-v3", "-mneeded", "-o", filepath.Join(dir, "v3"), src).CombinedOutput()
	if err != nil {
		t.Skipf("gcc -march=x86-64-v3 -mneeded: %v\n%s", err, out) // gcc older than 11
	}
	bin, err := os.ReadFile(filepath.Join(dir, "v3"))
	if err != nil {
		t.Fatal(err)
	}
	if f := scanOne(t, "linux/amd64", bin); len(f) != 1 || f[0].Needs != "v3" {
		t.Errorf("gcc -march=x86-64-v3 binary under linux/amd64: %v, want it found needing v3", f)
	}
	if f := scanOne(t, "linux/amd64/v3", bin); len(f) != 0 {
		t.Errorf("gcc -march=x86-64-v3 binary under linux/amd64/v3: %v, want none", f)
	}
}

func mustLayer(t testing.TB, img v1.Image, i int) v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil || len(ls) <= i {
		t.Fatalf("layer %d: %v (%d layers)", i, err, len(ls))
	}
	return ls[i]
}
