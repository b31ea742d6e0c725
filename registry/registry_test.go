package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"golang.org/x/crypto/bcrypt"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/registry"
)

// multiArchIndex builds a random image per platform and an index over them.
func multiArchIndex(t *testing.T, platforms ...v1.Platform) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		p := p
		img := testutil.Image(t, p.OS, p.Architecture, p.Variant, types.OCIManifestSchema1)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}
	armv7 = v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
)

func TestPushPullMultiArchIndex(t *testing.T) {
	reg := testutil.NewRegistry(t)
	idx := multiArchIndex(t, amd64, arm64, armv7)
	ref := testutil.Ref(t, reg.Host+"/org/agent:v1.4")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("pushing index: %v", err)
	}

	got, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("pulling index: %v", err)
	}
	if err := validate.Index(got); err != nil {
		t.Fatalf("pulled index does not validate (every blob re-hashed): %v", err)
	}
	want, _ := idx.Digest()
	if d, _ := got.Digest(); d != want {
		t.Errorf("pulled index digest %s, pushed %s", d, want)
	}
	im, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, m := range im.Manifests {
		plats = append(plats, m.Platform.String())
	}
	if strings.Join(plats, ",") != "linux/amd64,linux/arm64,linux/arm/v7" {
		t.Errorf("platforms = %v", plats)
	}

	// A pull by platform, as a host of that architecture does it.
	img, err := remote.Image(ref, remote.WithPlatform(arm64))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "arm64" {
		t.Errorf("arm64 pull got a %s image", cf.Architecture)
	}
}

func TestTwoRegistriesInOneProcess(t *testing.T) {
	a, b := testutil.NewRegistry(t), testutil.NewRegistry(t)
	img, _ := random.Image(100, 1)
	if err := remote.Write(testutil.Ref(t, a.Host+"/only/in-a:1"), img); err != nil {
		t.Fatal(err)
	}
	_, err := remote.Head(testutil.Ref(t, b.Host+"/only/in-a:1"))
	if terr := (*transport.Error)(nil); !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Fatalf("second registry sees the first one's image: %v", err)
	}
}

