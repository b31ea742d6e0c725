// Package e2e runs the polyarch binary as a user would and checks what it did
// with independent clients: crane, regctl and skopeo.
package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/polyarch/polyarch/internal/testutil"
)

func TestRegistryServeWithIndependentClients(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	regctl := testutil.Tool(t, "regctl")
	skopeo := testutil.Tool(t, "skopeo")
	srv := startServe(t)
	host := srv.host

	// A multi-arch index assembled by crane from per-arch images: the
	// registry must accept the index once its children are in the repository.
	for _, arch := range []string{"amd64", "arm64", "arm/v7"} {
		ref := fmt.Sprintf("%s/org/agent:%s", host, strings.ReplaceAll(arch, "/", ""))
		run(t, crane, "--insecure", "mutate", "--set-platform", "linux/"+arch, "--tag", ref, pushRandom(t, crane, host+"/org/agent:base-"+strings.ReplaceAll(arch, "/", "")))
	}
	run(t, crane, "--insecure", "index", "append",
		"-m", host+"/org/agent:amd64", "-m", host+"/org/agent:arm64", "-m", host+"/org/agent:armv7",
		"-t", host+"/org/agent:v1.4")

	// skopeo resolves the index as an arm64 host would.
	out := run(t, skopeo, "inspect", "--tls-verify=false", "--override-os", "linux", "--override-arch", "arm64", "docker://"+host+"/org/agent:v1.4")
	var inspected struct {
		Architecture string
		Layers       []string
	}
	if err := json.Unmarshal([]byte(out), &inspected); err != nil {
		t.Fatalf("skopeo inspect output: %v\n%s", err, out)
	}
	var arm64Manifest struct{ Layers []struct{ Digest string } }
	if err := json.Unmarshal([]byte(run(t, crane, "--insecure", "manifest", host+"/org/agent:arm64")), &arm64Manifest); err != nil {
		t.Fatal(err)
	}
	if inspected.Architecture != "arm64" || len(inspected.Layers) != 1 || inspected.Layers[0] != arm64Manifest.Layers[0].Digest {
		t.Errorf("skopeo --override-arch arm64 got %s with layers %v, want the arm64 image's layer %s", inspected.Architecture, inspected.Layers, arm64Manifest.Layers[0].Digest)
	}

	// regctl pushes an SBOM referring to the index and lists it through the
	// referrers API.
	regctlEnv := regctlConfig(t, regctl, host, "", "")
	sbom := filepath.Join(t.TempDir(), "sbom.json")
	os.WriteFile(sbom, []byte(`{"spdxVersion":"SPDX-2.3"}`), 0o644)
	runEnv(t, regctlEnv, regctl, "artifact", "put", "--subject", host+"/org/agent:v1.4",
		"--artifact-type", "application/spdx+json", "--file", sbom, "--file-media-type", "application/spdx+json")
	list := runEnv(t, regctlEnv, regctl, "artifact", "list", host+"/org/agent:v1.4", "--format", "{{json .Descriptors}}")
	var refs []struct {
		ArtifactType string `json:"artifactType"`
		Digest       string `json:"digest"`
	}
	if err := json.Unmarshal([]byte(list), &refs); err != nil {
		t.Fatalf("regctl artifact list: %v\n%s", err, list)
	}
	if len(refs) != 1 || refs[0].ArtifactType != "application/spdx+json" {
		t.Errorf("referrers seen by regctl = %+v, want one application/spdx+json", refs)
	}
	// The referrers API answered, not regctl's tag-schema fallback.
	if strings.Contains(run(t, crane, "--insecure", "ls", host+"/org/agent"), "sha256-") {
		t.Error("regctl created a referrers fallback tag: the registry's referrers API was not used")
	}

	// SIGTERM stops it cleanly.
	if code := srv.stop(t); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0\n%s", code, srv.stderr.String())
	}
	if !strings.Contains(srv.stderr.String(), "polyarch registry stopped") {
		t.Errorf("no shutdown message in:\n%s", srv.stderr.String())
	}
	// Request log lines: method, path, status.
	if !strings.Contains(srv.stderr.String(), "PUT /v2/org/agent/manifests/v1.4 201") {
		t.Errorf("request log lacks the index PUT:\n%s", srv.stderr.String())
	}
}

