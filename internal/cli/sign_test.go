package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
)

func TestSignThenVerifySignatures(t *testing.T) {
	reg := testutil.NewRegistry(t)
	twoArch(t, reg.Host+"/org/app", "1")
	ref := reg.Host + "/org/app:1"
	dir := t.TempDir()
	prefix := filepath.Join(dir, "release")
	t.Setenv("COSIGN_PASSWORD", "s3cret")

	stdout, stderr, code := runCLI(t, "sign", "--generate-key", "--output-key-prefix", prefix)
	if code != cli.ExitOK || !strings.Contains(stdout, prefix+".key") {
		t.Fatalf("sign --generate-key: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, _, code := runCLI(t, "sign", "--generate-key", "--output-key-prefix", prefix); code != cli.ExitFailed {
		t.Errorf("sign --generate-key over an existing key: exit %d, want 1", code)
	}
	other := filepath.Join(dir, "other")
	if _, stderr, code := runCLI(t, "sign", "--generate-key", "--output-key-prefix", other); code != cli.ExitOK {
		t.Fatalf("second key: %s", stderr)
	}

	stdout, stderr, code = runCLI(t, "sign", ref, "--key", prefix+".key")
	for _, w := range []string{"linux/amd64", "linux/arm64", "signed"} {
		if code != cli.ExitOK || !strings.Contains(stdout, w) {
			t.Errorf("sign: exit %d, output lacks %q:\n%s%s", code, w, stdout, stderr)
		}
	}
	stdout, _, code = runCLI(t, "sign", ref, "--key", prefix+".key", "--json")
	var res struct {
		Signature string
		Children  []struct{ Signature, SBOM string }
	}
	if err := json.Unmarshal([]byte(stdout), &res); code != cli.ExitOK || err != nil || res.Signature != "unchanged" || len(res.Children) != 2 || res.Children[1].SBOM != "unchanged" {
		t.Errorf("sign again --json: exit %d, %v\n%s", code, err, stdout)
	}

	stdout, stderr, code = runCLI(t, "verify", ref, "--signatures", "--key", prefix+".pub")
	if code != cli.ExitOK || !strings.Contains(stdout, "0 problems") {
		t.Errorf("verify --signatures: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, "verify", ref, "--signatures", "--key", other+".pub")
	if code != cli.ExitFailed || !strings.Contains(stderr, "linux/arm64: signature: signed by another key") || !strings.Contains(stdout, "MISSING") {
		t.Errorf("verify --signatures with another key: exit %d\n%s%s", code, stdout, stderr)
	}
	// Either key will do.
	if _, stderr, code := runCLI(t, "verify", ref, "--signatures", "--key", other+".pub", "--key", prefix+".pub"); code != cli.ExitOK {
		t.Errorf("verify --signatures with two keys: exit %d\n%s", code, stderr)
	}

	t.Setenv("COSIGN_PASSWORD", "wrong")
	if _, stderr, code := runCLI(t, "sign", ref, "--key", prefix+".key"); code != cli.ExitFailed || !strings.Contains(stderr, "password") {
		t.Errorf("sign with a wrong password: exit %d\n%s", code, stderr)
	}
}

func TestSignUsage(t *testing.T) {
	key := filepath.Join(t.TempDir(), "k.key")
	os.WriteFile(key, []byte("x"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sign", "127.0.0.1:1/a:b"}, "--key: missing"},
		{[]string{"sign", "127.0.0.1:1/a:b", "--key", key, "--format", "sidecar"}, "--format"},
		{[]string{"sign"}, "takes 1 argument"},
		{[]string{"sign", "--generate-key", "127.0.0.1:1/a:b"}, "takes no REF"},
		{[]string{"sign", "127.0.0.1:1/a:b", "--key", key, "--password-env", "POLYARCH_TEST_UNSET_PASSWORD"}, "$POLYARCH_TEST_UNSET_PASSWORD is not set"},
		{[]string{"verify", "127.0.0.1:1/a:b", "--key", "k.pub"}, "--key: only with --signatures"},
		{[]string{"verify", "127.0.0.1:1/a:b", "--signatures"}, "--key cosign.pub"},
		{[]string{"verify", "127.0.0.1:1/a:b", "--signatures", "--key", "awskms:///k"}, "KMS"},
	} {
		_, stderr, code := runCLI(t, tc.args...)
		if code != cli.ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tc.args, code, tc.want, stderr)
		}
	}
}

// A sign: section polyarch cannot honour (keyless) is refused before
// anything is built or published, naming the line; so is a key whose
// password is not in the environment.
func TestReleaseAndPublishRefuseASignSectionTheyCannotHonour(t *testing.T) {
	reg := testutil.NewRegistry(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	write := func(sign string) string {
		p := filepath.Join(dir, "polyarch.yaml")
		os.WriteFile(p, []byte("registry: "+reg.Host+"\n"+sign+"images:\n  - {name: app, context: app, platforms: [linux/amd64], version: '1'}\n"), 0o644)
		return p
	}
	cfg := write("sign:\n  keyless: {}\n")
	for _, cmd := range []string{"release", "publish"} {
		_, stderr, code := runCLI(t, cmd, "-f", cfg)
		if code != cli.ExitFailed || !strings.Contains(stderr, "polyarch.yaml:3: sign.keyless") || !strings.Contains(stderr, "not implemented") {
			t.Errorf("%s with keyless: exit %d\n%s", cmd, code, stderr)
		}
	}
	key := filepath.Join(dir, "cosign.key")
	os.WriteFile(key, []byte("x"), 0o600)
	cfg = write("sign:\n  key: cosign.key\n  passwordEnv: POLYARCH_TEST_UNSET_PASSWORD\n")
	_, stderr, code := runCLI(t, "publish", "-f", cfg)
	if code != cli.ExitFailed || !strings.Contains(stderr, "$POLYARCH_TEST_UNSET_PASSWORD is not set") {
		t.Errorf("publish without the key's password: exit %d\n%s", code, stderr)
	}
}
