package evidence_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"reflect"
	"sort"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/polyarch/polyarch/evidence"
)

// entry is one tar entry of a test layer: a regular file (content), a
// directory, a symlink, or a whiteout (a name starting ".wh.").
type entry struct {
	name, content string
	kind          byte
}

func tarLayer(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: e.kind}
		switch e.kind {
		case 0, tar.TypeReg:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.content))
		case tar.TypeDir:
			h.Mode = 0o755
		case tar.TypeSymlink:
			h.Linkname = e.content
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.content))
		}
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// extracted is what go-containerregistry's mutate.Extract (the flattening
// the SBOM once used) gives as the image's regular files.
func extracted(t *testing.T, img v1.Image) []string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			out = append(out, "./"+h.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Stacking layers one by one gives the files a container sees: whiteouts,
// opaque directories, a directory replaced by a file or a symlink and a
// file by a directory, as mutate.Extract flattens them.
func TestSBOMStacksLayersAsExtractDoes(t *testing.T) {
	img, err := mutate.AppendLayers(empty.Image,
		tarLayer(t, entry{name: "keep/a", content: "1"}, entry{name: "gone/b", content: "2"}, entry{name: "gone/sub/c", content: "3"},
			entry{name: "opq/d", content: "4"}, entry{name: "file", content: "5"}, entry{name: "dir2link/e", content: "6"},
			entry{name: "dir2file/f", content: "7"}, entry{name: "single", content: "8"}, entry{name: "replaced", content: "old"}),
		tarLayer(t, entry{name: ".wh.gone"}, entry{name: "opq/.wh..wh..opq"}, entry{name: "opq/new", content: "9"},
			entry{name: "file", kind: tar.TypeDir}, entry{name: "file/inside", content: "10"},
			entry{name: "dir2link", content: "keep", kind: tar.TypeSymlink}, entry{name: "dir2file", content: "11"},
			entry{name: ".wh.single"}, entry{name: "replaced", content: "new"}),
		tarLayer(t, entry{name: "gone/back", content: "12"}, entry{name: "keep/.wh.a"}, entry{name: "keep/z", content: "13"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := evidence.SBOM(context.Background(), img, subject(t, img, v1.Platform{OS: "linux", Architecture: "amd64"}), "polyarch-test")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	hashes := map[string]string{}
	for _, f := range doc.Files {
		got = append(got, f.FileName)
		for _, c := range f.Checksums {
			if c.Algorithm == "SHA256" {
				hashes[f.FileName] = c.Value
			}
		}
	}
	want := extracted(t, img)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SBOM files\n%q\nmutate.Extract's\n%q", got, want)
	}
	if want := []string{"./dir2file", "./file/inside", "./gone/back", "./keep/z", "./opq/new", "./replaced"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SBOM files %q, want %q", got, want)
	}
	if hashes["./replaced"] != sum("new") {
		t.Errorf("./replaced has the lower layer's content")
	}
}

// countingLayer counts how often its blob is opened.
type countingLayer struct {
	v1.Layer
	opened *atomic.Int32
}

func (l countingLayer) Compressed() (io.ReadCloser, error) {
	l.opened.Add(1)
	return l.Layer.Compressed()
}

// A layer two images share is read once by SBOMs that share a LayerCache,
// and each SBOM still lists its own image's files.
func TestLayerCacheReadsASharedLayerOnce(t *testing.T) {
	var baseOpened atomic.Int32
	base := countingLayer{tarLayer(t, entry{name: "usr/local/go/VERSION", content: "go1.26"}, entry{name: "etc/os-release", content: "ID=debian\nVERSION_ID=12\n"}), &baseOpened}
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	var cache evidence.LayerCache
	var docs [][]string
	for _, version := range []string{"2.3", "2.4"} {
		img, err := mutate.AppendLayers(empty.Image, base, tarLayer(t, entry{name: "etc/builder/versions", content: version}))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := cache.SBOM(context.Background(), img, subject(t, img, p), "polyarch-test")
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, f := range doc.Files {
			for _, c := range f.Checksums {
				if c.Algorithm == "SHA256" {
					files = append(files, f.FileName+" "+c.Value)
				}
			}
		}
		docs = append(docs, files)
	}
	if n := baseOpened.Load(); n != 1 {
		t.Errorf("the shared base layer was read %d times, want once", n)
	}
	for i, version := range []string{"2.3", "2.4"} {
		want := []string{"./etc/builder/versions " + sum(version), "./etc/os-release " + sum("ID=debian\nVERSION_ID=12\n"), "./usr/local/go/VERSION " + sum("go1.26")}
		if !reflect.DeepEqual(docs[i], want) {
			t.Errorf("builder %s SBOM files %q, want %q", version, docs[i], want)
		}
	}
}
