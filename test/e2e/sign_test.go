package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/sign"
)

// signKeys writes a key pair with polyarch sign --generate-key under dir
// (password in $COSIGN_PASSWORD, as cosign reads it) and returns its prefix.
func signKeys(t *testing.T, bin, dir, name string) string {
	t.Helper()
	prefix := filepath.Join(dir, name)
	run(t, bin, "sign", "--generate-key", "--output-key-prefix", prefix)
	return prefix
}

// indexChildren lists an index's platforms and child digests.
func indexChildren(t *testing.T, ref string) (v1.Hash, map[string]v1.Hash) {
	t.Helper()
	idx, err := remote.Index(testutil.Ref(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	out := map[string]v1.Hash{}
	for _, m := range im.Manifests {
		out[platform.Format(*m.Platform)] = m.Digest
	}
	return d, out
}

// cosignArgs are the flags cosign needs here: no transparency log, a
// plain-HTTP registry, and for sigstore bundles a trusted root (empty: the
// key is all that is trusted) instead of the TUF one it cannot fetch.
func cosignArgs(t *testing.T, format string) []string {
	args := []string{"--insecure-ignore-tlog=true", "--allow-http-registry", "--allow-insecure-registry"}
	if format == "referrers" {
		root := filepath.Join(t.TempDir(), "trusted_root.json")
		writeFile(t, root, `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
		args = append(args, "--new-bundle-format", "--trusted-root", root)
	}
	return args
}

// statements decodes the in-toto statements cosign verify-attestation
// prints (one DSSE envelope per line).
func statements(t *testing.T, out string) []map[string]json.RawMessage {
	t.Helper()
	var sts []map[string]json.RawMessage
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var env struct{ Payload string }
		if json.Unmarshal([]byte(line), &env) != nil || env.Payload == "" {
			continue
		}
		body, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatalf("cosign printed a payload that is not base64: %v", err)
		}
		var st map[string]json.RawMessage
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	return sts
}

// sbomBusybox is the SHA-256 an SPDX predicate gives ./bin/busybox.
func sbomBusybox(t *testing.T, pred json.RawMessage) string {
	t.Helper()
	var doc struct {
		Files []struct {
			FileName  string
			Checksums []struct{ Algorithm, ChecksumValue string }
		}
	}
	if err := json.Unmarshal(pred, &doc); err != nil {
		t.Fatal(err)
	}
	for _, f := range doc.Files {
		for _, c := range f.Checksums {
			if f.FileName == "./bin/busybox" && c.Algorithm == "SHA256" {
				return c.ChecksumValue
			}
		}
	}
	return ""
}

// The "done means": the real cosign verifies polyarch's signatures
// on the index and on each child, and finds each child's SBOM and
// provenance, in both formats, against the embedded registry and against
// plain distribution (no referrers API); each platform's SBOM lists that
// platform's busybox.
func TestCosignVerifiesWhatPolyarchSigns(t *testing.T) {
	bin := polyarchBinary(t)
	cosign := testutil.Tool(t, "cosign")
	t.Setenv("COSIGN_PASSWORD", "e2e-password")
	prefix := signKeys(t, bin, t.TempDir(), "release")

	// What each platform's bin/busybox is, from the fixture's root filesystems.
	busybox := map[string]string{}
	for _, a := range testutil.BusyboxArches {
		b, err := os.ReadFile(filepath.Join(testutil.BusyboxRootfs(t, a.Debian), "bin", "busybox"))
		if err != nil {
			t.Fatal(err)
		}
		busybox[platform.Format(a.Platform)] = fmt.Sprintf("%x", sha256.Sum256(b))
	}

	registries := map[string]string{"embedded": startServe(t, "--quiet").host, "plain": testutil.NewPlainRegistry(t)}
	for _, regName := range []string{"embedded", "plain"} {
		for _, format := range []string{"tag", "referrers"} {
			t.Run(regName+"/"+format, func(t *testing.T) {
				host := registries[regName]
				ref := testutil.Busybox(t, host)
				// Each format in its own repository, so that neither reads the other's.
				target := host + "/" + format + "/busybox:latest"
				run(t, bin, "copy", ref, target)
				out := run(t, bin, "sign", target, "--key", prefix+".key", "--format", format)
				if strings.Count(out, "signed") < 6 {
					t.Errorf("sign did not sign the index and five children:\n%s", out)
				}
				idx, kids := indexChildren(t, target)
				if len(kids) != 5 {
					t.Fatalf("%d children", len(kids))
				}
				repo := host + "/" + format + "/busybox"
				verify := append([]string{"verify", "--key", prefix + ".pub"}, cosignArgs(t, format)...)
				attest := append([]string{"verify-attestation", "--key", prefix + ".pub"}, cosignArgs(t, format)...)

				if out, err := runErr(nil, cosign, append(verify, repo+"@"+idx.String())...); err != nil {
					t.Errorf("cosign verify of the index: %v\n%s", err, out)
				}
				for p, d := range kids {
					child := repo + "@" + d.String()
					if out, err := runErr(nil, cosign, append(verify, child)...); err != nil {
						t.Errorf("cosign verify %s: %v\n%s", p, err, out)
					}
					out, err := runErr(nil, cosign, append(attest, "--type", "spdxjson", child)...)
					if err != nil {
						t.Errorf("cosign verify-attestation --type spdxjson %s: %v\n%s", p, err, out)
						continue
					}
					var found bool
					for _, st := range statements(t, out) {
						if string(st["predicateType"]) != `"https://spdx.dev/Document"` {
							continue
						}
						found = true
						if got := sbomBusybox(t, st["predicate"]); got != busybox[p] {
							t.Errorf("%s: the SBOM cosign found gives bin/busybox %s; the %s fixture's is %s", p, got, p, busybox[p])
						}
					}
					if !found {
						t.Errorf("%s: cosign printed no SPDX statement:\n%s", p, out)
					}
					out, err = runErr(nil, cosign, append(attest, "--type", "slsaprovenance1", child)...)
					if err != nil || !strings.Contains(out, "payload") {
						t.Errorf("cosign verify-attestation --type slsaprovenance1 %s: %v\n%s", p, err, out)
					}
				}
				if busybox["linux/arm64"] == busybox["linux/amd64"] {
					t.Fatal("the fixture's arm64 and amd64 busybox are the same file: the SBOM check proves nothing")
				}
				stdout, stderr, code := runSplit(t, bin, "verify", target, "--signatures", "--key", prefix+".pub")
				if code != 0 || !strings.Contains(stdout, "0 problems") {
					t.Errorf("polyarch verify --signatures: exit %d\n%s%s", code, stdout, stderr)
				}
			})
		}
	}
}

// The tampering tests: after signing, an SBOM attached to the wrong
// child, a child signed by another key (by cosign itself), and a child
// re-pushed with the index republished; each time polyarch verify
// --signatures exits 1 naming the platform, and only that platform.
func TestTamperedEvidenceIsNamed(t *testing.T) {
	bin := polyarchBinary(t)
	cosign := testutil.Tool(t, "cosign")
	crane := testutil.Tool(t, "crane")
	t.Setenv("COSIGN_PASSWORD", "e2e-password")
	dir := t.TempDir()
	prefix := signKeys(t, bin, dir, "release")
	other := signKeys(t, bin, dir, "other")
	host := startServe(t, "--quiet").host
	ref := testutil.Busybox(t, host)
	repo := host + "/base/busybox"
	run(t, bin, "sign", ref, "--key", prefix+".key")
	_, kids := indexChildren(t, ref)

	verify := func(named ...string) string {
		t.Helper()
		stdout, stderr, code := runSplit(t, bin, "verify", ref, "--signatures", "--key", prefix+".pub")
		if code != 1 {
			t.Fatalf("verify --signatures: exit %d, want 1\n%s%s", code, stdout, stderr)
		}
		for _, n := range named {
			if !strings.Contains(stderr, n) {
				t.Errorf("verify --signatures does not say %q:\n%s%s", n, stdout, stderr)
			}
		}
		return stderr
	}
	notNamed := func(stderr string, platforms ...string) {
		t.Helper()
		for _, p := range platforms {
			if strings.Contains(stderr, p+":") {
				t.Errorf("%s is named, yet its evidence is intact:\n%s", p, stderr)
			}
		}
	}

	// 1. The arm/v7 child's attestations copied over the ppc64le child's.
	tag := func(p, suffix string) string { return repo + ":sha256-" + kids[p].Hex + "." + suffix }
	run(t, crane, "--insecure", "copy", tag("linux/arm/v7", "att"), tag("linux/ppc64le", "att"))
	stderr := verify("linux/ppc64le: SBOM: SBOM about " + kids["linux/arm/v7"].String() + " (another image)")
	notNamed(stderr, "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x", "index")
	attest := append([]string{"verify-attestation", "--key", prefix + ".pub", "--type", "spdxjson"}, cosignArgs(t, "tag")...)
	if out, err := runErr(nil, cosign, append(attest, repo+"@"+kids["linux/ppc64le"].String())...); err == nil {
		t.Errorf("cosign verify-attestation accepts the arm/v7 SBOM on the ppc64le child:\n%s", out)
	}

	// 2. The amd64 child's signature replaced by one cosign makes with another key.
	run(t, crane, "--insecure", "delete", repo+"@"+strings.TrimSpace(run(t, crane, "--insecure", "digest", tag("linux/amd64", "sig"))))
	runEnv(t, append(os.Environ(), "COSIGN_PASSWORD=e2e-password"), cosign, "sign", "--key", other+".key", "--tlog-upload=false",
		"--allow-http-registry", "--allow-insecure-registry", "--yes", repo+"@"+kids["linux/amd64"].String())
	stderr = verify("linux/amd64: signature: signed by another key", "linux/ppc64le: SBOM")
	notNamed(stderr, "linux/arm64", "linux/arm/v7", "linux/s390x", "index")

	// 3. The arm64 child re-pushed (one more layer) and the index republished, nobody signing.
	armRef := testutil.Ref(t, repo+":arm64")
	img, err := remote.Image(armRef)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, tarLayer(t, "etc/motd", "rebuilt\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(armRef, img); err != nil {
		t.Fatal(err)
	}
	var sources []index.Source
	for _, a := range testutil.BusyboxArches {
		p := a.Platform
		sources = append(sources, index.Source{Ref: testutil.Ref(t, repo+":"+a.Debian), Platform: &p})
	}
	if _, err := index.Publish(context.Background(), index.Request{Target: testutil.Ref(t, ref), Sources: sources}); err != nil {
		t.Fatal(err)
	}
	stderr = verify("index: signature: not signed", "linux/arm64: signature: not signed", "linux/arm64: SBOM: no SBOM", "linux/arm64: provenance: no provenance")
	notNamed(stderr, "linux/arm/v7", "linux/s390x")
	if _, kids2 := indexChildren(t, ref); kids2["linux/arm64"] == kids["linux/arm64"] {
		t.Fatal("the arm64 child did not change: the test proves nothing")
	}
}

// tarLayer is a layer of one file.
func tarLayer(t *testing.T, path, content string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The "done means": polyarch publish with sign: refuses an unsigned
// or wrongly signed test record, naming the platform, and with every record
// signed by a configured key publishes and signs what it published.
func TestPublishWithSignTrustsOnlySignedRecords(t *testing.T) {
	bin := polyarchBinary(t)
	cosign := testutil.Tool(t, "cosign")
	t.Setenv("COSIGN_PASSWORD", "e2e-password")
	host := startServe(t, "--quiet").host
	proj := gitProject(t, map[string]string{
		"app/Dockerfile": "FROM scratch\n",
		"polyarch.yaml": "registry: " + host + "\nsign:\n  key: keys/release.key\n  recordKeys: [keys/runner.pub]\nimages:\n  - name: app\n    repository: org/app\n" +
			"    context: app\n    platforms: [linux/amd64, linux/arm64]\n    archRef: \"org/app:{{.Version}}-{{.Arch}}\"\n    version: \"1.0\"\n",
	})
	keys := filepath.Join(proj, "keys")
	os.MkdirAll(keys, 0o755)
	release, runner, stranger := signKeys(t, bin, keys, "release"), signKeys(t, bin, keys, "runner"), signKeys(t, bin, keys, "stranger")
	cfgFile := filepath.Join(proj, "polyarch.yaml")
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := pipeline.TestSpec(cfg, &cfg.Images[0])
	if err != nil {
		t.Fatal(err)
	}
	git := pipeline.ReadGit(proj)
	load := func(prefix string) *pipeline.Signing {
		k, err := sign.LoadKey(prefix+".key", []byte("e2e-password"))
		if err != nil {
			t.Fatal(err)
		}
		return &pipeline.Signing{Key: k}
	}
	// What each runner pushes: its image, built from this commit, and its test record.
	records := map[string]*pipeline.TestRecord{}
	for _, arch := range []string{"amd64", "arm64"} {
		img := testutil.Image(t, "linux", arch, "", types.OCIManifestSchema1)
		img = mutate.Annotations(img, git.Annotations("1.0")).(v1.Image)
		ref := host + "/org/app:1.0-" + arch
		d := testutil.Push(t, ref, img)
		records[arch] = &pipeline.TestRecord{Digest: d.String(), Platform: "linux/" + arch, SpecDigest: pipeline.SpecDigest(spec), Passed: true,
			Node: "runner-" + arch, Native: true, Commit: git.Commit, Version: "1.0",
			Results: []imagetest.Result{{Platform: "linux/" + arch, Kind: "command", Name: "uname -m", Passed: true}}}
	}
	record := func(arch string, s *pipeline.Signing) {
		t.Helper()
		rec := *records[arch]
		rec.Time = time.Time{}
		if err := pipeline.WriteSignedTestRecord(context.Background(), testutil.Ref(t, host+"/org/app").Context(), &rec, s); err != nil {
			t.Fatal(err)
		}
	}
	record("amd64", load(runner))
	record("arm64", nil)

	publish := func(want int, says ...string) {
		t.Helper()
		stdout, stderr, code := runSplit(t, bin, "publish", "-f", cfgFile)
		if code != want {
			t.Fatalf("publish: exit %d, want %d\n%s%s", code, want, stdout, stderr)
		}
		for _, s := range says {
			if !strings.Contains(stdout+stderr, s) {
				t.Errorf("publish does not say %q:\n%s%s", s, stdout, stderr)
			}
		}
	}
	publish(1, "linux/arm64: not tested", "signed by a key of sign:")
	record("arm64", load(stranger))
	publish(1, "linux/arm64: not tested", "signed by a key of sign:")
	record("arm64", load(runner))
	publish(0)

	stdout, stderr, code := runSplit(t, bin, "verify", host+"/org/app:1.0", "--signatures", "--key", release+".pub")
	if code != 0 || !strings.Contains(stdout, "tests passed") {
		t.Errorf("verify --signatures of the published index: exit %d\n%s%s", code, stdout, stderr)
	}
	idx, _ := indexChildren(t, host+"/org/app:1.0")
	verify := append([]string{"verify", "--key", release + ".pub"}, cosignArgs(t, "tag")...)
	if out, err := runErr(nil, cosign, append(verify, host+"/org/app@"+idx.String())...); err != nil {
		t.Errorf("cosign verify of the published index: %v\n%s", err, out)
	}
}
