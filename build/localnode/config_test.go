package localnode_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	resolverconfig "github.com/moby/buildkit/util/resolver/config"
	"github.com/pelletier/go-toml/v2"

	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/client"
)

func TestWriteConfigPlainHTTP(t *testing.T) {
	dir := t.TempDir()
	path, err := localnode.WriteConfig(localnode.Options{
		Dir:                dir,
		Registries:         []string{"ghcr.io/org", "127.0.0.1:5000/base", "127.0.0.1:5000", "quay.io"},
		InsecureRegistries: []string{"10.0.0.7:5000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	toml := string(b)
	for _, host := range []string{"127.0.0.1:5000", "10.0.0.7:5000"} {
		if n := strings.Count(toml, "[registry.\""+host+"\"]\n  http = true"); n != 1 {
			t.Errorf("%s: %d plain-HTTP sections, want 1:\n%s", host, n, toml)
		}
	}
	for _, host := range []string{"ghcr.io", "quay.io"} {
		if strings.Contains(toml, host) {
			t.Errorf("%s (not loopback, not named insecure) is in buildkitd.toml:\n%s", host, toml)
		}
	}
	if !strings.Contains(toml, "unix://"+dir+"/buildkitd.sock") {
		t.Errorf("buildkitd.toml does not listen on the state directory's socket:\n%s", toml)
	}
}

// buildkitdConfig reads a buildkitd.toml's registries as buildkitd does
// (cmd/buildkitd/config.Load: go-toml into BuildKit's RegistryConfig).
func buildkitdConfig(t *testing.T, path string) (c struct {
	Registries map[string]resolverconfig.RegistryConfig `toml:"registry"`
}) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := toml.NewDecoder(f).Decode(&c); err != nil {
		t.Fatalf("buildkitd would not load %s: %v", path, err)
	}
	return c
}

func TestWriteConfigRegistrySettings(t *testing.T) {
	dir := t.TempDir()
	certs := t.TempDir()
	ca := filepath.Join(t.TempDir(), "corp-ca.pem")
	os.WriteFile(ca, []byte("not read here"), 0o644)
	// certs.d as Docker lays it out: a CA and a client certificate.
	os.MkdirAll(filepath.Join(certs, "registry.test:5443"), 0o755)
	for _, f := range []string{"ca.crt", "client.cert", "client.key"} {
		os.WriteFile(filepath.Join(certs, "registry.test:5443", f), []byte("x"), 0o600)
	}
	path, err := localnode.WriteConfig(localnode.Options{
		Dir:        dir,
		Registries: []string{"registry.test:5443/org", "ghcr.io", "127.0.0.1:5000"},
		Settings: client.Registries{
			Hosts: map[string]client.Registry{
				"registry.test:5443": {CA: []string{ca}},
				"10.0.0.7:5000":      {Insecure: true},
				"docker.io":          {Mirrors: []string{"mirror.test:5443/hub"}},
				"mirror.test:5443":   {CA: []string{ca}},
			},
			CertsDirs: []string{certs},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	regs := buildkitdConfig(t, path).Registries
	r := regs["registry.test:5443"]
	wantCAs := []string{ca, filepath.Join(certs, "registry.test:5443", "ca.crt")}
	if strings.Join(r.RootCAs, ",") != strings.Join(wantCAs, ",") {
		t.Errorf("registry.test:5443 ca = %q, want %q", r.RootCAs, wantCAs)
	}
	if len(r.KeyPairs) != 1 || r.KeyPairs[0].Certificate != filepath.Join(certs, "registry.test:5443", "client.cert") || r.KeyPairs[0].Key != filepath.Join(certs, "registry.test:5443", "client.key") {
		t.Errorf("registry.test:5443 keypairs %+v", r.KeyPairs)
	}
	if r.PlainHTTP != nil || r.Insecure != nil {
		t.Errorf("registry.test:5443 (TLS, private CA) http=%v insecure=%v: want neither set", r.PlainHTTP, r.Insecure)
	}
	in := regs["10.0.0.7:5000"]
	if in.PlainHTTP == nil || !*in.PlainHTTP || in.Insecure == nil || !*in.Insecure {
		t.Errorf("10.0.0.7:5000 (insecure) = %+v, want http and insecure", in)
	}
	if lo := regs["127.0.0.1:5000"]; lo.PlainHTTP == nil || !*lo.PlainHTTP || lo.Insecure != nil {
		t.Errorf("127.0.0.1:5000 (loopback) = %+v, want http only", lo)
	}
	if m := regs["docker.io"].Mirrors; len(m) != 1 || m[0] != "mirror.test:5443/hub" {
		t.Errorf("docker.io mirrors %q", m)
	}
	if m := regs["mirror.test:5443"].RootCAs; len(m) != 1 {
		t.Errorf("the mirror's own CA: %q", m)
	}
	// Plain HTTP for loopback and insecure registries only.
	for host, c := range regs {
		if c.PlainHTTP != nil && *c.PlainHTTP && host != "127.0.0.1:5000" && host != "10.0.0.7:5000" {
			t.Errorf("%s gets plain HTTP", host)
		}
	}
	if _, ok := regs["ghcr.io"]; ok {
		t.Errorf("ghcr.io needs nothing of its own, yet has a section")
	}
}

func TestWriteConfigRefusesBadCertsD(t *testing.T) {
	certs := t.TempDir()
	os.MkdirAll(filepath.Join(certs, "registry.test:5443"), 0o755)
	os.WriteFile(filepath.Join(certs, "registry.test:5443", "client.cert"), []byte("x"), 0o600)
	_, err := localnode.WriteConfig(localnode.Options{
		Dir: t.TempDir(), Registries: []string{"registry.test:5443"},
		Settings: client.Registries{CertsDirs: []string{certs}},
	})
	if err == nil || !strings.Contains(err.Error(), "client.cert has no key") {
		t.Errorf("a certs.d client certificate without its key: %v", err)
	}
}
