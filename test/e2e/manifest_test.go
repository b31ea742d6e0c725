package e2e

import (
	"archive/tar"
	"encoding/json"
	"github.com/polyarch/polyarch/internal/testutil"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pushArchImage pushes, with crane alone, an image whose only file arch.txt
// names its platform, with that platform in its config.
func pushArchImage(t *testing.T, crane, ref, plat string) {
	t.Helper()
	layer := filepath.Join(t.TempDir(), "layer.tar")
	writeTar(t, layer, map[string]string{"arch.txt": plat})
	run(t, crane, "--insecure", "append", "--new_layer", layer, "--new_tag", ref+"-base", "--oci-empty-base")
	run(t, crane, "--insecure", "mutate", "--set-platform", plat, "--tag", ref, ref+"-base")
}

// fileInExport returns a file's content from `crane export --platform`.
func fileInExport(t *testing.T, crane, ref, plat, file string) string {
	t.Helper()
	cmd := exec.Command(crane, "--insecure", "export", "--platform", plat, ref, "-")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in crane export --platform %s %s: %v", file, plat, ref, err)
		}
		if strings.TrimPrefix(h.Name, "./") == file {
			b, _ := io.ReadAll(tr)
			io.Copy(io.Discard, out)
			return string(b)
		}
	}
}

func TestManifestPushFromArgsCheckedByPeers(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	skopeo := testutil.Tool(t, "skopeo")
	regctl := testutil.Tool(t, "regctl")
	bin := polyarchBinary(t)
	srv := startServe(t)
	host := srv.host
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		arch := strings.Split(p, "/")[1]
		pushArchImage(t, crane, host+"/org/agent-"+arch+":v1.4", p)
	}

	out := run(t, bin, "manifest", "push", "from-args", "--platforms", "linux/amd64,linux/arm64,linux/arm/v7",
		"--template", host+"/org/agent-ARCH:v1.4", "--target", host+"/org/agent:v1.4", "--tags", "latest", "--json")
	var res struct {
		Digest    string
		Unchanged bool
		Children  []struct{ Platform, Digest, Transfer string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if len(res.Children) != 3 || res.Unchanged {
		t.Fatalf("publish result %s", out)
	}
	if d := strings.TrimSpace(run(t, crane, "--insecure", "digest", host+"/org/agent:latest")); d != res.Digest {
		t.Errorf("crane digest of :latest = %s, polyarch printed %s", d, res.Digest)
	}

	// What a host of each platform gets, seen by crane and skopeo.
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		if got := fileInExport(t, crane, host+"/org/agent:v1.4", p, "arch.txt"); got != p {
			t.Errorf("crane export --platform %s gives an image whose arch.txt says %q", p, got)
		}
	}
	layerOf := func(manifest string) string {
		var m struct{ Layers []struct{ Digest string } }
		if err := json.Unmarshal([]byte(manifest), &m); err != nil || len(m.Layers) == 0 {
			t.Fatalf("manifest without layers: %v\n%s", err, manifest)
		}
		return m.Layers[len(m.Layers)-1].Digest
	}
	armLayer := layerOf(run(t, crane, "--insecure", "manifest", host+"/org/agent-arm:v1.4"))
	sk := run(t, skopeo, "inspect", "--tls-verify=false", "--override-os", "linux", "--override-arch", "arm", "--override-variant", "v7", "docker://"+host+"/org/agent:v1.4")
	var inspected struct {
		Architecture string
		Layers       []string
	}
	json.Unmarshal([]byte(sk), &inspected)
	if inspected.Architecture != "arm" || len(inspected.Layers) == 0 || inspected.Layers[len(inspected.Layers)-1] != armLayer {
		t.Errorf("skopeo --override-arch arm --override-variant v7 got %s %v, want the arm image (layer %s)", inspected.Architecture, inspected.Layers, armLayer)
	}
	env := regctlConfig(t, regctl, host, "", "")
	if got := layerOf(runEnv(t, env, regctl, "manifest", "get", host+"/org/agent:v1.4", "--platform", "linux/arm/v7", "--format", "raw-body")); got != armLayer {
		t.Errorf("regctl --platform linux/arm/v7 resolves to layer %s, want %s", got, armLayer)
	}
	var top struct{ MediaType string }
	json.Unmarshal([]byte(runEnv(t, env, regctl, "manifest", "get", host+"/org/agent:v1.4", "--format", "raw-body")), &top)
	if top.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("regctl sees media type %q", top.MediaType)
	}

	// Annotations on the index and on one descriptor.
	run(t, bin, "manifest", "push", "from-args", "--platforms", "linux/amd64,linux/arm64",
		"--template", host+"/org/agent-ARCH:v1.4", "--target", host+"/org/agent:annotated",
		"--annotation", "org.opencontainers.image.source=https://example.com/agent", "--annotation", "linux/arm64:com.example.tested=yes")
	var annotated struct {
		Annotations map[string]string
		Manifests   []struct{ Annotations map[string]string }
	}
	json.Unmarshal([]byte(run(t, crane, "--insecure", "manifest", host+"/org/agent:annotated")), &annotated)
	if annotated.Annotations["org.opencontainers.image.source"] != "https://example.com/agent" || annotated.Manifests[1].Annotations["com.example.tested"] != "yes" || annotated.Manifests[0].Annotations["com.example.tested"] != "" {
		t.Errorf("annotations as crane sees them: %+v", annotated)
	}

	// Republishing is a no-op.
	out = run(t, bin, "manifest", "push", "from-args", "--platforms", "linux/amd64,linux/arm64,linux/arm/v7",
		"--template", host+"/org/agent-ARCH:v1.4", "--target", host+"/org/agent:v1.4", "--tags", "latest", "--json")
	if !strings.Contains(out, `"unchanged": true`) {
		t.Errorf("republish did not report unchanged:\n%s", out)
	}

	// resolve: an arm64 host gets the arm64 child.
	armDigest := strings.TrimSpace(run(t, crane, "--insecure", "digest", "--platform", "linux/arm64", host+"/org/agent:v1.4"))
	out = run(t, bin, "resolve", host+"/org/agent:v1.4", "--platform", "linux/aarch64")
	if !strings.Contains(out, armDigest) || !strings.Contains(out, "exact match") {
		t.Errorf("resolve --platform linux/aarch64:\n%s\nwant %s", out, armDigest)
	}
	out, code := runCode(t, bin, "resolve", host+"/org/agent:v1.4", "--platform", "linux/s390x")
	if code != 1 || !strings.Contains(out, "linux/s390x") || !strings.Contains(out, "gets nothing") {
		t.Errorf("resolve for a missing platform: exit %d\n%s", code, out)
	}

	// inspect and copy, checked by crane.
	out = run(t, bin, "inspect", host+"/org/agent:v1.4")
	for _, want := range []string{res.Digest, "linux/arm/v7", "layers     1"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	run(t, bin, "copy", host+"/org/agent:v1.4", host+"/mirror/agent:arm", "--platform", "linux/arm64,linux/arm/v7")
	var copied struct {
		Manifests []struct{ Platform struct{ Architecture string } }
	}
	json.Unmarshal([]byte(run(t, crane, "--insecure", "manifest", host+"/mirror/agent:arm")), &copied)
	if len(copied.Manifests) != 2 || copied.Manifests[0].Platform.Architecture != "arm64" {
		t.Errorf("copy --platform: crane sees %+v", copied)
	}
}