// artifact makes an OCI artifact manifest that refers to subject.
func artifact(t *testing.T, subject v1.Descriptor, artifactType string, annotations map[string]string) []byte {
	t.Helper()
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     string(types.OCIManifestSchema1),
		"artifactType":  artifactType,
		"config": map[string]any{
			"mediaType": "application/vnd.oci.empty.v1+json",
			"digest":    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
			"size":      2,
		},
		"layers": []any{map[string]any{
			"mediaType": "application/vnd.oci.empty.v1+json",
			"digest":    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
			"size":      2,
		}},
		"subject":     map[string]any{"mediaType": subject.MediaType, "digest": subject.Digest.String(), "size": subject.Size},
		"annotations": annotations,
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putRaw PUTs a manifest body and returns the response.
func putRaw(t *testing.T, client *http.Client, url, mediaType string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", mediaType)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestReferrersRoundTrip(t *testing.T) {
	reg := testutil.NewRegistry(t)
	repo := reg.Host + "/org/agent"
	img, _ := random.Image(512, 1)
	ref := testutil.Ref(t, repo+":v1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	subject, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	// The empty blob the artifacts use as config and layer.
	if err := remote.WriteLayer(testutil.Ref(t, repo+":x").Context(), static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")); err != nil {
		t.Fatal(err)
	}

	sig := artifact(t, *subject, "application/vnd.example.signature", map[string]string{"org.example.signer": "release-bot"})
	sbom := artifact(t, *subject, "application/spdx+json", nil)
	for _, body := range [][]byte{sig, sbom} {
		resp := putRaw(t, reg.Server.Client(), reg.Server.URL+"/v2/org/agent/manifests/"+sha(body), string(types.OCIManifestSchema1), body)
		if resp.StatusCode != http.StatusCreated {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("PUT referrer: %d %s", resp.StatusCode, b)
		}
		if got := resp.Header.Get("OCI-Subject"); got != subject.Digest.String() {
			t.Errorf("OCI-Subject = %q, want %s", got, subject.Digest)
		}
	}

	// A plain image PUT carries no OCI-Subject header.
	plain, _ := random.Image(10, 1)
	if err := remote.Write(testutil.Ref(t, repo+":plain"), plain); err != nil {
		t.Fatal(err)
	}

	// ggcr's client, as a user's tool would call the API.
	dref := testutil.Ref(t, repo+"@"+subject.Digest.String()).(name.Digest)
	idx, err := remote.Referrers(dref)
	if err != nil {
		t.Fatalf("listing referrers: %v", err)
	}
	im, _ := idx.IndexManifest()
	got := map[string]v1.Descriptor{}
	for _, d := range im.Manifests {
		got[d.Digest.String()] = d
	}
	if len(got) != 2 {
		t.Fatalf("referrers = %v, want the signature and the SBOM", im.Manifests)
	}
	if d := got[sha(sig)]; d.ArtifactType != "application/vnd.example.signature" || d.Annotations["org.example.signer"] != "release-bot" || d.Size != int64(len(sig)) || d.MediaType != types.OCIManifestSchema1 {
		t.Errorf("signature descriptor = %+v", d)
	}

	// artifactType filter, and the header saying it was applied.
	resp, err := reg.Server.Client().Get(reg.Server.URL + "/v2/org/agent/referrers/" + subject.Digest.String() + "?artifactType=application/spdx%2Bjson")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var filtered v1.IndexManifest
	if err := json.NewDecoder(resp.Body).Decode(&filtered); err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("OCI-Filters-Applied") != "artifactType" || len(filtered.Manifests) != 1 || filtered.Manifests[0].Digest.String() != sha(sbom) {
		t.Errorf("filtered referrers = %+v (OCI-Filters-Applied %q)", filtered.Manifests, resp.Header.Get("OCI-Filters-Applied"))
	}
	if ct := resp.Header.Get("Content-Type"); ct != string(types.OCIImageIndex) {
		t.Errorf("Content-Type = %q", ct)
	}

	// Deleting a referrer removes it from the list.
	sigDigest := testutil.Ref(t, repo+"@"+sha(sig))
	if err := remote.Delete(sigDigest); err != nil {
		t.Fatal(err)
	}
	idx, err = remote.Referrers(dref)
	if err != nil {
		t.Fatal(err)
	}
	im, _ = idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != sha(sbom) {
		t.Errorf("after deleting the signature, referrers = %v", im.Manifests)
	}

	// An unknown subject has an empty list, never a 404.
	resp2, err := reg.Server.Client().Get(reg.Server.URL + "/v2/org/agent/referrers/" + sha([]byte("nothing")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK || !strings.Contains(string(body), `"manifests":[]`) {
		t.Errorf("unknown subject: %d %s", resp2.StatusCode, body)
	}

	// A malformed digest is a 400 with DIGEST_INVALID.
	resp3, err := reg.Server.Client().Get(reg.Server.URL + "/v2/org/agent/referrers/sha256:nothex")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp3.Body)
	resp3.Body.Close()
	if resp3.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "DIGEST_INVALID") {
		t.Errorf("malformed digest: %d %s", resp3.StatusCode, body)
	}
}

func TestReferrersSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() *testutil.Registry { return testutil.NewRegistry(t, registry.WithRoot(dir)) }
	reg := start()
	img, _ := random.Image(512, 1)
	ref := testutil.Ref(t, reg.Host+"/a/b:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	subject, _ := remote.Head(ref)
	_ = remote.WriteLayer(ref.Context(), static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json"))
	body := artifact(t, *subject, "application/vnd.example.sbom", nil)
	if resp := putRaw(t, reg.Server.Client(), reg.Server.URL+"/v2/a/b/manifests/sbom", string(types.OCIManifestSchema1), body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	reg.Server.Close()

	reg2 := start()
	idx, err := remote.Referrers(testutil.Ref(t, reg2.Host+"/a/b@"+subject.Digest.String()).(name.Digest))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != sha(body) {
		t.Fatalf("after restart, referrers = %v", im.Manifests)
	}
}

// errorCode returns the first OCI error code of a failed ggcr call.
func errorCode(err error) (int, transport.ErrorCode) {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return 0, ""
	}
	if len(terr.Errors) == 0 {
		return terr.StatusCode, ""
	}
	return terr.StatusCode, terr.Errors[0].Code
}

func TestBadInputIsRefused(t *testing.T) {
	reg := testutil.NewRegistry(t)
	client := reg.Server.Client()
	base := reg.Server.URL + "/v2/org/bad"

	t.Run("blob with the wrong digest", func(t *testing.T) {
		content := []byte("the bytes actually sent")
		claimed := sha([]byte("some other bytes"))
		resp, err := client.Post(base+"/blobs/uploads/", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "http") {
			loc = reg.Server.URL + loc
		}
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		req, _ := http.NewRequest(http.MethodPut, loc+sep+"digest="+claimed, bytes.NewReader(content))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "DIGEST_INVALID") {
			t.Fatalf("wrong digest: %d %s, want 400 DIGEST_INVALID", resp.StatusCode, body)
		}
		for _, d := range []string{claimed, sha(content)} {
			r, err := client.Head(base + "/blobs/" + d)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != http.StatusNotFound {
				t.Errorf("HEAD blob %s = %d after a refused upload, want 404", d, r.StatusCode)
			}
		}
		// And no file under the blob store holds those bytes.
		assertNoStoredFileWith(t, filepath.Join(reg.Dir, "docker", "registry", "v2", "blobs"), content)
	})

	t.Run("malformed manifest", func(t *testing.T) {
		resp := putRaw(t, client, base+"/manifests/broken", string(types.OCIManifestSchema1), []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":`))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "MANIFEST_INVALID") {
			t.Fatalf("malformed manifest: %d %s, want 400 MANIFEST_INVALID", resp.StatusCode, body)
		}
	})

	t.Run("index whose children are missing", func(t *testing.T) {
		idx := multiArchIndex(t, amd64, arm64)
		raw, _ := idx.RawManifest()
		resp := putRaw(t, client, base+"/manifests/orphan", string(types.OCIImageIndex), raw)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 400 || !strings.Contains(string(body), "MANIFEST_BLOB_UNKNOWN") && !strings.Contains(string(body), "MANIFEST_UNKNOWN") {
			t.Fatalf("index with missing children: %d %s, want it refused", resp.StatusCode, body)
		}
		_, err := remote.Head(testutil.Ref(t, reg.Host+"/org/bad:orphan"))
		if code, _ := errorCode(err); code != http.StatusNotFound {
			t.Errorf("tag of the refused index: %v, want 404", err)
		}
	})

	t.Run("manifest referring to a missing layer", func(t *testing.T) {
		img, _ := random.Image(100, 1)
		raw, _ := img.RawManifest()
		resp := putRaw(t, client, base+"/manifests/nolayers", string(types.DockerManifestSchema2), raw)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "MANIFEST_BLOB_UNKNOWN") {
			t.Fatalf("manifest with missing blobs: %d %s", resp.StatusCode, body)
		}
	})
}

func assertNoStoredFileWith(t *testing.T, dir string, content []byte) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Equal(b, content) {
			t.Errorf("refused content stored at %s", p)
		}
		return nil
	})
}

