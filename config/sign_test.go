package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/sign"
)

const signImages = `
images:
  - {name: app, context: app, platforms: [linux/amd64]}
`

func TestSignIsRead(t *testing.T) {
	p := project(t, `
sign:
  key: keys/cosign.key
  format: referrers
  evidence: false
  recordKeys: [keys/runner.pub, env://RUNNER_KEY]
`+signImages, "app/Dockerfile", "keys/cosign.key")
	_, pub, err := sign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(filepath.Dir(p), "keys", "runner.pub"), pub, 0o644)
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sign
	if s.SignFormat() != sign.ReferrersFormat || s.WithEvidence() || s.PasswordVar() != "COSIGN_PASSWORD" {
		t.Errorf("sign: %+v", s)
	}
	if got := c.KeyRef(s.Key); got != filepath.Join(filepath.Dir(p), "keys", "cosign.key") {
		t.Errorf("key resolves to %s", got)
	}
	if got := c.KeyRef("env://K"); got != "env://K" {
		t.Errorf("env:// key resolves to %s", got)
	}
	if c.SignRefusal() != nil {
		t.Errorf("a key is refused: %v", c.SignRefusal())
	}
}

func TestSignErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"no key", "sign: {format: tag}\n", []string{"polyarch.yaml:2: sign.key: missing"}},
		{"missing file", "sign:\n  key: nope.key\n", []string{"polyarch.yaml:3: sign.key:", "nope.key is not a file"}},
		{"format", "sign:\n  key: env://K\n  format: sidecar\n", []string{"polyarch.yaml:4: sign.format:", `"sidecar"`}},
		{"kms", "sign:\n  key: awskms:///alias/release\n", []string{"polyarch.yaml:3: sign.key:", "KMS"}},
		{"both", "sign:\n  key: env://K\n  keyless: {}\n", []string{"polyarch.yaml:4: sign.keyless: give key or keyless, not both"}},
		{"record key", "sign:\n  key: env://K\n  recordKeys: [missing.pub]\n", []string{"polyarch.yaml:4: sign.recordKeys[0]:", "missing.pub"}},
		{"keyless url", "sign:\n  keyless:\n    fulcio: http://fulcio.local\n", []string{"polyarch.yaml:4: sign.keyless.fulcio:", "https://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := project(t, "\n"+tc.yaml+signImages, "app/Dockerfile")
			_, err := config.Load(p)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestKeylessIsNamedAndRefused(t *testing.T) {
	p := project(t, `
sign:
  keyless:
    oidcIssuer: https://token.actions.githubusercontent.com
`+signImages, "app/Dockerfile")
	c, err := config.Load(p)
	if err != nil {
		t.Fatalf("keyless is part of the schema: %v", err)
	}
	err = c.SignRefusal()
	var kl *config.ErrKeyless
	if !errors.As(err, &kl) {
		t.Fatalf("SignRefusal() = %v, want *config.ErrKeyless", err)
	}
	for _, w := range []string{"polyarch.yaml:4: sign.keyless", "https://token.actions.githubusercontent.com", "https://fulcio.sigstore.dev", "sign.key"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal %q lacks %q", err, w)
		}
	}
}
