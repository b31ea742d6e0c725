package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/internal/cli"
	"github.com/polyarch/polyarch/internal/testutil"
)

func TestManifestPushFromArgs(t *testing.T) {
	reg := testutil.NewRegistry(t)
	twoArch(t, reg.Host+"/org/app", "1")
	args := func(target string, extra ...string) []string {
		return append([]string{"manifest", "push", "from-args", "--platforms", "linux/amd64,linux/arm64",
			"--template", reg.Host + "/org/app-ARCH:1", "--target", reg.Host + target}, extra...)
	}

	stdout, stderr, code := runCLI(t, args("/org/agent:1", "--tags", "latest",
		"--annotation", "org.opencontainers.image.source=https://example.com/agent",
		"--annotation", "linux/arm64:com.example.tested=yes")...)
	if code != cli.ExitOK || !strings.HasPrefix(stderr, "published "+reg.Host+"/org/agent:1 (OCI index, 2 manifests)") || !strings.Contains(stderr, "tag "+reg.Host+"/org/agent:latest") {
		t.Fatalf("publish: exit %d\n%s", code, stderr)
	}
	digest := strings.TrimSpace(stdout)
	ii, err := remote.Index(testutil.Ref(t, reg.Host+"/org/agent:latest"))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := ii.IndexManifest()
	if d, _ := ii.Digest(); d.String() != digest {
		t.Errorf(":latest is %s, publish printed %s", d, digest)
	}
	if im.Annotations["org.opencontainers.image.source"] != "https://example.com/agent" ||
		im.Manifests[1].Annotations["com.example.tested"] != "yes" || im.Manifests[0].Annotations["com.example.tested"] != "" {
		t.Errorf("annotations of the index %v and its children %v, %v", im.Annotations, im.Manifests[0].Annotations, im.Manifests[1].Annotations)
	}

	_, stderr, code = runCLI(t, args("/org/agent:1", "--tags", "latest",
		"--annotation", "org.opencontainers.image.source=https://example.com/agent",
		"--annotation", "linux/arm64:com.example.tested=yes")...)
	if code != cli.ExitOK || !strings.HasPrefix(stderr, "unchanged ") {
		t.Errorf("republish: exit %d\n%s", code, stderr)
	}
	_, stderr, code = runCLI(t, args("/org/dry:1", "--dry-run")...)
	if _, err := remote.Head(testutil.Ref(t, reg.Host+"/org/dry:1")); code != cli.ExitOK || !strings.HasPrefix(stderr, "would publish ") || err == nil {
		t.Errorf("--dry-run: exit %d, the target exists: %v\n%s", code, err == nil, stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"annotation without a value", args("/org/b:1", "--annotation", "novalue"), cli.ExitUsage, `--annotation "novalue": want KEY=VALUE`},
		{"annotation of a platform not published", args("/org/b:1", "--annotation", "linux/s390x:k=v"), cli.ExitUsage, "linux/s390x is not one of the platforms published (the platforms published are linux/amd64, linux/arm64)"},
		{"annotation of an unknown platform", args("/org/b:1", "--annotation", "linux/arm65:k=v"), cli.ExitUsage, `--annotation "linux/arm65:k=v"`},
		{"bad type", args("/org/b:1", "--type", "zip"), cli.ExitUsage, `--type "zip": want oci or docker`},
		{"flags missing", []string{"manifest", "push", "from-args", "--platforms", "linux/amd64"}, cli.ExitUsage, "--platforms, --template and --target are all required"},
		{"a child missing", []string{"manifest", "push", "from-args", "--platforms", "linux/amd64,linux/s390x", "--template", reg.Host + "/org/app-ARCH:1", "--target", reg.Host + "/org/b:1"}, cli.ExitFailed, "1 required image(s) missing, nothing published: linux/s390x (" + reg.Host + "/org/app-s390x:1): not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d and %q:\n%s", code, tc.code, tc.want, stderr)
			}
		})
	}
	if _, err := remote.Head(testutil.Ref(t, reg.Host+"/org/b:1")); err == nil {
		t.Error("a failed publish wrote its target")
	}
}

func TestManifestPushFromSpec(t *testing.T) {
	reg := testutil.NewRegistry(t)
	twoArch(t, reg.Host+"/org/app", "1")
	spec := filepath.Join(t.TempDir(), "spec.yaml")
	body := "image: " + reg.Host + "/org/agent:1\ntags: [latest]\nannotations: {from.spec: \"1\"}\nmanifests:\n" +
		"  - image: " + reg.Host + "/org/app-amd64:1\n    platform: {os: linux, architecture: amd64}\n" +
		"  - image: " + reg.Host + "/org/app-arm64:1\n    platform: {os: linux, architecture: arm64}\n    annotations: {from.spec: child}\n"
	if err := os.WriteFile(spec, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, "manifest", "push", "from-spec", spec, "--annotation", "from.spec=2", "--annotation", "linux/arm64:from.spec=flag")
	if code != cli.ExitOK {
		t.Fatalf("from-spec: exit %d\n%s", code, stderr)
	}
	ii, err := remote.Index(testutil.Ref(t, reg.Host+"/org/agent:latest"))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := ii.IndexManifest()
	if im.Annotations["from.spec"] != "2" || im.Manifests[1].Annotations["from.spec"] != "flag" {
		t.Errorf("the flags do not win over the spec: index %v, arm64 %v", im.Annotations, im.Manifests[1].Annotations)
	}
	if _, _, code := runCLI(t, "manifest", "push", "from-spec"); code != cli.ExitUsage {
		t.Errorf("from-spec without FILE: exit %d, want 2", code)
	}
	if _, stderr, code := runCLI(t, "manifest", "push", "from-spec", filepath.Join(t.TempDir(), "none.yaml")); code != cli.ExitFailed || !strings.Contains(stderr, "none.yaml") {
		t.Errorf("from-spec of a missing file: exit %d\n%s", code, stderr)
	}
}
