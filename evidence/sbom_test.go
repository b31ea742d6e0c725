package evidence_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/internal/testutil"
)

// layer is a tar layer of the given regular files, in name order.
func layer(t *testing.T, files map[string]string) v1.Layer {
	t.Helper()
	var entries []entry
	for n, c := range files {
		entries = append(entries, entry{name: n, content: c})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return tarLayer(t, entries...)
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func subject(t *testing.T, img v1.Image, p v1.Platform) evidence.Subject {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return evidence.Subject{Repository: name.MustParseReference("reg.example/org/app:v1").Context(), Digest: d, Platform: p}
}

// files maps each SPDX file name to its SHA256.
func files(doc *spdx.Document) map[string]string {
	out := map[string]string{}
	for _, f := range doc.Files {
		for _, c := range f.Checksums {
			if c.Algorithm == "SHA256" {
				out[f.FileName] = c.Value
			}
		}
	}
	return out
}

func TestSBOMListsFilesAndPackageDatabases(t *testing.T) {
	const status = `Package: libc6
Status: install ok installed
Architecture: arm64
Version: 2.36-9+deb12u4
Source: glibc
Homepage: https://www.gnu.org/software/libc/libc.html

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
`
	const apk = "P:musl\nV:1.2.4-r2\nA:aarch64\nL:MIT\nF:lib\nR:ld-musl-aarch64.so.1\n\n"
	base := layer(t, map[string]string{
		"etc/os-release":                     "ID=debian\nVERSION_ID=\"12\"\n",
		"var/lib/dpkg/status":                status,
		"var/lib/dpkg/info/libc6:arm64.list": "/.\n/lib/aarch64-linux-gnu/libc.so.6\n",
		"lib/aarch64-linux-gnu/libc.so.6":    "libc",
		"tmp/gone":                           "deleted above",
	})
	top := layer(t, map[string]string{"tmp/.wh.gone": "", "app/run": "#!/bin/sh\n"})
	img, err := mutate.AppendLayers(empty.Image, base, top)
	if err != nil {
		t.Fatal(err)
	}
	p := v1.Platform{OS: "linux", Architecture: "arm64"}
	doc, err := evidence.SBOM(context.Background(), img, subject(t, img, p), "polyarch-test")
	if err != nil {
		t.Fatal(err)
	}
	fs := files(doc)
	if fs["./app/run"] != sum("#!/bin/sh\n") || fs["./lib/aarch64-linux-gnu/libc.so.6"] != sum("libc") {
		t.Errorf("files and their SHA-256: %v", fs)
	}
	if _, ok := fs["./tmp/gone"]; ok {
		t.Error("a file deleted by a whiteout is listed")
	}
	purls := map[string]string{}
	for _, pk := range doc.Packages {
		for _, r := range pk.PackageExternalReferences {
			purls[pk.PackageName] = r.Locator
		}
	}
	want := map[string]string{
		"libc6":  "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=arm64&distro=debian-12",
		"tzdata": "pkg:deb/debian/tzdata@2024a-0+deb12u1?arch=all&distro=debian-12",
	}
	for n, w := range want {
		if purls[n] != w {
			t.Errorf("package %s: purl %q, want %q", n, purls[n], w)
		}
	}
	if _, ok := purls["removed-pkg"]; ok {
		t.Error("a package dpkg no longer has installed is listed")
	}
	// libc.so.6 belongs to libc6, app/run to the image.
	owners := map[string]string{}
	ids := map[string]string{}
	for _, pk := range doc.Packages {
		ids[string(pk.PackageSPDXIdentifier)] = pk.PackageName
	}
	names := map[string]string{}
	for _, f := range doc.Files {
		names[string(f.FileSPDXIdentifier)] = f.FileName
	}
	for _, r := range doc.Relationships {
		if r.Relationship == "CONTAINS" {
			if f, ok := names[string(r.RefB.ElementRefID)]; ok {
				owners[f] = ids[string(r.RefA.ElementRefID)]
			}
		}
	}
	if owners["./lib/aarch64-linux-gnu/libc.so.6"] != "libc6" || owners["./app/run"] != "reg.example/org/app" {
		t.Errorf("file owners: %v", owners)
	}

	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := evidence.ReadSBOM(b)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if s.Digest != d || s.Platform != "linux/arm64" || s.Files != len(doc.Files) || s.Packages != 2 {
		t.Errorf("summary %+v; want digest %s, linux/arm64, %d files, 2 packages", s, d, len(doc.Files))
	}

	alpine, err := mutate.AppendLayers(empty.Image, layer(t, map[string]string{
		"etc/os-release":           "ID=alpine\nVERSION_ID=3.19.1\n",
		"lib/apk/db/installed":     apk,
		"lib/ld-musl-aarch64.so.1": "musl",
	}))
	if err != nil {
		t.Fatal(err)
	}
	doc, err = evidence.SBOM(context.Background(), alpine, subject(t, alpine, p), "polyarch-test")
	if err != nil {
		t.Fatal(err)
	}
	var musl []string
	for _, pk := range doc.Packages {
		if pk.PackageName == "musl" {
			musl = append(musl, pk.PackageExternalReferences[0].Locator, pk.PackageLicenseDeclared)
		}
	}
	if strings.Join(musl, " ") != "pkg:apk/alpine/musl@1.2.4-r2?arch=aarch64&distro=alpine-3.19.1 MIT" {
		t.Errorf("apk package: %v", musl)
	}
}

// The busybox fixture has no package database: its SBOM lists its files
// and the busybox binary by the version it prints, and each platform's is
// its own.
func TestSBOMOfEachBusyboxPlatformIsItsOwn(t *testing.T) {
	reg := testutil.NewRegistry(t)
	ref := testutil.Busybox(t, reg.Host)
	idx, err := remote.Index(testutil.Ref(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	busybox := map[string]string{} // platform -> SHA-256 of bin/busybox in the SBOM
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		s := evidence.Subject{Repository: testutil.Ref(t, ref).Context(), Digest: d.Digest, Platform: *d.Platform}
		doc, err := evidence.SBOM(context.Background(), img, s, "polyarch-test")
		if err != nil {
			t.Fatal(err)
		}
		p := d.Platform.Architecture + d.Platform.Variant
		busybox[p] = files(doc)["./bin/busybox"]
		var found bool
		for _, pk := range doc.Packages {
			found = found || pk.PackageName == "busybox" && strings.HasPrefix(pk.PackageVersion, "1.")
		}
		if !found {
			t.Errorf("%s: no busybox package in %d packages", p, len(doc.Packages))
		}
		if len(doc.Files) < 3 {
			t.Errorf("%s: %d files", p, len(doc.Files))
		}
	}
	for _, a := range testutil.BusyboxArches {
		b, err := os.ReadFile(filepath.Join(testutil.BusyboxRootfs(t, a.Debian), "bin", "busybox"))
		if err != nil {
			t.Fatal(err)
		}
		p := a.Platform.Architecture + a.Platform.Variant
		if busybox[p] != sum(string(b)) {
			t.Errorf("%s: the SBOM's bin/busybox is %s, the %s rootfs's %s", p, busybox[p], a.Debian, sum(string(b)))
		}
	}
	if busybox["arm64"] == busybox["amd64"] {
		t.Error("the arm64 SBOM lists the amd64 busybox")
	}
}
