package verify_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/evidence"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/verify"
)

// blobReads counts the blob GETs of a client.
type blobReads struct{ n atomic.Int32 }

func (b *blobReads) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
		b.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// sbomFiles lists an SBOM's files with their SHA-256.
func sbomFiles(t *testing.T, ctx context.Context, c *evidence.LayerCache, ref name.Reference, opts ...remote.Option) []string {
	t.Helper()
	img, err := remote.Image(ref, opts...)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	doc, err := c.SBOM(ctx, img, evidence.Subject{Repository: ref.Context(), Digest: d, Platform: v1.Platform{OS: "linux", Architecture: "arm64"}}, "polyarch-test")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range doc.Files {
		for _, s := range f.Checksums {
			if s.Algorithm == "SHA256" {
				out = append(out, f.FileName+" "+s.Value)
			}
		}
	}
	return out
}

// The release's arch test records, in the same pass, what the SBOMs signed
// afterwards need: they read no layer, and list what an SBOM made by
// reading the image lists, ignored paths and compressions included.
func TestVerifyRecordsSBOMLayersInTheSamePass(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t)
	p := mustPlatform(t, "linux/arm64")
	img := image(t, p,
		layer(t, "gzip", file{"usr/bin/app", arm64ELF(t)}, file{"etc/os-release", []byte("ID=debian\nVERSION_ID=12\n")}),
		layer(t, "zstd", file{"usr/share/fixture/amd64-tool", amd64ELF(t)}),
		layer(t, "none", file{"usr/bin/script", []byte("#!/bin/sh\necho hi\n")}))
	ref := pushImage(t, reg, "org/app:arm64", img)

	var cache evidence.LayerCache
	rep, err := verify.Verify(ctx, ref, verify.WithIgnore("usr/share/fixture/**"), verify.WithSBOMLayers(&cache))
	if err != nil {
		t.Fatal(err)
	}
	if fs := rep.Findings(); len(fs) != 0 {
		t.Fatalf("findings: %v", fs)
	}
	reads := &blobReads{}
	got := sbomFiles(t, ctx, &cache, ref, remote.WithTransport(reads))
	if n := reads.n.Load(); n != 1 { // the config, not a layer
		t.Errorf("the SBOM after verify read %d blobs; want only the config", n)
	}
	want := sbomFiles(t, ctx, &evidence.LayerCache{}, ref)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SBOM from verify's pass\n%q\nfrom reading the image\n%q", got, want)
	}
	if len(want) != 4 {
		t.Errorf("SBOM lists %d files, want 4 (the ignored fixture too): %q", len(want), want)
	}
}
