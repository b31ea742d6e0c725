package testutil

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image returns a random image (two small layers) whose config says
// os/arch/variant; mt is its manifest media type (Docker schema 2 or OCI).
func Image(t testing.TB, os, arch, variant string, mt types.MediaType) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = os, arch, variant
	cf.Created = v1.Time{Time: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if mt == types.OCIManifestSchema1 {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	return img
}

// Push writes img to ref or fails the test; it returns the image's digest.
func Push(t testing.TB, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r := Ref(t, ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Counter is an http.RoundTripper that counts requests by method and the
// bytes of request bodies sent, for tests of what an operation moved.
type Counter struct {
	Next  http.RoundTripper
	mu    sync.Mutex
	byKey map[string]int
	sent  atomic.Int64
}

// RoundTrip counts and forwards.
func (c *Counter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.byKey == nil {
		c.byKey = map[string]int{}
	}
	c.byKey[req.Method]++
	c.mu.Unlock()
	if req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, n: &c.sent}
	}
	next := c.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// Requests returns how many requests used method.
func (c *Counter) Requests(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[method]
}

// Writes counts the requests that can change a registry: PUT, POST, PATCH, DELETE.
func (c *Counter) Writes() int {
	return c.Requests(http.MethodPut) + c.Requests(http.MethodPost) + c.Requests(http.MethodPatch) + c.Requests(http.MethodDelete)
}

// BytesSent is the total size of request bodies sent.
func (c *Counter) BytesSent() int64 { return c.sent.Load() }

// Reset zeroes the counts.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.byKey = nil
	c.mu.Unlock()
	c.sent.Store(0)
}
