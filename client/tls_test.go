package client_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
