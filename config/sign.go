package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/polyarch/polyarch/sign"
)

// Sign is the sign: section: polyarch release and polyarch publish sign
// every child manifest and the index after publishing, and attach to each
// child its SBOM and provenance, signed the same way.
//
//	sign:
//	  key: cosign.key                 # or env://COSIGN_PRIVATE_KEY
//	  passwordEnv: COSIGN_PASSWORD    # the default
//	  format: tag                     # or referrers
//	  recordKeys: [keys/arm64-runner.pub]
type Sign struct {
	// Key is a cosign private key: a file relative to polyarch.yaml, or
	// env://VAR (the PEM in an environment variable, a CI secret). KMS
	// references (awskms://, gcpkms://, azurekms://, hashivault://) are
	// recognised and refused: polyarch links no KMS client.
	Key string `yaml:"key"`
	// PasswordEnv names the environment variable holding the key's
	// password. Default COSIGN_PASSWORD, as cosign reads it.
	PasswordEnv string `yaml:"passwordEnv"`
	// Format is where signatures go: "tag" (cosign's sha256-<digest>.sig
	// tags, what cosign v2 verifies without extra flags; the default) or
	// "referrers" (OCI 1.1 referrers holding sigstore bundles).
	Format string `yaml:"format"`
	// Evidence attaches an SBOM and a provenance statement to every child;
	// default true.
	Evidence *bool `yaml:"evidence"`
	// RecordKeys are public keys whose signed test records a merge job
	// (polyarch publish) accepts, besides Key's own: one per CI runner that
	// signs with a key of its own. Files relative to polyarch.yaml, or env://VAR.
	RecordKeys []string `yaml:"recordKeys"`
	// Keyless is sigstore's keyless signing (an OIDC identity, a Fulcio
	// certificate, a Rekor entry). It is part of the schema so that a
	// config can name it, but polyarch does not implement it: a release
	// with keyless set is refused before it builds anything.
	Keyless *Keyless `yaml:"keyless"`
}

// Keyless names the services of keyless signing.
type Keyless struct {
	// OIDCIssuer issues the identity token; default https://oauth2.sigstore.dev/auth.
	OIDCIssuer string `yaml:"oidcIssuer"`
	// Fulcio issues the signing certificate; default https://fulcio.sigstore.dev.
	Fulcio string `yaml:"fulcio"`
	// Rekor is the transparency log; default https://rekor.sigstore.dev.
	Rekor string `yaml:"rekor"`
}

// DefaultPasswordEnv is Sign.PasswordEnv's default.
const DefaultPasswordEnv = "COSIGN_PASSWORD"

// SignFormat is the parsed format (validated by Parse).
func (s *Sign) SignFormat() sign.Format {
	f, _ := sign.ParseFormat(s.Format)
	return f
}

// WithEvidence reports whether SBOMs and provenance are attached.
func (s *Sign) WithEvidence() bool { return s.Evidence == nil || *s.Evidence }

// PasswordVar is the environment variable of the key's password.
func (s *Sign) PasswordVar() string {
	if s.PasswordEnv == "" {
		return DefaultPasswordEnv
	}
	return s.PasswordEnv
}

// KeyRef is Key with a file resolved against the config's directory.
func (c *Config) KeyRef(ref string) string {
	if ref == "" || strings.Contains(ref, "://") || sign.IsKMS(ref) {
		return ref
	}
	return c.Path(ref)
}

// validateSign checks the sign: section.
func (c *Config) validateSign(s *Sign, add func(path, format string, args ...any)) {
	if s == nil {
		return
	}
	switch {
	case s.Key == "" && s.Keyless == nil:
		add("sign.key", "missing: a cosign key file (polyarch sign --generate-key makes one) or env://VAR")
	case s.Key != "" && s.Keyless != nil:
		add("sign.keyless", "give key or keyless, not both")
	case sign.IsKMS(s.Key):
		add("sign.key", "%v", &sign.KMSError{Ref: s.Key})
	case strings.HasPrefix(s.Key, "env://"):
		if strings.TrimPrefix(s.Key, "env://") == "" {
			add("sign.key", "env:// names no variable")
		}
	case s.Key != "":
		if st, err := os.Stat(c.Path(s.Key)); err != nil || st.IsDir() {
			add("sign.key", "%s is not a file", c.Path(s.Key))
		}
	}
	if _, err := sign.ParseFormat(s.Format); err != nil {
		add("sign.format", "%v", err)
	}
	if strings.ContainsAny(s.PasswordEnv, "=$ ") {
		add("sign.passwordEnv", "%q: an environment variable's name, without $", s.PasswordEnv)
	}
	for i, k := range s.RecordKeys {
		p := fmt.Sprintf("sign.recordKeys[%d]", i)
		switch {
		case sign.IsKMS(k):
			add(p, "%v", &sign.KMSError{Ref: k})
		case strings.HasPrefix(k, "env://"):
		default:
			if _, err := sign.LoadPublicKey(c.Path(k)); err != nil {
				add(p, "%v", err)
			}
		}
	}
	if k := s.Keyless; k != nil {
		for _, f := range []struct{ name, v string }{{"oidcIssuer", k.OIDCIssuer}, {"fulcio", k.Fulcio}, {"rekor", k.Rekor}} {
			if f.v == "" {
				continue
			}
			if u, err := url.Parse(f.v); err != nil || u.Scheme != "https" || u.Host == "" {
				add("sign.keyless."+f.name, "%q: want an https:// URL", f.v)
			}
		}
	}
}

// ErrKeyless is why a release with sign.keyless is refused.
type ErrKeyless struct {
	At      string
	Keyless Keyless
}

func (e *ErrKeyless) Error() string {
	k := e.Keyless.withDefaults()
	return fmt.Sprintf("%s: keyless signing (an identity token from %s, a certificate from %s, an entry in %s) is not implemented by polyarch, and needs those services reachable: sign with sign.key (a cosign key file or env://VAR), or run cosign sign after polyarch publish",
		e.At, k.OIDCIssuer, k.Fulcio, k.Rekor)
}

func (k Keyless) withDefaults() Keyless {
	if k.OIDCIssuer == "" {
		k.OIDCIssuer = "https://oauth2.sigstore.dev/auth"
	}
	if k.Fulcio == "" {
		k.Fulcio = "https://fulcio.sigstore.dev"
	}
	if k.Rekor == "" {
		k.Rekor = "https://rekor.sigstore.dev"
	}
	return k
}

// SignRefusal is the error a command that signs gives before doing any
// work when the sign: section cannot be honoured (keyless); nil otherwise.
func (c *Config) SignRefusal() error {
	if c.Sign == nil || c.Sign.Keyless == nil {
		return nil
	}
	return &ErrKeyless{At: c.At("sign.keyless"), Keyless: *c.Sign.Keyless}
}