// TestRegistryCatalogAndTags lists what the registry holds with crane and
// regctl, whole and page by page.
func TestRegistryCatalogAndTags(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	regctl := testutil.Tool(t, "regctl")
	srv := startServe(t)
	host := srv.host
	repos := []string{"alpha/one", "beta", "gamma/deep/three", "org/agent"}
	for _, r := range repos {
		pushRandom(t, crane, host+"/"+r+":v1")
	}
	tags := []string{"latest", "v1", "v2", "v3"}
	for _, tag := range []string{"v2", "v3", "latest"} {
		run(t, crane, "--insecure", "tag", host+"/org/agent:v1", tag)
	}
	lines := func(s string) []string { return strings.Fields(s) }
	check := func(what string, got, want []string) {
		t.Helper()
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}

	check("crane catalog", lines(run(t, crane, "--insecure", "catalog", host)), repos)
	check("crane ls", lines(run(t, crane, "--insecure", "ls", host+"/org/agent")), tags)

	env := regctlConfig(t, regctl, host, "", "")
	check("regctl repo ls", lines(runEnv(t, env, regctl, "repo", "ls", host)), repos)
	check("regctl repo ls --limit 2", lines(runEnv(t, env, regctl, "repo", "ls", "--limit", "2", host)), repos[:2])
	check("regctl repo ls --last beta --limit 100", lines(runEnv(t, env, regctl, "repo", "ls", "--last", "beta", "--limit", "100", host)), repos[2:])
	check("regctl tag ls", lines(runEnv(t, env, regctl, "tag", "ls", host+"/org/agent")), tags)
	check("regctl tag ls --limit 2", lines(runEnv(t, env, regctl, "tag", "ls", "--limit", "2", host+"/org/agent")), tags[:2])
	check("regctl tag ls --last v1", lines(runEnv(t, env, regctl, "tag", "ls", "--last", "v1", host+"/org/agent")), tags[2:])
	srv.stop(t)
}

// TestRegistryGCPurgesStaleUploads: the data of a push abandoned a day ago is
// reclaimed by 'registry gc'; an upload started just now is left alone.
func TestRegistryGCPurgesStaleUploads(t *testing.T) {
	bin := polyarchBinary(t)
	root := t.TempDir()
	srv := startServe(t, "--root", root)
	uploadsDir := filepath.Join(root, "docker/registry/v2/repositories/org/app/_uploads")
	var ids []string
	for range 2 {
		resp, err := http.Post("http://"+srv.host+"/v2/org/app/blobs/uploads/", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ids = append(ids, resp.Header.Get("Docker-Upload-UUID"))
	}
	srv.stop(t)
	stale, fresh := filepath.Join(uploadsDir, ids[0]), filepath.Join(uploadsDir, ids[1])
	if err := os.WriteFile(filepath.Join(stale, "startedat"), []byte(time.Now().Add(-25*time.Hour).UTC().Format(time.RFC3339)), 0o644); err != nil {
		t.Fatalf("backdating upload %s: %v", ids[0], err)
	}

	out, code := runCode(t, bin, "registry", "gc", "--root", root)
	if code != 0 || !strings.Contains(out, "unfinished uploads older than 24h0m0s deleted: 1") {
		t.Fatalf("registry gc: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the upload started 25h ago is still on disk after gc")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the upload started just now was deleted: %v", err)
	}
	if out, code := runCode(t, bin, "registry", "gc", "--root", root, "--uploads-older-than", "-1h"); code != 2 || !strings.Contains(out, "--uploads-older-than -1h0m0s") {
		t.Errorf("negative --uploads-older-than: exit %d\n%s", code, out)
	}
}

// pushRandom pushes a small random image with crane and returns its reference.
func pushRandom(t *testing.T, crane, ref string) string {
	t.Helper()
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer.tar")
	writeTar(t, layer, map[string]string{"hello.txt": ref})
	run(t, crane, "--insecure", "append", "--new_layer", layer, "--new_tag", ref, "--oci-empty-base")
	return ref
}

func TestRegistryServeAuth(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	regctl := testutil.Tool(t, "regctl")
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(htpasswd, []byte("release:"+string(hash)+"\n"), 0o600)
	srv := startServe(t, "--htpasswd", htpasswd)
	host := srv.host

	// Anonymous push and pull: refused with 401.
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer.tar")
	writeTar(t, layer, map[string]string{"a": "b"})
	out, err := runErr(nil, crane, "--insecure", "append", "--new_layer", layer, "--new_tag", host+"/org/private:1", "--oci-empty-base")
	if err == nil || !strings.Contains(out, "401") && !strings.Contains(out, "UNAUTHORIZED") {
		t.Fatalf("anonymous push: err %v, output:\n%s\nwant 401", err, out)
	}
	resp, err := http.Get("http://" + host + "/v2/org/private/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous pull: %d, want 401", resp.StatusCode)
	}

	// With credentials, regctl pushes and crane pulls.
	env := regctlConfig(t, regctl, host, "release", "s3cret")
	home := t.TempDir()
	craneEnv := append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	runEnv(t, craneEnv, crane, "auth", "login", host, "-u", "release", "-p", "s3cret")
	runEnv(t, craneEnv, crane, "--insecure", "append", "--new_layer", layer, "--new_tag", host+"/org/private:1", "--oci-empty-base")
	runEnv(t, env, regctl, "manifest", "head", host+"/org/private:1")
	srv.stop(t)
}

