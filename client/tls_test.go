package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/client"
)

// writePEM writes the certificate of a TLS test server as a PEM file.
func writePEM(t *testing.T, srv *httptest.Server, path string) string {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrustReadsCertsDAsDockerDoes(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	docker, containerd := t.TempDir(), t.TempDir()
	host := "registry.test:5443"
	ca := writePEM(t, srv, filepath.Join(docker, host, "ca.crt"))
	other := writePEM(t, srv, filepath.Join(containerd, host, "corp.crt"))
	// A client certificate and its key (the test server's own pair will do).
	kp := srv.TLS.Certificates[0]
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.Certificate[0]})
	os.WriteFile(filepath.Join(docker, host, "client.cert"), certPEM, 0o644)
	os.WriteFile(filepath.Join(docker, host, "client.key"), keyPEM(t, kp), 0o600)
	yamlCA := writePEM(t, srv, filepath.Join(t.TempDir(), "ca.pem"))

	r := client.Registries{
		Hosts:     map[string]client.Registry{host: {CA: []string{yamlCA}, Mirrors: []string{"mirror.test"}}},
		CertsDirs: []string{docker, containerd},
	}
	tr, err := r.Trust(host)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tr.CAs, ",") != strings.Join([]string{yamlCA, ca, other}, ",") {
		t.Errorf("CAs %q, want polyarch.yaml's then each certs.d's", tr.CAs)
	}
	if len(tr.KeyPairs) != 1 || tr.KeyPairs[0].Key != filepath.Join(docker, host, "client.key") {
		t.Errorf("key pairs %+v", tr.KeyPairs)
	}
	if tr.PlainHTTP || tr.Insecure || !tr.Custom() {
		t.Errorf("trust %+v: a host with a CA is HTTPS only", tr)
	}
	if _, err := tr.TLSConfig(); err != nil {
		t.Errorf("TLSConfig: %v", err)
	}

	// Docker refuses a client certificate without its key, naming it.
	os.Remove(filepath.Join(docker, host, "client.key"))
	if _, err := r.Trust(host); err == nil || !strings.Contains(err.Error(), "client certificate client.cert has no key client.key") {
		t.Errorf("certificate without key: %v", err)
	}

	// Plain HTTP for loopback and insecure hosts only.
	r = client.Registries{Hosts: map[string]client.Registry{"10.0.0.7:5000": {Insecure: true}}, CertsDirs: []string{}}
	for host, plain := range map[string]bool{"127.0.0.1:5000": true, "localhost:5000": true, "10.0.0.7:5000": true, "10.0.0.8:5000": false, "registry.local": false, "ghcr.io": false} {
		tr, err := r.Trust(host)
		if err != nil || tr.PlainHTTP != plain || tr.Custom() != plain {
			t.Errorf("%s: %+v, %v; want PlainHTTP %v", host, tr, err, plain)
		}
	}
}

func keyPEM(t *testing.T, c tls.Certificate) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func quietRegistry() http.Handler {
	return ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
}

// mapDial is a transport whose every connection goes to addr, whatever the
// host asked (a name the test gives a server on loopback), counting dials.
func mapDial(addr string, dials *atomic.Int32) *http.Transport {
	return &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
}

// A registry with a private CA, by a name that is not loopback: trusted
// with the CA from the options or from certs.d, refused without, and the
// error names the registry and the certificate problem.
func TestRemoteTrustsAPrivateCA(t *testing.T) {
	srv := httptest.NewUnstartedServer(quietRegistry())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()                                   // its certificate names example.com
	defer srv.Close()
	host := "example.com:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	var dials atomic.Int32
	tr := mapDial(srv.Listener.Addr().String(), &dials)
	ca := writePEM(t, srv, filepath.Join(t.TempDir(), "ca.pem"))
	certsD := t.TempDir()
	writePEM(t, srv, filepath.Join(certsD, host, "ca.crt"))
	ctx := context.Background()
	ref, _ := name.ParseReference(host + "/org/app:v1")
	img, _ := random.Image(64, 1)

	for _, tc := range []struct {
		name string
		regs client.Registries
	}{
		{"CA in the options", client.Registries{Hosts: map[string]client.Registry{host: {CA: []string{ca}}}, CertsDirs: []string{}}},
		{"CA in certs.d", client.Registries{CertsDirs: []string{certsD}}},
	} {
		o := client.Options{Transport: tr, Registries: tc.regs}
		if err := remote.Write(ref, img, o.Remote(ctx)...); err != nil {
			t.Errorf("%s: push: %v", tc.name, err)
		}
		if _, err := remote.Head(ref, o.Remote(ctx)...); err != nil {
			t.Errorf("%s: head: %v", tc.name, err)
		}
	}

	o := client.Options{Transport: tr, Registries: client.Registries{CertsDirs: []string{}}}
	_, err := remote.Head(ref, o.Remote(ctx)...)
	var te *client.TrustError
	if !errors.As(err, &te) || te.Host != host || !strings.Contains(err.Error(), "certificate signed by unknown authority") ||
		!strings.Contains(err.Error(), "registry "+host+" is not trusted") {
		t.Errorf("without the CA: %v", err)
	}
}

// Plain HTTP goes to loopback registries and to those marked insecure,
// never to another, whatever go-containerregistry would try (it falls back
// to plain HTTP for private addresses and *.local names).
func TestPlainHTTPOnlyToLoopbackAndInsecureRegistries(t *testing.T) {
	var handled atomic.Int32
	reg := quietRegistry()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	var dials atomic.Int32
	tr := mapDial(srv.Listener.Addr().String(), &dials)
	ctx := context.Background()
	img, _ := random.Image(64, 1)

	// Marked insecure: HTTPS first, then plain HTTP.
	insecure := "insecure.example:" + port
	o := client.Options{Transport: tr, Registries: client.Registries{Hosts: map[string]client.Registry{insecure: {Insecure: true}}, CertsDirs: []string{}}}
	ref, _ := name.ParseReference(insecure + "/org/app:v1")
	if err := remote.Write(ref, img, o.Remote(ctx)...); err != nil {
		t.Fatalf("push to an insecure registry: %v", err)
	}

	// Not marked: a private address, which go-containerregistry would speak
	// plain HTTP to (mapDial never dials it). The request is refused before
	// any byte of it is sent.
	for _, h := range []string{"10.255.255.1:" + port, "ghcr.example:" + port} {
		before := handled.Load()
		o = client.Options{Transport: tr, Registries: client.Registries{CertsDirs: []string{}}}
		ref, _ = name.ParseReference(h + "/org/app:v1")
		_, err := remote.Head(ref, o.Remote(ctx)...)
		if err == nil {
			t.Errorf("%s: a plain-HTTP registry answered a registry that is neither loopback nor insecure", h)
		}
		if n := handled.Load() - before; n != 0 {
			t.Errorf("%s: %d plain-HTTP requests reached the registry: %v", h, n, err)
		}
		var pe *client.PlainHTTPError
		if strings.HasPrefix(h, "10.") && (!errors.As(err, &pe) || pe.Host != h) {
			t.Errorf("%s: %v, want plain HTTP refused naming the registry", h, err)
		}
	}
}
