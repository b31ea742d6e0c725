package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Registries say how each registry host is reached beyond the defaults:
// certificate authorities of its own, client certificates, plain HTTP. One
// resolution (Trust) serves every path a request can take: polyarch's own
// requests (Options.Remote, Direct), the local builder's buildkitd.toml
// (BuildKit's pushes and pulls, and the images tests run) and the token
// requests BuildKit's session makes through polyarch.
//
// Docker's certs.d layout is read as Docker and containerd read it: in
// <dir>/<host[:port]>/, every *.crt is a CA, every *.cert a client
// certificate whose key is the *.key of the same name (containerd's
// hosts.toml is not read). The zero value reads DefaultCertsDirs and has
// no host of its own.
type Registries struct {
	// Hosts are per-registry settings by host[:port] (polyarch.yaml's
	// registries:).
	Hosts map[string]Registry
	// CertsDirs are certs.d directories; nil means DefaultCertsDirs, an
	// empty slice none.
	CertsDirs []string
}

// Registry is how one registry host is reached.
type Registry struct {
	// CA are PEM files of authorities trusted for this registry besides the
	// system's roots.
	CA []string
	// Insecure allows plain HTTP and unverified TLS to this registry.
	Insecure bool
	// Mirrors (host[:port][/path]) are pulled from before the registry
	// itself; only builder nodes use them.
	Mirrors []string
}

// DefaultCertsDirs are where Docker and containerd look for per-registry
// certificates.
var DefaultCertsDirs = []string{"/etc/docker/certs.d", "/etc/containerd/certs.d"}

// KeyPair is a client certificate and its key, PEM files.
type KeyPair struct {
	Cert, Key string
}

// Trust is how one registry host is reached, everything that decides it
// resolved in one place.
type Trust struct {
	Host string
	// CAs are PEM files trusted besides the system's roots: the host's
	// Registry.CA, then certs.d's *.crt.
	CAs []string
	// KeyPairs are client certificates from certs.d.
	KeyPairs []KeyPair
	// Insecure skips TLS verification and allows plain HTTP.
	Insecure bool
	// PlainHTTP: the host is spoken to over plain HTTP, because it is
	// loopback (IsLoopback) or Insecure. No other host ever is.
	PlainHTTP bool
	// Mirrors as in Registry.
	Mirrors []string
}

// Custom reports whether the host needs anything beyond the system's roots
// over HTTPS.
func (t Trust) Custom() bool {
	return len(t.CAs) > 0 || len(t.KeyPairs) > 0 || t.Insecure || t.PlainHTTP || len(t.Mirrors) > 0
}

// Trust resolves how host (host[:port], as references name it) is
// reached. The error names the certs.d file at fault.
func (r Registries) Trust(host string) (Trust, error) {
	reg := r.Hosts[host]
	t := Trust{
		Host:      host,
		CAs:       slices.Clone(reg.CA),
		Insecure:  reg.Insecure,
		PlainHTTP: reg.Insecure || IsLoopback(host),
		Mirrors:   slices.Clone(reg.Mirrors),
	}
	dirs := r.CertsDirs
	if dirs == nil {
		dirs = DefaultCertsDirs
	}
	for _, d := range dirs {
		cas, pairs, err := readCertsDir(filepath.Join(d, host))
		if err != nil {
			return Trust{}, err
		}
		t.CAs = append(t.CAs, cas...)
		t.KeyPairs = append(t.KeyPairs, pairs...)
	}
	return t, nil
}

// readCertsDir reads one certs.d/<host> directory, as Docker does: a
// client certificate without its key is an error.
func readCertsDir(dir string) (cas []string, pairs []KeyPair, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("registry certificates %s: %w", dir, err)
	}
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasSuffix(n, ".crt"):
			cas = append(cas, filepath.Join(dir, n))
		case strings.HasSuffix(n, ".cert"):
			key := strings.TrimSuffix(n, ".cert") + ".key"
			if _, err := os.Stat(filepath.Join(dir, key)); err != nil {
				return nil, nil, fmt.Errorf("registry certificates %s: client certificate %s has no key %s (a CA certificate must end in .crt)", dir, n, key)
			}
			pairs = append(pairs, KeyPair{Cert: filepath.Join(dir, n), Key: filepath.Join(dir, key)})
		case strings.HasSuffix(n, ".key"):
			if _, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(n, ".key")+".cert")); err != nil {
				return nil, nil, fmt.Errorf("registry certificates %s: key %s has no client certificate %s", dir, n, strings.TrimSuffix(n, ".key")+".cert")
			}
		}
	}
	return cas, pairs, nil
}

// TLSConfig is the TLS client configuration of t: the system's roots plus
// its CAs, its client certificates, no verification when Insecure.
func (t Trust) TLSConfig() (*tls.Config, error) {
	c := &tls.Config{}
	if len(t.CAs) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, f := range t.CAs {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("CA of registry %s: %w", t.Host, err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("CA of registry %s: %s holds no PEM certificate", t.Host, f)
			}
		}
		c.RootCAs = pool
	}
	for _, kp := range t.KeyPairs {
		cert, err := tls.LoadX509KeyPair(kp.Cert, kp.Key)
		if err != nil {
			return nil, fmt.Errorf("client certificate of registry %s: %s: %w", t.Host, kp.Cert, err)
		}
		c.Certificates = append(c.Certificates, cert)
	}
	if t.Insecure {
		c.InsecureSkipVerify = true //nolint:gosec // the user marked this registry insecure
	}
	return c, nil
}

