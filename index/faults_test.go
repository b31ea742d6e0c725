package index_test

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"golang.org/x/sync/errgroup"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
)

var fivePlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x"}

// fiveArch pushes one small image per platform under repo-ARCH:1 and an
// index of them at repo:1, straight to reg; it returns the index digest.
func fiveArch(t *testing.T, reg *testutil.Registry, repo string) string {
	t.Helper()
	imgs := pushArch(t, reg.Host+repo+"-{{.ArchVariant}}:1", types.OCIManifestSchema1, fivePlatforms...)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range mustPlatforms(t, "linux/amd64,linux/arm64,linux/arm/v7,linux/ppc64le,linux/s390x") {
		p := p
		img, err := remote.Image(testutil.Ref(t, reg.Host+repo+"-"+p.Architecture+p.Variant+":1"))
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	if len(imgs) != 5 {
		t.Fatalf("pushed %d images", len(imgs))
	}
	if err := remote.WriteIndex(testutil.Ref(t, reg.Host+repo+":1"), idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d.String()
}

// Under faults (a fifth of requests answered 500, 503, 429 with
// Retry-After, or reset, before or after the registry handled them) copies
// and publishes of a 5-platform image succeed at least 24 times in 25, no
// blob is uploaded again once the registry has it, and after every
// successful publish all its tags name the index it published.
func TestCopyAndPublishSucceedUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("25 copies and 25 publishes")
	}
	// Own registries; it overlaps the other test that mostly waits.
	t.Parallel()
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	want := fiveArch(t, src, "/org/app")
	srcFaults := testutil.NewFaultProxy(t, src.Server.URL, testutil.FaultOptions{Rate: 0.2, Seed: 1})
	dstFaults := testutil.NewFaultProxy(t, dst.Server.URL, testutil.FaultOptions{Rate: 0.2, Seed: 2})
	c := client.Options{Retry: client.Retry{Backoff: 2 * time.Millisecond, MaxWait: 5 * time.Second}}
	opts := c.Remote(ctx)
	const trials = 25

	// The trials run a few at a time, as a CI farm's jobs share a registry:
	// each waits on its own retries while the others move. The proxies fail
	// the same share of requests; which requests fail depends on the order
	// they arrive in.
	const concurrent = 5
	fromArch := sources(t, srcFaults.Host+"/org/app-{{.ArchVariant}}:1", "linux/amd64,linux/arm64,linux/arm/v7,linux/ppc64le,linux/s390x")
	var copied, published atomic.Int32

	began := time.Now()
	var g errgroup.Group
	g.SetLimit(concurrent)
	for i := range trials {
		g.Go(func() error {
			to := dstFaults.Host + "/copy" + string(rune('a'+i)) + "/app:1"
			res, err := index.Copy(ctx, testutil.Ref(t, srcFaults.Host+"/org/app:1"), testutil.Ref(t, to), index.CopyOptions{Blobs: c.Direct()}, opts...)
			if err != nil {
				t.Logf("copy %d: %v", i, err)
				return nil
			}
			if res.Digest != want {
				t.Errorf("copy %d: %s, want %s", i, res.Digest, want)
			}
			// Everything arrived: every blob read back and checked.
			ii, err := remote.Index(testutil.Ref(t, dst.Host+"/copy"+string(rune('a'+i))+"/app:1"))
			if err != nil {
				t.Errorf("copy %d returned nil, and its destination: %v", i, err)
				return nil
			}
			if err := validate.Index(ii); err != nil {
				t.Errorf("copy %d returned nil, and its destination is incomplete: %v", i, err)
			}
			copied.Add(1)
			return nil
		})
	}
	_ = g.Wait()
	t.Logf("%d of %d copies in %s", copied.Load(), trials, time.Since(began).Round(time.Millisecond))

	began = time.Now()
	g = errgroup.Group{}
	g.SetLimit(concurrent)
	for i := range trials {
		g.Go(func() error {
			repo := dstFaults.Host + "/pub" + string(rune('a'+i)) + "/app"
			req := index.Request{
				Target:  testutil.Ref(t, repo+":v1"),
				Tags:    []string{"latest", "stable"},
				Sources: fromArch,
			}
			res, err := index.Publish(ctx, req, opts...)
			if err != nil {
				var ie *index.InterleaveError
				if errors.As(err, &ie) {
					t.Errorf("publish %d: %v, with no other publisher", i, err)
				}
				t.Logf("publish %d: %v", i, err)
				return nil
			}
			for _, tag := range []string{"v1", "latest", "stable"} {
				d, err := remote.Head(testutil.Ref(t, dst.Host+"/pub"+string(rune('a'+i))+"/app:"+tag))
				if err != nil {
					t.Errorf("publish %d returned nil and :%s: %v", i, tag, err)
					return nil
				}
				if d.Digest.String() != res.Digest {
					t.Errorf("publish %d returned nil and %s names %s, not %s", i, tag, d.Digest, res.Digest)
				}
			}
			published.Add(1)
			return nil
		})
	}
	_ = g.Wait()
	t.Logf("%d of %d publishes in %s", published.Load(), trials, time.Since(began).Round(time.Millisecond))

	for blob, n := range dstFaults.Commits() {
		if n > 1 {
			t.Errorf("%s was uploaded %d times", blob, n)
		}
	}
	t.Logf("faults injected: source %v, destination %v", srcFaults.Injected(), dstFaults.Injected())
	if copied.Load() < 24 || published.Load() < 24 {
		t.Errorf("%d copies and %d publishes of %d succeeded under faults, want at least 24 each", copied.Load(), published.Load(), trials)
	}
}

// A copy that failed part way, tried again, sends none of the blobs it
// had uploaded: only what is missing moves.
func TestCopyAgainAfterAFailureSendsNoBlobAgain(t *testing.T) {
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	fiveArch(t, src, "/org/app")
	// The index's own manifest PUT always fails: every blob and image is
	// there, the copy fails.
	broken := testutil.NewFaultProxy(t, dst.Server.URL, testutil.FaultOptions{Choose: func(r *http.Request) *testutil.Fault {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/1") {
			return &testutil.Fault{Status: http.StatusInternalServerError}
		}
		return nil
	}})
	counter := &testutil.Counter{}
	c := client.Options{Transport: counter, Retry: client.Retry{Backoff: time.Millisecond}}
	from := testutil.Ref(t, src.Host+"/org/app:1")
	if _, err := index.Copy(ctx, from, testutil.Ref(t, broken.Host+"/mirror/app:1"), index.CopyOptions{Blobs: c.Direct()}, c.Remote(ctx)...); err == nil {
		t.Fatal("the copy succeeded although its index could not be written")
	}
	if counter.Requests(http.MethodPatch) == 0 {
		t.Fatal("the failed copy uploaded nothing")
	}
	counter.Reset()
	if _, err := index.Copy(ctx, from, testutil.Ref(t, dst.Host+"/mirror/app:1"), index.CopyOptions{Blobs: c.Direct()}, c.Remote(ctx)...); err != nil {
		t.Fatal(err)
	}
	if n := counter.Requests(http.MethodPatch); n != 0 {
		t.Errorf("the copy tried again uploaded %d blobs again", n)
	}
	for blob, n := range broken.Commits() {
		if n > 1 {
			t.Errorf("%s was uploaded %d times", blob, n)
		}
	}
}
