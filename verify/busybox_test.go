package verify_test

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/verify"
)

// TestRealBusyboxImages verifies the busybox base image built from Debian's
// busybox-static packages: real binaries for five CPUs, each under its own
// label, then one of them under another CPU's label.
func TestRealBusyboxImages(t *testing.T) {
	reg := testutil.NewRegistry(t)
	ref := testutil.Ref(t, testutil.Busybox(t, reg.Host))

	rep, err := verify.Verify(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err() != nil || len(rep.Children) != len(testutil.BusyboxArches) {
		t.Fatalf("busybox: %d children, findings:\n%swant %d platforms, no findings", len(rep.Children), findingLines(rep), len(testutil.BusyboxArches))
	}
	for _, c := range rep.Children {
		if c.ELFFiles == 0 {
			t.Errorf("%s: no ELF file seen; bin/busybox is one", c.Platform)
		}
	}

	// The amd64 busybox relabelled s390x, as a copy-paste in a release
	// script would: the config still says amd64 and the binary is x86-64.
	amd64, err := remote.Image(testutil.Ref(t, reg.Host+"/base/busybox:amd64"))
	if err != nil {
		t.Fatal(err)
	}
	mislabelled := pushIndex(t, reg, "base/busybox:mislabelled", index(entry{img: amd64, platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}))
	rep, err = verify.Verify(context.Background(), mislabelled)
	if err != nil {
		t.Fatal(err)
	}
	var elfPaths []string
	kinds := map[verify.Kind]int{}
	for _, f := range rep.Findings() {
		kinds[f.Kind]++
		if f.Kind == verify.KindELF {
			elfPaths = append(elfPaths, f.Path)
			if f.Message != "ELF 64-bit LSB x86-64, expected IBM S/390" {
				t.Errorf("%s: %q, want x86-64 where IBM S/390 is expected", f.Path, f.Message)
			}
		}
	}
	if kinds[verify.KindMismatch] != 1 || !contains(elfPaths, "bin/busybox") {
		t.Errorf("mislabelled busybox: findings\n%swant a platform mismatch and bin/busybox as x86-64", findingLines(rep))
	}

	// Debian's armhf busybox is ARMv7-A (readelf -A: Tag_CPU_arch v7): under
	// arm/v6, a Raspberry Pi Zero would pull it and die of SIGILL.
	armhf, err := remote.Image(testutil.Ref(t, reg.Host+"/base/busybox:armhf"))
	if err != nil {
		t.Fatal(err)
	}
	armv6 := pushIndex(t, reg, "base/busybox:armv6", index(entry{img: armhf, platform: &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}}))
	rep, err = verify.Verify(context.Background(), armv6)
	if err != nil {
		t.Fatal(err)
	}
	var variant []verify.Finding
	for _, f := range rep.Findings() {
		if f.Kind == verify.KindELFVariant {
			variant = append(variant, f)
		}
	}
	// The config says arm/v7 under the v6 descriptor: a mismatch as well.
	if len(variant) != 1 || variant[0].Path != "bin/busybox" || variant[0].Needs != "v7" ||
		variant[0].Message != "needs ARMv7-A (Tag_CPU_arch v7); the label promises ARMv6" {
		t.Errorf("armhf busybox under linux/arm/v6: findings\n%swant bin/busybox needing ARMv7-A", findingLines(rep))
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