// TrustError is a registry whose certificate was not accepted: it names the
// host and says where its CA can be given.
type TrustError struct {
	Host string
	Err  error
}

func (e *TrustError) Error() string {
	var ua x509.UnknownAuthorityError
	if errors.As(e.Err, &ua) {
		return fmt.Sprintf("%v: registry %s is not trusted: give its CA in polyarch.yaml (registries: {%q: {ca: FILE}}) or as %s", e.Err, e.Host, e.Host, filepath.Join(DefaultCertsDirs[0], e.Host, "ca.crt"))
	}
	return fmt.Sprintf("%v: the certificate of registry %s was refused", e.Err, e.Host)
}

func (e *TrustError) Unwrap() error { return e.Err }

// trusting sends each request with its host's settings: hosts that need
// nothing of their own go through base, others through a transport made
// for them from tlsBase (kept, so that their connections are reused). It
// refuses plain HTTP to every host but loopback and insecure ones, whatever
// the caller asked: go-containerregistry would also try plain HTTP with
// private (RFC 1918) addresses and *.local names.
type trusting struct {
	registries Registries
	base       http.RoundTripper
	// tlsBase is cloned for hosts with settings of their own; nil when the
	// caller gave its own transport, which then serves every host.
	tlsBase *http.Transport
	// insecureAll is Options.Insecure: every host is insecure.
	insecureAll bool
	mu          sync.Mutex
	hosts       map[string]*hostTransport
}

// hostTransport is one host's way: its transport, and whether it answered
// HTTPS with plain HTTP (an insecure host only).
type hostTransport struct {
	trust Trust
	rt    http.RoundTripper
	err   error
	mu    sync.Mutex
	plain bool
}

// transports are the transports made for hosts with settings, by those
// settings, shared by every Options that asks for the same.
var (
	transportsMu sync.Mutex
	transports   = map[string]*http.Transport{}
)

func (t *trusting) forHost(host string) *hostTransport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.hosts[host]; ok {
		return h
	}
	h := &hostTransport{rt: t.base}
	if t.hosts == nil {
		t.hosts = map[string]*hostTransport{}
	}
	t.hosts[host] = h
	tr, err := t.registries.Trust(host)
	if err != nil {
		h.err = err
		return h
	}
	if t.insecureAll {
		tr.Insecure, tr.PlainHTTP = true, true
	}
	h.trust = tr
	if t.tlsBase == nil || len(tr.CAs) == 0 && len(tr.KeyPairs) == 0 && !tr.Insecure {
		return h
	}
	key := fmt.Sprintf("%p|%q|%v|%v", t.tlsBase, tr.CAs, tr.KeyPairs, tr.Insecure)
	transportsMu.Lock()
	defer transportsMu.Unlock()
	if rt, ok := transports[key]; ok {
		h.rt = rt
		return h
	}
	cfg, err := tr.TLSConfig()
	if err != nil {
		h.err = err
		return h
	}
	rt := t.tlsBase.Clone()
	rt.TLSClientConfig = cfg
	transports[key] = rt
	h.rt = rt
	return h
}

// PlainHTTPError is a plain-HTTP request refused: its host is neither
// loopback nor marked insecure.
type PlainHTTPError struct{ Host string }

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("plain HTTP to registry %s refused: only loopback registries and those marked insecure (registries: {%q: {insecure: true}} in polyarch.yaml, or --insecure) are spoken to without TLS", e.Host, e.Host)
}

func (t *trusting) RoundTrip(req *http.Request) (*http.Response, error) {
	h := t.forHost(req.URL.Host)
	if h.err != nil {
		return nil, h.err
	}
	if req.URL.Scheme == "http" && !h.trust.PlainHTTP {
		return nil, &PlainHTTPError{Host: req.URL.Host}
	}
	if req.URL.Scheme == "https" && h.trust.Insecure {
		return h.insecure(req)
	}
	resp, err := h.rt.RoundTrip(req)
	return resp, trustError(req.URL.Host, err)
}

// insecure sends req over HTTPS without verification and, when the host
// answers in plain HTTP, again over HTTP, as BuildKit does for an insecure
// registry; the host is then spoken to over HTTP from then on.
func (h *hostTransport) insecure(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	plain := h.plain
	h.mu.Unlock()
	if !plain {
		resp, err := h.rt.RoundTrip(req)
		var rh tls.RecordHeaderError
		if !errors.As(err, &rh) {
			return resp, err
		}
		h.mu.Lock()
		h.plain = true
		h.mu.Unlock()
		if req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
	u := *req.URL
	u.Scheme = "http"
	r := req.Clone(req.Context())
	r.URL = &u
	return h.rt.RoundTrip(r)
}

// trustError names the host whose certificate was refused.
func trustError(host string, err error) error {
	if err == nil {
		return nil
	}
	var (
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
		cv *tls.CertificateVerificationError
	)
	if errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cv) {
		return &TrustError{Host: host, Err: err}
	}
	return err
}
