package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Direct reads blobs as the registry sends them, without hashing them.
//
// go-containerregistry hashes every blob it reads to compare it with its
// digest. When the bytes only pass through on their way to another
// registry, that registry hashes them again and refuses a blob that does
// not match its digest (the OCI distribution spec requires it), so the
// client's hash is the same work done twice, and in a copy it is most of
// the client's CPU time (see bench/README.md, "Index"). Direct is for such
// callers only: what it returns is unchecked until the destination checks
// it.
//
// It reaches registries exactly as Options.Remote's options do: the same
// credentials, base transport, retries and user agent, and at most Jobs
// blobs at once.
//
//	d := opts.Direct()
//	rc, err := d.Open(ctx, repo, digest) // hand rc to a registry upload
type Direct struct {
	access *access
	mu     sync.Mutex
	// clients holds one authenticated client per repository.
	clients map[string]*http.Client
	// slots holds one token per blob being read.
	slots chan struct{}
}

// access is how Options reach registries.
type access struct {
	keychain  authn.Keychain
	transport http.RoundTripper // the base transport, under go-containerregistry's wrappers
	userAgent string
	jobs      int
	retry     Retry
}

// Direct returns a Direct that reaches registries as these Options do.
func (o Options) Direct() *Direct {
	a := o.access()
	return &Direct{access: a, clients: map[string]*http.Client{}, slots: make(chan struct{}, a.jobs)}
}

// Open starts reading the blob h of repo; closing the reader frees its
// slot. The caller must hand the bytes to something that checks them
// against h (a registry's blob upload does).
func (d *Direct) Open(ctx context.Context, repo name.Repository, h v1.Hash) (io.ReadCloser, error) {
	hc, err := d.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), h)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		<-d.slots
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		<-d.slots
		return nil, err
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		<-d.slots
		return nil, err
	}
	return &slotBody{ReadCloser: resp.Body, release: func() { <-d.slots }}, nil
}

// slotBody frees its read slot when closed, once.
type slotBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// client returns the authenticated HTTP client for pulls from repo, made
// once per repository the way go-containerregistry makes its own.
func (d *Direct) client(ctx context.Context, repo name.Repository) (*http.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if hc, ok := d.clients[repo.String()]; ok {
		return hc, nil
	}
	auth, err := authn.Resolve(ctx, d.access.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo, err)
	}
	rt := transport.NewUserAgent(transport.NewRetry(d.access.transport, transport.WithRetryBackoff(d.access.retry.backoff())), d.access.userAgent)
	rt, err = transport.NewWithContext(ctx, repo.Registry, auth, rt, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: rt}
	d.clients[repo.String()] = hc
	return hc, nil
}