func writeHtpasswd(t *testing.T, user, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("%s:%s\n", user, h)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthRequiredWhenConfigured(t *testing.T) {
	reg := testutil.NewRegistry(t, registry.WithHtpasswd(writeHtpasswd(t, "release", "s3cret")))
	ref := testutil.Ref(t, reg.Host+"/org/agent:v1")
	img, _ := random.Image(256, 1)

	err := remote.Write(ref, img)
	if code, _ := errorCode(err); code != http.StatusUnauthorized {
		t.Fatalf("anonymous push: %v, want 401", err)
	}
	err = remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "release", Password: "wrong"}))
	if code, _ := errorCode(err); code != http.StatusUnauthorized {
		t.Fatalf("push with a wrong password: %v, want 401", err)
	}
	good := remote.WithAuth(&authn.Basic{Username: "release", Password: "s3cret"})
	if err := remote.Write(ref, img, good); err != nil {
		t.Fatalf("authenticated push: %v", err)
	}
	_, err = remote.Image(ref)
	if code, _ := errorCode(err); code != http.StatusUnauthorized {
		t.Fatalf("anonymous pull: %v, want 401", err)
	}
	if _, err := remote.Image(ref, good); err != nil {
		t.Fatalf("authenticated pull: %v", err)
	}

	// The referrers endpoint, served by polyarch's layer, is guarded too.
	d, _ := img.Digest()
	resp, err := reg.Server.Client().Get(reg.Server.URL + "/v2/org/agent/referrers/" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("anonymous referrers: %d %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if _, err := remote.Referrers(testutil.Ref(t, reg.Host+"/org/agent@"+d.String()).(name.Digest), good); err != nil {
		t.Errorf("authenticated referrers: %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	rw := testutil.NewRegistry(t, registry.WithRoot(dir))
	img, _ := random.Image(256, 1)
	if err := remote.Write(testutil.Ref(t, rw.Host+"/org/ro:1"), img); err != nil {
		t.Fatal(err)
	}
	ro := testutil.NewRegistry(t, registry.WithRoot(dir), registry.WithReadOnly(true))
	if _, err := remote.Image(testutil.Ref(t, ro.Host+"/org/ro:1")); err != nil {
		t.Fatalf("pull from read-only registry: %v", err)
	}
	other, _ := random.Image(256, 1)
	err := remote.Write(testutil.Ref(t, ro.Host+"/org/ro:2"), other)
	if code, _ := errorCode(err); code != http.StatusMethodNotAllowed {
		t.Fatalf("push to read-only registry: %v, want 405", err)
	}
	if err := remote.Delete(testutil.Ref(t, ro.Host+"/org/ro:1")); err == nil {
		t.Fatal("delete on a read-only registry succeeded")
	}
}

func TestRefusesPublicAddressWithoutAuth(t *testing.T) {
	reg, err := registry.New(context.Background(), registry.WithRoot(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		if _, err := reg.Listen(addr); !errors.Is(err, registry.ErrPublicWithoutAuth) {
			t.Errorf("Listen(%q) = %v, want ErrPublicWithoutAuth", addr, err)
		}
	}
	ln, err := reg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("loopback: %v", err)
	}
	ln.Close()

	open, err := registry.New(context.Background(), registry.WithRoot(t.TempDir()), registry.WithInsecurePublic(true))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	ln, err = open.Listen("0.0.0.0:0")
	if err != nil {
		t.Fatalf("--insecure-public: %v", err)
	}
	ln.Close()
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost:5000": true, "[::1]:5000": true, "127.3.4.5:1": true,
		"0.0.0.0:5000": false, ":5000": false, "10.0.0.1:5000": false, "example.com:5000": false,
	} {
		if got := registry.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		opts []registry.Option
		want string
	}{
		{"missing htpasswd", []registry.Option{registry.WithHtpasswd(filepath.Join(dir, "nope"))}, "htpasswd file"},
		{"cert without key", []registry.Option{registry.WithTLS(filepath.Join(dir, "c.pem"), "")}, "both a certificate and a key"},
		{"unknown storage driver", []registry.Option{registry.WithConfigFile(writeFile(t, "version: 0.1\nstorage:\n  nosuchdriver: {}\n"))}, "nosuchdriver"},
		{"invalid YAML", []registry.Option{registry.WithConfigFile(writeFile(t, "version: 0.1\nstorage: [\n"))}, "registry config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := registry.New(context.Background(), tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRefusesPasswordsInClearOnPublicAddress(t *testing.T) {
	htpasswd := writeHtpasswd(t, "release", "s3cret")
	reg, err := registry.New(context.Background(), registry.WithRoot(t.TempDir()), registry.WithHtpasswd(htpasswd))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		ln, err := reg.Listen(addr)
		if err == nil {
			ln.Close()
		}
		if !errors.Is(err, registry.ErrPasswordsInClear) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "--tls-cert") {
			t.Errorf("Listen(%q) with htpasswd and no TLS = %v, want ErrPasswordsInClear naming the address and --tls-cert", addr, err)
		}
	}
	ln, err := reg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("htpasswd on loopback without TLS: %v", err)
	}
	ln.Close()

	cert, key, _ := selfSigned(t)
	tlsReg, err := registry.New(context.Background(), registry.WithRoot(t.TempDir()), registry.WithHtpasswd(htpasswd), registry.WithTLS(cert, key))
	if err != nil {
		t.Fatal(err)
	}
	defer tlsReg.Close()
	if ln, err = tlsReg.Listen("0.0.0.0:0"); err != nil {
		t.Fatalf("htpasswd with TLS on a public address: %v", err)
	}
	ln.Close()

	accepted, err := registry.New(context.Background(), registry.WithRoot(t.TempDir()), registry.WithHtpasswd(htpasswd), registry.WithInsecurePublic(true))
	if err != nil {
		t.Fatal(err)
	}
	defer accepted.Close()
	if ln, err = accepted.Listen("0.0.0.0:0"); err != nil {
		t.Fatalf("htpasswd without TLS, --insecure-public: %v", err)
	}
	ln.Close()
}