func TestCLIErrorsAndExitCodes(t *testing.T) {
	bin := polyarchBinary(t)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	os.WriteFile(htpasswd, []byte("release:"+string(hash)+"\n"), 0o600)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"registry", "serve", "--bogus"}, 2, "unknown flag: --bogus"},
		{"unknown command", []string{"nosuchcommand"}, 2, `unknown command "nosuchcommand"`},
		{"public address without auth", []string{"registry", "serve", "--addr", "0.0.0.0:0", "--root", t.TempDir()}, 1, "0.0.0.0:0: refusing to serve a registry without authentication"},
		{"passwords in clear on a public address", []string{"registry", "serve", "--addr", "0.0.0.0:0", "--htpasswd", htpasswd, "--root", t.TempDir()}, 1, "0.0.0.0:0: refusing authentication without TLS"},
		{"missing htpasswd file", []string{"registry", "serve", "--htpasswd", "/nonexistent/htpasswd", "--root", t.TempDir()}, 1, "/nonexistent/htpasswd"},
		{"tls cert without key", []string{"registry", "serve", "--tls-cert", "c.pem", "--root", t.TempDir()}, 2, "--tls-cert and --tls-key go together"},
		{"bad config", []string{"registry", "serve", "--config", writeConfig(t, "version: 0.1\nstorage: [\n")}, 1, "registry config"},
		{"s3 without the build tag", []string{"registry", "serve", "--config", writeConfig(t, "version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n    bucket: b\n")}, 1, `storage driver "s3" is not built into this polyarch: build it with -tags s3`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCode(t, bin, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("polyarch %v: exit %d, output:\n%s\nwant exit %d and %q", tc.args, code, out, tc.code, tc.want)
			}
			if !strings.HasPrefix(out, "polyarch: ") {
				t.Errorf("error is not one 'polyarch: ...' line:\n%s", out)
			}
		})
	}
	out, code := runCode(t, bin, "registry", "serve", "--help")
	for _, flag := range []string{"--addr", "--root", "--config", "--htpasswd", "--tls-cert", "--tls-key", "--read-only", "--insecure-public"} {
		if !strings.Contains(out, flag) {
			t.Errorf("serve --help does not explain %s", flag)
		}
	}
	if code != 0 {
		t.Errorf("--help exit %d", code)
	}
}

func writeConfig(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "config.yml")
	os.WriteFile(p, []byte(s), 0o600)
	return p
}

// regctlConfig points regctl at a private config that speaks plain HTTP to host.
func regctlConfig(t *testing.T, regctl, host, user, pass string) []string {
	t.Helper()
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "REGCTL_CONFIG="+filepath.Join(home, "regctl.json"))
	// With auth required, 'set' warns that its ping got 401, yet saves the setting.
	if out, err := runErr(env, regctl, "registry", "set", host, "--tls", "disabled"); err != nil && user == "" {
		t.Fatalf("regctl registry set: %v\n%s", err, out)
	}
	if user != "" {
		runEnv(t, env, regctl, "registry", "login", host, "-u", user, "-p", pass)
	}
	return env
}

type served struct {
	host   string
	cmd    interface{ Wait() error }
	stderr *syncBuffer
	pid    int
	done   chan int
}

// startServe runs 'polyarch registry serve' on a free loopback port.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	bin := polyarchBinary(t)
	port := freePort(t)
	host := fmt.Sprintf("127.0.0.1:%d", port)
	s := start(t, bin, append([]string{"registry", "serve", "--addr", host, "--root", t.TempDir()}, args...)...)
	s.host = host
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry did not come up on %s:\n%s", host, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func (s *served) stop(t *testing.T) int {
	t.Helper()
	syscall.Kill(s.pid, syscall.SIGTERM)
	select {
	case code := <-s.done:
		return code
	case <-time.After(40 * time.Second):
		t.Fatal("polyarch registry serve did not stop after SIGTERM")
		return -1
	}
}
