// Package testutil starts real components for tests: the embedded registry in
// process, and the external tools (crane, regctl, skopeo) used as independent
// checkers.
package testutil

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/crypto/bcrypt"

	"github.com/polyarch/polyarch/registry"
)

func init() {
	// distribution logs every request through logrus; tests want failures only.
	registry.ConfigureLogging(os.Stderr, os.Getenv("POLYARCH_DEBUG") == "1")
}

// Registry is an embedded registry serving on a loopback httptest server.
type Registry struct {
	*registry.Registry
	Server *httptest.Server
	// Host is host:port, ready for references such as Host+"/org/app:v1".
	Host string
	// Dir is the filesystem root of its storage.
	Dir string
}

// NewRegistry starts an embedded registry on a fresh directory, stopped when
// the test ends.
func NewRegistry(t testing.TB, opts ...registry.Option) *Registry {
	t.Helper()
	dir := t.TempDir()
	reg, err := registry.New(context.Background(), append([]registry.Option{registry.WithRoot(dir)}, opts...)...)
	if err != nil {
		t.Fatalf("starting registry: %v", err)
	}
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = reg.Close()
	})
	return &Registry{Registry: reg, Server: srv, Host: strings.TrimPrefix(srv.URL, "http://"), Dir: dir}
}

// Ref parses a reference or fails the test.
func Ref(t testing.TB, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatalf("parsing reference %q: %v", s, err)
	}
	return r
}

// Htpasswd writes a bcrypt htpasswd file with one user and returns its path.
func Htpasswd(t testing.TB, user, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte(user+":"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
