// Package registry embeds an OCI distribution registry in polyarch.
//
// It is distribution/distribution v3 (handlers.NewApp over a storage driver,
// the filesystem driver by default; S3 with -tags s3, see drivers.go) with what distribution v3.1.2 lacks,
// layered over it rather than forked:
//
//   - the OCI 1.1 referrers API: GET /v2/<name>/referrers/<digest>, its
//     artifactType filter, and the OCI-Subject header on a manifest PUT whose
//     manifest names a subject (see referrers.go);
//   - 400 NAME_INVALID for repository names over 255 characters, which
//     distribution accepts or answers 500 for (see names.go);
//   - concise request logs and graceful shutdown (see serve.go).
//
// Use New to get a Registry, then Handler to mount it in an http.Server or an
// httptest.Server, or ListenAndServe to run it. Several registries can live in
// one process: New never registers process-global health checks.
//
//	reg, err := registry.New(ctx, registry.WithRoot(dir))
//	srv := httptest.NewServer(reg.Handler())
//	defer reg.Close()
package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
)

// Registry is one embedded registry: distribution's application plus
// polyarch's referrers layer and request log.
type Registry struct {
	app       *handlers.App
	referrers *referrerStore
	handler   http.Handler
	config    *configuration.Configuration
	opts      options
}

// New builds a registry from its options. It does not listen; see
// ListenAndServe and Handler.
func New(ctx context.Context, opts ...Option) (r *Registry, err error) {
	o := options{}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	cfg, err := o.configuration()
	if err != nil {
		return nil, err
	}

	capture := &namespaceCapture{}
	cfg.Middleware = cloneMiddleware(cfg.Middleware)
	cfg.Middleware["registry"] = append(cfg.Middleware["registry"], configuration.Middleware{
		Name:    referrersMiddlewareName,
		Options: configuration.Parameters{captureOption: capture},
	})

	// distribution reports configuration faults by panicking inside NewApp;
	// turn them into errors so a bad --config is a message, not a crash.
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("configuring registry: %v", p)
		}
	}()
	app := handlers.NewApp(ctx, cfg)
	if capture.ns == nil || capture.store == nil {
		_ = app.Shutdown()
		return nil, errors.New("configuring registry: referrers layer was not installed")
	}

	reg := &Registry{app: app, referrers: capture.store, config: cfg, opts: o}
	var h http.Handler = app
	h = reg.referrers.handler(h, o.accessController(cfg))
	h = nameCheck(h, cfg.HTTP.Prefix)
	h = requestLog(h, o.logWriter())
	reg.handler = h
	return reg, nil
}

// Handler serves the registry's HTTP API, for an http.Server or httptest.Server.
func (r *Registry) Handler() http.Handler { return r.handler }

// Close stops distribution's background work (upload purging). Call it after
// the HTTP server that used Handler has shut down.
func (r *Registry) Close() error { return r.app.Shutdown() }

// Root is the filesystem driver's root directory, or "" for other drivers.
func (r *Registry) Root() string {
	if r.config.Storage.Type() != "filesystem" {
		return ""
	}
	root, _ := r.config.Storage.Parameters()["rootdirectory"].(string)
	return root
}

// AuthEnabled reports whether requests must carry credentials.
func (r *Registry) AuthEnabled() bool {
	t := r.config.Auth.Type()
	return t != "" && t != "none"
}

// TLSEnabled reports whether ListenAndServe speaks HTTPS.
func (r *Registry) TLSEnabled() bool { return r.opts.tlsCert != "" }

// DefaultRoot is where `polyarch registry serve` keeps its data when neither
// --root nor a configuration file says otherwise: $XDG_DATA_HOME/polyarch/registry,
// else ~/.local/share/polyarch/registry.
func DefaultRoot() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "polyarch", "registry")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "polyarch", "registry")
	}
	return filepath.Join(os.TempDir(), "polyarch-registry")
}

// configuration turns the options into a distribution configuration: the
// file given with WithConfigFile (or defaults), then each explicit option on top.
func (o *options) configuration() (*configuration.Configuration, error) {
	var cfg *configuration.Configuration
	if o.configFile != "" {
		f, err := os.Open(o.configFile)
		if err != nil {
			return nil, fmt.Errorf("reading registry config: %w", err)
		}
		defer f.Close()
		cfg, err = configuration.Parse(f)
		if err != nil {
			return nil, fmt.Errorf("registry config %s: %w", o.configFile, err)
		}
		if err := checkDriverLinked(cfg.Storage.Type(), "registry config "+o.configFile); err != nil {
			return nil, err
		}
	} else {
		cfg = &configuration.Configuration{Version: "0.1"}
		cfg.Storage = configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": DefaultRoot()},
			"delete":     configuration.Parameters{"enabled": true},
		}
	}
	applyParseDefaults(cfg)
	if o.root != "" {
		if t := cfg.Storage.Type(); t != "filesystem" {
			return nil, fmt.Errorf("--root %s: the configured storage driver is %q, not filesystem", o.root, t)
		}
		cfg.Storage["filesystem"]["rootdirectory"] = o.root
	}
	if cfg.Storage.Type() == "filesystem" {
		root, _ := cfg.Storage["filesystem"]["rootdirectory"].(string)
		if root == "" {
			return nil, errors.New("registry storage: filesystem driver needs a rootdirectory")
		}
		if err := os.MkdirAll(root, 0o755); err != nil {
			return nil, fmt.Errorf("registry root %s: %w", root, err)
		}
	}
	if o.htpasswd != "" {
		// distribution would create a missing file with a random user; a
		// typo in the path must not silently lock everyone out.
		if _, err := os.Stat(o.htpasswd); err != nil {
			return nil, fmt.Errorf("htpasswd file: %w", err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "polyarch", "path": o.htpasswd}}
	}
	o.applyUploadPurging(cfg)
	if o.readOnly {
		m := cfg.Storage["maintenance"]
		if m == nil {
			m = configuration.Parameters{}
		}
		m["readonly"] = map[any]any{"enabled": true}
		cfg.Storage["maintenance"] = m
	}
	if cfg.HTTP.Secret == "" {
		// Upload state is HMAC-signed; one process needs no shared secret.
		b := make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, b); err != nil {
			return nil, err
		}
		cfg.HTTP.Secret = hex.EncodeToString(b)
	}
	return cfg, nil
}

func cloneMiddleware(m map[string][]configuration.Middleware) map[string][]configuration.Middleware {
	out := make(map[string][]configuration.Middleware, len(m)+1)
	for k, v := range m {
		out[k] = append([]configuration.Middleware(nil), v...)
	}
	return out
}
