package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/registry"
)

// basicKeychain answers every registry with one user and password.
type basicKeychain struct{ user, pass string }

func (k basicKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.pass}, nil
}

func TestDirectReadsWithTheOptionsCredentials(t *testing.T) {
	ctx := context.Background()
	reg := testutil.NewRegistry(t, registry.WithHtpasswd(testutil.Htpasswd(t, "u", "p")))
	opts := client.Options{Keychain: basicKeychain{"u", "p"}}.Remote(ctx)
	img := testutil.Image(t, "linux", "arm64", "", types.OCIManifestSchema1)
	ref := testutil.Ref(t, reg.Host+"/org/app:1")
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatal(err)
	}

	d := client.Options{Keychain: basicKeychain{"u", "p"}}.Direct()
	layers, _ := img.Layers()
	h, _ := layers[0].Digest()
	rc, err := d.Open(ctx, ref.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	want, _ := layers[0].Compressed()
	wantBytes, _ := io.ReadAll(want)
	if string(got) != string(wantBytes) {
		t.Errorf("direct read: %d bytes, not the blob's %d", len(got), len(wantBytes))
	}
}

// multiArch pushes a two-platform index to ref and returns it.
func multiArch(t *testing.T, ref string) v1.ImageIndex {
	t.Helper()
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: testutil.Image(t, "linux", "amd64", "", types.OCIManifestSchema1), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: testutil.Image(t, "linux", "s390x", "", types.OCIManifestSchema1), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
	)
	if err := remote.WriteIndex(testutil.Ref(t, ref), idx); err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestCopyBetweenRegistriesStreamsUnhashedAndComplete(t *testing.T) {
	ctx := context.Background()
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	idx := multiArch(t, src.Host+"/org/app:1")
	want, _ := idx.Digest()

	res, err := index.Copy(ctx, testutil.Ref(t, src.Host+"/org/app:1"), testutil.Ref(t, dst.Host+"/mirror/app:1"), index.CopyOptions{Blobs: client.Options{}.Direct()}, client.Options{}.Remote(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want.String() {
		t.Errorf("copied %s, want %s", res.Digest, want)
	}
	// validate.Index reads every blob back and checks its digest.
	got, err := remote.Index(testutil.Ref(t, dst.Host+"/mirror/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(got); err != nil {
		t.Errorf("copy: %v", err)
	}
}

// A blob whose bytes are damaged on the way is refused by the destination,
// which checks every digest: nothing is tagged.
func TestCopyOfADamagedBlobFails(t *testing.T) {
	ctx := context.Background()
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	idx := multiArch(t, src.Host+"/org/app:1")
	im, _ := idx.IndexManifest()
	img, _ := idx.Image(im.Manifests[1].Digest)
	layers, _ := img.Layers()
	bad, _ := layers[0].Digest()

	// The source, behind a proxy that flips one byte of that layer.
	u, _ := url.Parse(src.Server.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+bad.String()) {
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0xff
			resp.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		return nil
	}
	damaging := httptest.NewServer(rp)
	defer damaging.Close()
	from := testutil.Ref(t, strings.TrimPrefix(damaging.URL, "http://")+"/org/app:1")
	to := testutil.Ref(t, dst.Host+"/mirror/app:1")

	_, err := index.Copy(ctx, from, to, index.CopyOptions{Blobs: client.Options{}.Direct()}, client.Options{}.Remote(ctx)...)
	if err == nil {
		t.Fatal("copy of a damaged blob succeeded")
	}
	// Refused by the destination, not by a hash on the way: the bytes
	// were streamed unhashed.
	if !strings.Contains(err.Error(), "DIGEST_INVALID") {
		t.Errorf("copy of a damaged blob: %v, want the destination's DIGEST_INVALID", err)
	}
	if _, err := remote.Head(to); err == nil {
		t.Error("the destination tag exists after a failed copy")
	}
	resp, err := http.Head(dst.Server.URL + "/v2/mirror/app/blobs/" + bad.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of the damaged blob in the destination: %s, want 404", resp.Status)
	}
}

// Direct reads move Options.Jobs blobs at once at most, as the reads of
// go-containerregistry do.
func TestCopyReadsJobsBlobsAtOnce(t *testing.T) {
	ctx := context.Background()
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	idx := mutate.AppendManifests(empty.Index)
	var layers []string
	for _, arch := range []string{"amd64", "arm64", "ppc64le", "s390x"} {
		img, err := random.Image(512, 4)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		img, _ = mutate.ConfigFile(img, cf)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		ls, _ := img.Layers()
		for _, l := range ls {
			d, _ := l.Digest()
			layers = append(layers, d.String())
		}
	}
	if err := remote.WriteIndex(testutil.Ref(t, src.Host+"/org/app:1"), idx); err != nil {
		t.Fatal(err)
	}

	// The source, behind a proxy that holds each layer GET a while and
	// notes how many were in flight at most.
	var inFlight, most atomic.Int32
	u, _ := url.Parse(src.Server.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isLayer := false
		for _, l := range layers {
			isLayer = isLayer || strings.HasSuffix(r.URL.Path, "/blobs/"+l)
		}
		if isLayer && r.Method == http.MethodGet {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(50 * time.Millisecond)
		}
		rp.ServeHTTP(w, r)
	}))
	defer slow.Close()

	from := testutil.Ref(t, strings.TrimPrefix(slow.URL, "http://")+"/org/app:1")
	if _, err := index.Copy(ctx, from, testutil.Ref(t, dst.Host+"/mirror/app:1"), index.CopyOptions{Blobs: client.Options{Jobs: 2}.Direct()}, client.Options{Jobs: 2}.Remote(ctx)...); err != nil {
		t.Fatal(err)
	}
	if got := most.Load(); got > 2 || got < 1 {
		t.Errorf("%d layer reads at once, want at most Jobs (2)", got)
	}
}