func TestManifestPushBadInput(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	bin := polyarchBinary(t)
	srv := startServe(t)
	host := srv.host
	pushArchImage(t, crane, host+"/org/a-amd64:1", "linux/amd64")
	spec := filepath.Join(t.TempDir(), "spec.yaml")
	writeFile(t, spec, "image: "+host+"/org/a:1\nmanifests:\n  - image: "+host+"/org/a-amd64:1\n    platform: {os: linux, architecture: amd64, varient: x}\n")

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown platform", []string{"manifest", "push", "from-args", "--platforms", "linux/amd64,linux/arm65", "--template", host + "/org/a-ARCH:1", "--target", host + "/org/a:1"}, 2, []string{`unknown architecture "arm65"`}},
		{"template without placeholder", []string{"manifest", "push", "from-args", "--platforms", "linux/amd64", "--template", host + "/org/a:1", "--target", host + "/org/a:1"}, 2, []string{"has no placeholder"}},
		{"missing children", []string{"manifest", "push", "from-args", "--platforms", "linux/amd64,linux/arm64,linux/s390x", "--template", host + "/org/a-ARCH:1", "--target", host + "/org/a:1"}, 1, []string{"2 required image(s) missing", "linux/arm64 (" + host + "/org/a-arm64:1)", "linux/s390x"}},
		{"unreachable registry", []string{"manifest", "push", "from-args", "--platforms", "linux/amd64", "--template", "127.0.0.1:1/org/a-ARCH:1", "--target", "127.0.0.1:1/org/a:1"}, 1, []string{"127.0.0.1:1/org/a-amd64:1", "connection refused"}},
		{"spec with a typo", []string{"manifest", "push", "from-spec", spec}, 1, []string{"spec.yaml: line 4", "varient"}},
		{"wrong platform stated", []string{"manifest", "push", "from-args", "--platforms", "linux/arm64", "--template", host + "/org/a-amd64:1{{/* ARCH */}}{{if .Arch}}{{end}}", "--target", host + "/org/a:1"}, 2, []string{"uses no platform field"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCode(t, bin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if _, code := runCode(t, crane, "--insecure", "digest", host+"/org/a:1"); code == 0 {
		t.Error("a failed publish left an index behind")
	}
}
