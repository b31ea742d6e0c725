package importer_test

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/polyarch/polyarch/importer"
)

func TestImportIsReproducibleAndLabelled(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "tool"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.Symlink("tool", filepath.Join(dir, "bin", "alias"))
	p := v1.Platform{OS: "linux", Architecture: "aarch64"}

	a, err := importer.Image(dir, p, importer.Options{Cmd: []string{"/bin/tool"}})
	if err != nil {
		t.Fatal(err)
	}
	// Touching the files changes nothing: times and owners are not recorded.
	os.Chtimes(filepath.Join(dir, "bin", "tool"), testTime, testTime)
	b, _ := importer.Image(dir, p, importer.Options{Cmd: []string{"/bin/tool"}})
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("same rootfs, two digests: %s %s", da, db)
	}
	cf, _ := a.ConfigFile()
	if cf.OS != "linux" || cf.Architecture != "arm64" || cf.Config.Cmd[0] != "/bin/tool" {
		t.Errorf("config %s/%s %v: want linux/arm64 (normalised) and the cmd", cf.OS, cf.Architecture, cf.Config.Cmd)
	}

	tr := tar.NewReader(mutate.Extract(a))
	files := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
	}
	if h := files["bin/tool"]; h == nil || h.Mode&0o111 == 0 || h.Uid != 0 {
		t.Errorf("bin/tool header %+v", h)
	}
	if h := files["bin/alias"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "tool" {
		t.Errorf("bin/alias header %+v", h)
	}
}

func TestImportRefusesBadInput(t *testing.T) {
	if _, err := importer.Image(filepath.Join(t.TempDir(), "nope"), v1.Platform{OS: "linux", Architecture: "amd64"}, importer.Options{}); err == nil {
		t.Error("missing rootfs accepted")
	}
	if _, err := importer.Image(t.TempDir(), v1.Platform{OS: "linux", Architecture: "sparc9"}, importer.Options{}); err == nil {
		t.Error("unknown architecture accepted")
	}
}

var testTime = mustTime("2030-01-02T03:04:05Z")