func TestOverlongRepositoryNameIsNameInvalid(t *testing.T) {
	reg := testutil.NewRegistry(t)
	client := reg.Server.Client()
	// 256 characters, one over the spec's 255: distribution took "org" for a
	// domain and accepted the first; it answered 500 for the second.
	for _, long := range []string{"org/" + strings.Repeat("a", 252), strings.Repeat("c", 256)} {
		paths := map[string]string{
			"start upload": http.MethodPost + " /v2/" + long + "/blobs/uploads/",
			"head blob":    http.MethodHead + " /v2/" + long + "/blobs/" + sha([]byte("x")),
			"get manifest": http.MethodGet + " /v2/" + long + "/manifests/v1",
			"put manifest": http.MethodPut + " /v2/" + long + "/manifests/v1",
			"list tags":    http.MethodGet + " /v2/" + long + "/tags/list",
			"referrers":    http.MethodGet + " /v2/" + long + "/referrers/" + sha([]byte("x")),
		}
		for what, mp := range paths {
			checkNameInvalid(t, client, reg.Server.URL, what+" "+long[:4], mp)
		}
	}

	// ggcr refuses such a name before sending it, so push one that is just
	// allowed: 255 characters still work.
	ok := "org/" + strings.Repeat("b", 251)
	img, _ := random.Image(64, 1)
	if err := remote.Write(testutil.Ref(t, reg.Host+"/"+ok+":v1"), img); err != nil {
		t.Fatalf("pushing to a %d-character name: %v", len(ok), err)
	}
}

// checkNameInvalid sends "METHOD PATH" and wants 400 NAME_INVALID.
func checkNameInvalid(t *testing.T, client *http.Client, base, what, methodPath string) {
	t.Helper()
	t.Run(what, func(t *testing.T) {
		method, path, _ := strings.Cut(methodPath, " ")
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", string(types.OCIManifestSchema1))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || method != http.MethodHead && !strings.Contains(string(body), "NAME_INVALID") {
			t.Errorf("%s %s: %d %s, want 400 NAME_INVALID", method, path, resp.StatusCode, body)
		}
	})
}
