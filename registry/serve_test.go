package registry_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/registry"
)

// serve runs a registry on a loopback port until the returned stop is called;
// stop returns what Serve returned.
func serve(t *testing.T, opts ...registry.Option) (url string, stop func() error) {
	t.Helper()
	reg, err := registry.New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := reg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Serve(ctx, ln) }()
	var stopped bool
	var result error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(registry.ShutdownGrace + 5*time.Second):
				t.Fatal("Serve did not return after shutdown")
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return "http://" + ln.Addr().String(), stop
}

// startUpload opens a blob upload and returns its URL.
func startUpload(t *testing.T, base, repo string) string {
	t.Helper()
	resp, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting upload: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = base + loc
	}
	return loc
}

func withDigest(loc, dgst string) string {
	if strings.Contains(loc, "?") {
		return loc + "&digest=" + dgst
	}
	return loc + "?digest=" + dgst
}

func headBlob(t *testing.T, base, repo, dgst string) int {
	t.Helper()
	resp, err := http.Head(base + "/v2/" + repo + "/blobs/" + dgst)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestShutdownLetsInFlightUploadFinish(t *testing.T) {
	dir := t.TempDir()
	base, stop := serve(t, registry.WithRoot(dir))
	content := bytes.Repeat([]byte("polyarch"), 1<<17) // 1 MiB
	dgst := sha(content)
	loc := startUpload(t, base, "org/slow")

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, withDigest(loc, dgst), pr)
	req.ContentLength = int64(len(content))
	type result struct {
		status int
		err    error
	}
	res := make(chan result, 1)
	// A connection of its own: an idle keep-alive connection may be closed
	// by a shutdown before the server reads the request on it, as HTTP allows.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		resp.Body.Close()
		res <- result{status: resp.StatusCode}
	}()
	half := len(content) / 2
	if _, err := pw.Write(content[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server start reading the body

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) while an upload was in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	// New connections are refused once shutdown began.
	if _, err := (&http.Client{Timeout: time.Second}).Get(base + "/v2/"); err == nil {
		t.Error("a new request was served after shutdown began")
	}

	if _, err := pw.Write(content[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-res
	if r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("in-flight upload: status %d, err %v; want 201", r.status, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve after graceful shutdown: %v", err)
	}

	base2, _ := serve(t, registry.WithRoot(dir))
	if code := headBlob(t, base2, "org/slow", dgst); code != http.StatusOK {
		t.Errorf("blob finished during shutdown: HEAD %d after restart, want 200", code)
	}
}

func TestUploadCutShortIsNeverVisible(t *testing.T) {
	dir := t.TempDir()
	base, stop := serve(t, registry.WithRoot(dir))
	content := bytes.Repeat([]byte("x"), 1<<20)
	dgst := sha(content)
	loc := startUpload(t, base, "org/cut")

	// The client dies half way through the body.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(withDigest(loc, dgst), base)
	_, _ = io.WriteString(conn, "PUT "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n")
	_, _ = conn.Write(content[:len(content)/2])
	conn.Close()
	time.Sleep(200 * time.Millisecond)

	if code := headBlob(t, base, "org/cut", dgst); code != http.StatusNotFound {
		t.Errorf("HEAD of a blob whose upload was cut: %d, want 404", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	base2, _ := serve(t, registry.WithRoot(dir))
	if code := headBlob(t, base2, "org/cut", dgst); code != http.StatusNotFound {
		t.Errorf("after restart, HEAD of the cut blob: %d, want 404", code)
	}
	assertNoStoredFileWith(t, filepath.Join(dir, "docker", "registry", "v2", "blobs"), content)
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	reg, err := registry.New(context.Background(), registry.WithRoot(t.TempDir()), registry.WithTLS(certFile, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := reg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	host := ln.Addr().String()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	img, _ := random.Image(256, 1)
	if err := remote.Write(testutil.Ref(t, host+"/org/tls:1"), img, remote.WithTransport(tr)); err != nil {
		t.Fatalf("push over TLS: %v", err)
	}
	resp, err := http.Get("http://" + host + "/v2/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: %d", resp.StatusCode)
		}
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "polyarch test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

func TestGarbageCollect(t *testing.T) {
	dir := t.TempDir()
	reg := testutil.NewRegistry(t, registry.WithRoot(dir))
	keep, _ := random.Image(2048, 2)
	drop, _ := random.Image(2048, 2)
	if err := remote.Write(testutil.Ref(t, reg.Host+"/org/gc:keep"), keep); err != nil {
		t.Fatal(err)
	}
	dropRef := testutil.Ref(t, reg.Host+"/org/gc:drop")
	if err := remote.Write(dropRef, drop); err != nil {
		t.Fatal(err)
	}
	dd, _ := drop.Digest()
	if err := remote.Delete(testutil.Ref(t, reg.Host+"/org/gc@"+dd.String())); err != nil {
		t.Fatal(err)
	}
	dropLayers, _ := drop.Layers()
	exists := func(layerDigest string) bool {
		hex := strings.TrimPrefix(layerDigest, "sha256:")
		_, err := os.Stat(filepath.Join(dir, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data"))
		return err == nil
	}
	d0, _ := dropLayers[0].Digest()
	if !exists(d0.String()) {
		t.Fatal("layer of the deleted image is not on disk before gc; the test cannot tell anything")
	}

	if _, err := registry.GarbageCollect(context.Background(), registry.GCOptions{DryRun: true, Quiet: true}, registry.WithRoot(dir)); err != nil {
		t.Fatal(err)
	}
	if !exists(d0.String()) {
		t.Fatal("gc --dry-run deleted a blob")
	}
	if _, err := registry.GarbageCollect(context.Background(), registry.GCOptions{Quiet: true}, registry.WithRoot(dir)); err != nil {
		t.Fatal(err)
	}
	for _, l := range dropLayers {
		d, _ := l.Digest()
		if exists(d.String()) {
			t.Errorf("layer %s of the deleted image survived gc", d)
		}
	}
	got, err := remote.Image(testutil.Ref(t, reg.Host+"/org/gc:keep"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("kept image after gc: %v", err)
	}
}

func TestGarbageCollectPrunesReferrersItDeleted(t *testing.T) {
	dir := t.TempDir()
	reg := testutil.NewRegistry(t, registry.WithRoot(dir))
	img, _ := random.Image(512, 1)
	ref := testutil.Ref(t, reg.Host+"/org/app:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	subject, _ := remote.Head(ref)
	_ = remote.WriteLayer(ref.Context(), static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json"))
	body := artifact(t, *subject, "application/vnd.example.sbom", nil)
	if resp := putRaw(t, reg.Server.Client(), reg.Server.URL+"/v2/org/app/manifests/"+sha(body), string(types.OCIManifestSchema1), body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT referrer: %d", resp.StatusCode)
	}
	entries := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "docker/registry/v2/repositories/org/app/_referrers/sha256/*/*"))
		return m
	}
	if len(entries()) != 1 {
		t.Fatalf("referrer entries before gc: %v", entries())
	}
	// The referrer is untagged: gc --remove-untagged deletes it, and its entry with it.
	if _, err := registry.GarbageCollect(context.Background(), registry.GCOptions{RemoveUntagged: true, Quiet: true}, registry.WithRoot(dir)); err != nil {
		t.Fatal(err)
	}
	if left := entries(); len(left) != 0 {
		t.Errorf("gc left referrer entries of deleted manifests: %v", left)
	}
	if _, err := remote.Image(ref); err != nil {
		t.Errorf("the tagged subject did not survive gc: %v", err)
	}
}

// A client that speaks plain HTTP to the TLS port is refused by Go's server
// without a word in any log; the registry's request log names it, so that
// an operator can see who sends requests (and perhaps passwords) in clear.
func TestTLSLogsPlainHTTPRequests(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	var log syncLog
	reg, err := registry.New(context.Background(), registry.WithRoot(t.TempDir()), registry.WithTLS(certFile, keyFile), registry.WithRequestLog(&log))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := reg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	host := ln.Addr().String()

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	resp, err := (&http.Client{Transport: tr}).Get("https://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if strings.Contains(log.String(), "plain HTTP") {
		t.Fatalf("an HTTPS request logged as plain HTTP:\n%s", log.String())
	}
	resp, err = http.Get("http://" + host + "/v2/")
	if err == nil {
		resp.Body.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), "plain HTTP request from 127.0.0.1:") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !regexp.MustCompile(`(?m) plain HTTP request from 127\.0\.0\.1:\d+ refused: this registry serves HTTPS$`).MatchString(log.String()) {
		t.Errorf("the request log does not name the plain-HTTP client:\n%s", log.String())
	}
}

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
