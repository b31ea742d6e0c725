// Package client is how polyarch reaches registries: references, credentials,
// plain HTTP, retries and progress, as go-containerregistry remote options.
//
// Credentials come from the Docker config ($DOCKER_CONFIG/config.json, else
// ~/.docker/config.json) and the credential helpers it names, through
// go-containerregistry's default keychain; Docker Hub's token auth is handled
// there too.
//
// TLS and trust (see Registries): a registry's own CAs and client
// certificates come from Options.Registries (polyarch.yaml's registries:)
// and Docker's certs.d; a certificate refused is a TrustError naming the
// registry. Plain HTTP goes to loopback registries (IsLoopback) and to those
// marked insecure (Options.Insecure, or Registry.Insecure), never to any
// other: go-containerregistry would also try it for private addresses and
// *.local names, and the transport refuses it (PlainHTTPError).
//
// Retries (see Retry): each request that fails transiently (a dropped
// connection, 408, 429, 5xx) is sent again on its own, with exponential
// backoff and jitter, waiting out a registry's Retry-After (at most
// MaxRetryAfter), within a bounded total wait; a blob upload that fails all
// the same is tried again from a new upload by go-containerregistry, which
// skips blobs the registry already has.
//
// Direct reads blobs with the same access but without hashing them, for
// copies whose destination checks every digest itself (index.Copy).
package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options says how to reach registries. The zero value is ready to use.
type Options struct {
	// Insecure allows plain HTTP and unverified TLS to any registry, not
	// only loopback ones.
	Insecure bool
	// Jobs is how many blobs move at once; default 8.
	Jobs int
	// Keychain resolves credentials; default the Docker config and its helpers.
	Keychain authn.Keychain
	// Transport is the base HTTP transport; default http.DefaultTransport.
	// An *http.Transport is cloned for hosts with TLS settings of their
	// own; another RoundTripper serves every host as it is.
	Transport http.RoundTripper
	// Retry says how failed requests are tried again; the zero value is
	// the defaults that Retry documents.
	Retry Retry
	// Registries say how each registry host is reached: its CAs and client
	// certificates (certs.d included), plain HTTP for an insecure one. The
	// zero value reads DefaultCertsDirs.
	Registries Registries
}

// DefaultJobs is how many blobs move at once unless Options.Jobs says otherwise.
const DefaultJobs = 8

// UserAgent identifies polyarch to registries.
var UserAgent = "polyarch"

// Parse parses an image reference: registry/repository[:tag|@digest]. The
// error names the reference.
func (o Options) Parse(ref string) (name.Reference, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(strings.TrimSpace(ref), nopts...)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", ref, err)
	}
	return r, nil
}

// ParseRepository parses a repository: registry/repository.
func (o Options) ParseRepository(repo string) (name.Repository, error) {
	var nopts []name.Option
	if o.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.NewRepository(strings.TrimSpace(repo), nopts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %q: %w", repo, err)
	}
	return r, nil
}

// Remote returns the go-containerregistry remote options for these Options.
func (o Options) Remote(ctx context.Context) []remote.Option {
	a := o.access()
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(a.keychain),
		remote.WithTransport(a.transport),
		remote.WithJobs(a.jobs),
		remote.WithUserAgent(a.userAgent),
		remote.WithRetryBackoff(a.retry.backoff()),
	}
}

// access resolves the Options' defaults: how every request reaches registries.
func (o Options) access() *access {
	keychain := o.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	t := &trusting{registries: o.Registries, insecureAll: o.Insecure}
	switch base := o.Transport.(type) {
	case nil:
		t.base, t.tlsBase = baseTransport, baseTransport
		if o.Insecure {
			t.base, t.tlsBase = insecureTransport, insecureTransport
		}
	case *http.Transport:
		t.base, t.tlsBase = base, base
	default:
		t.base = base // the caller's: no TLS settings of a host's own
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = DefaultJobs
	}
	retry := o.Retry.withDefaults()
	return &access{keychain: keychain, transport: &retrying{next: t, retry: retry}, userAgent: UserAgent, jobs: jobs, retry: retry}
}

// The base transports of Options without one of their own, shared so that
// connections are reused from one operation to the next.
var (
	baseTransport     = newTransport(false)
	insecureTransport = newTransport(true)
)

// newTransport is http.DefaultTransport keeping more idle connections.
// Go keeps 2 per host by default: with Jobs blobs in flight, most requests
// that finished closed their connection and the next one dialled again (a
// copy opened 57 connections where crane opened 25). 50 is what
// go-containerregistry's remote.DefaultTransport keeps.
func newTransport(insecure bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 50
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
	}
	return t
}
