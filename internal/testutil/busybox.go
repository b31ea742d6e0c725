package testutil

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/importer"
	"github.com/polyarch/polyarch/index"
)

// BusyboxArches maps the Debian architectures of the busybox fixture to
// their OCI platforms.
var BusyboxArches = []struct {
	Debian   string
	Platform v1.Platform
}{
	{"amd64", v1.Platform{OS: "linux", Architecture: "amd64"}},
	{"arm64", v1.Platform{OS: "linux", Architecture: "arm64"}},
	{"armhf", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
	{"ppc64el", v1.Platform{OS: "linux", Architecture: "ppc64le"}},
	{"s390x", v1.Platform{OS: "linux", Architecture: "s390x"}},
}

// BusyboxRootfs returns the directory of the busybox root filesystem of a
// Debian architecture, prepared by scripts/busybox-rootfs.sh.
func BusyboxRootfs(t testing.TB, debianArch string) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(), ".cache", "rootfs", debianArch)
	if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err != nil {
		if E2E() {
			t.Fatalf("busybox rootfs %s missing: scripts/setup.sh prepares it", debianArch)
		}
		t.Skipf("busybox rootfs %s missing: run scripts/busybox-rootfs.sh (scripts/test.sh does)", debianArch)
	}
	return dir
}

// Busybox publishes the multi-arch busybox base image (linux/amd64, arm64,
// arm/v7, ppc64le, s390x) as host/base/busybox:latest, each per-arch image
// also as host/base/busybox:<debian arch>, and returns the index reference.
func Busybox(t testing.TB, host string) string {
	t.Helper()
	target := host + "/base/busybox:latest"
	var sources []index.Source
	for _, a := range BusyboxArches {
		ref := Ref(t, host+"/base/busybox:"+a.Debian)
		if _, err := importer.Import(context.Background(), BusyboxRootfs(t, a.Debian), a.Platform, ref, importer.Options{Cmd: []string{"/bin/sh"}}); err != nil {
			t.Fatalf("importing busybox %s: %v", a.Debian, err)
		}
		p := a.Platform
		sources = append(sources, index.Source{Ref: ref, Platform: &p})
	}
	if _, err := index.Publish(context.Background(), index.Request{Target: Ref(t, target), Sources: sources}); err != nil {
		t.Fatalf("publishing busybox: %v", err)
	}
	return target
}
