package testutil

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// NewPlainRegistry starts distribution v3 as it ships, over its in-memory
// driver with deletes enabled: no referrers API, nothing of polyarch's. It
// returns host:port; the server stops when the test ends.
func NewPlainRegistry(t testing.TB) string {
	t.Helper()
	cfg := &configuration.Configuration{Version: "0.1"}
	cfg.Storage = configuration.Storage{
		"inmemory": configuration.Parameters{},
		"delete":   configuration.Parameters{"enabled": true},
	}
	cfg.HTTP.Secret = "polyarch-test-secret"
	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, cfg)
	srv := httptest.NewServer(app)
	t.Cleanup(func() {
		srv.Close()
		_ = app.Shutdown()
		cancel()
	})
	return strings.TrimPrefix(srv.URL, "http://")
}
