package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polyarch/polyarch/config"
)

// writeCA writes a self-signed CA certificate as PEM.
func writeCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRegistriesAreRead(t *testing.T) {
	p := project(t, `
registry: registry.corp.example:5443
registries:
  registry.corp.example:5443: {ca: certs/ca.pem}
  10.0.0.7:5000: {insecure: true}
  docker.io:
    mirrors: [mirror.corp.example, "mirror2.corp.example:5000/hub"]
images:
  - {name: app, context: app, platforms: [linux/amd64]}
`, "app/Dockerfile")
	writeCA(t, filepath.Join(filepath.Dir(p), "certs", "ca.pem"))
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Registries["registry.corp.example:5443"].CA; got != "certs/ca.pem" {
		t.Errorf("ca %q", got)
	}
	if !c.Registries["10.0.0.7:5000"].Insecure {
		t.Error("10.0.0.7:5000 not insecure")
	}
	if m := c.Registries["docker.io"].Mirrors; len(m) != 2 || m[1] != "mirror2.corp.example:5000/hub" {
		t.Errorf("mirrors %q", m)
	}
}

func TestRegistriesErrorsNameTheLine(t *testing.T) {
	p := project(t, `registry: 127.0.0.1:5000
registries:
  https://registry.example: {}
  a.example: {ca: missing.pem}
  b.example: {ca: notpem.txt}
  c.example: {ca: certs/ca.pem, insecure: true}
  d.example: {mirrors: ["http://mirror.example"]}
  e.example: {cs: x}
images:
  - {name: app, context: app, platforms: [linux/amd64]}
`, "app/Dockerfile")
	dir := filepath.Dir(p)
	writeCA(t, filepath.Join(dir, "certs", "ca.pem"))
	os.WriteFile(filepath.Join(dir, "notpem.txt"), []byte("hello\n"), 0o644)
	_, err := config.Load(p)
	if err == nil {
		t.Fatal("loaded")
	}
	// An unknown field is refused by the decoder first, on its own.
	if !strings.Contains(err.Error(), "line 8: field cs not found") {
		t.Errorf("unknown field: %v", err)
	}
	os.WriteFile(p, []byte(strings.Replace(mustRead(t, p), "  e.example: {cs: x}\n", "", 1)), 0o644)
	_, err = config.Load(p)
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`polyarch.yaml:3: registries."https://registry.example": "https://registry.example" is not a registry host`,
		`polyarch.yaml:4: registries."a.example".ca: CA file: open ` + filepath.Join(dir, "missing.pem"),
		`polyarch.yaml:5: registries."b.example".ca: CA file ` + filepath.Join(dir, "notpem.txt") + ` holds no PEM certificate`,
		`polyarch.yaml:6: registries."c.example".ca: give ca or insecure, not both`,
		`polyarch.yaml:7: registries."d.example".mirrors[0]: mirror "http://mirror.example": want host[:port][/path]`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
