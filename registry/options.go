package registry

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/auth"
)

// Option configures a Registry.
type Option func(*options) error

type options struct {
	// root is the filesystem driver's directory; default DefaultRoot().
	root string
	// configFile is a distribution YAML used as the base configuration.
	configFile string
	// htpasswd is a bcrypt htpasswd file; when set, every request needs basic auth.
	htpasswd string
	// tlsCert and tlsKey make ListenAndServe speak HTTPS.
	tlsCert, tlsKey string
	// readOnly refuses every write (distribution's maintenance read-only mode).
	readOnly bool
	// insecurePublic allows listening beyond loopback without auth.
	insecurePublic bool
	// log receives one line per request; default none.
	log io.Writer
	// uploadAge, when set, is WithUploadPurging's age.
	uploadAge *time.Duration
}

// WithRoot stores data under dir with the filesystem driver.
func WithRoot(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return fmt.Errorf("registry root: empty path")
		}
		o.root = dir
		return nil
	}
}

// WithConfigFile starts from a distribution configuration file (any storage
// driver, middleware, notifications...). Other options override its fields.
func WithConfigFile(path string) Option {
	return func(o *options) error {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("registry config: %w", err)
		}
		o.configFile = path
		return nil
	}
}

// WithHtpasswd requires HTTP basic auth checked against a bcrypt htpasswd file.
func WithHtpasswd(path string) Option {
	return func(o *options) error {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("htpasswd file: %w", err)
		}
		o.htpasswd = path
		return nil
	}
}

// WithTLS serves HTTPS with the given PEM certificate and key.
func WithTLS(certFile, keyFile string) Option {
	return func(o *options) error {
		if (certFile == "") != (keyFile == "") {
			return fmt.Errorf("TLS needs both a certificate and a key (got cert %q, key %q)", certFile, keyFile)
		}
		for _, f := range []string{certFile, keyFile} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("TLS: %w", err)
			}
		}
		o.tlsCert, o.tlsKey = certFile, keyFile
		return nil
	}
}

// WithReadOnly refuses every push and delete; pulls keep working.
func WithReadOnly(readOnly bool) Option {
	return func(o *options) error { o.readOnly = readOnly; return nil }
}

// WithInsecurePublic lets ListenAndServe listen on a non-loopback address
// without authentication. Without it, that is refused.
func WithInsecurePublic(allow bool) Option {
	return func(o *options) error { o.insecurePublic = allow; return nil }
}

// WithRequestLog writes one line per request to w.
func WithRequestLog(w io.Writer) Option {
	return func(o *options) error { o.log = w; return nil }
}

func (o *options) logWriter() io.Writer {
	if o.log == nil {
		return io.Discard
	}
	return o.log
}

// accessController builds the same access controller distribution uses, so the
// referrers endpoint is guarded exactly like the routes distribution serves.
func (o *options) accessController(cfg *configuration.Configuration) auth.AccessController {
	t := cfg.Auth.Type()
	if t == "" || t == "none" {
		return nil
	}
	ac, err := auth.GetAccessController(t, cfg.Auth.Parameters())
	if err != nil {
		// NewApp already built this controller from the same parameters; it
		// cannot fail here without having failed there.
		panic(fmt.Sprintf("auth %s: %v", t, err))
	}
	return ac
}
