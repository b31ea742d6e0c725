package verify_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/registry"
	"github.com/polyarch/polyarch/verify"
)

// goodImage is an image for platform p: its own binary, a script and a text
// file, in a gzip layer.
func goodImage(t *testing.T, p string) v1.Image {
	return image(t, mustPlatform(t, p), layer(t, "gzip",
		file{"usr/bin/app", nativeELF(t, p)},
		file{"usr/bin/run.sh", []byte("#!/bin/sh\nexec /usr/bin/app \"$@\"\n")},
		file{"etc/app.conf", []byte("listen = 0.0.0.0:8080\n")},
	))
}

func TestCorrectIndexHasNoFindings(t *testing.T) {
	reg := testutil.NewRegistry(t)
	plats := []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
	var entries []entry
	for _, p := range plats {
		entries = append(entries, entry{img: goodImage(t, p), platform: ptr(mustPlatform(t, p))})
	}
	ref := pushIndex(t, reg, "org/agent:v1", index(entries...))

	rep, err := verify.Verify(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Errorf("Err() = %v, want nil; findings: %v", err, rep.Findings())
	}
	if len(rep.Children) != 3 {
		t.Fatalf("got %d children, want 3", len(rep.Children))
	}
	for i, c := range rep.Children {
		if c.Platform != plats[i] || c.ConfigPlatform != plats[i] || c.Layers != 1 || c.Files != 3 || c.ELFFiles != 1 || len(c.Findings) != 0 {
			t.Errorf("child %d = %+v, want %s with 1 layer, 3 files, 1 ELF file and no findings", i, c, plats[i])
		}
	}
	if !rep.MediaType.IsIndex() || rep.Reference != ref.String() {
		t.Errorf("report is for %s (%s), want the index %s", rep.Reference, rep.MediaType, ref)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if got, want := text.String(), "verified 3 platforms, 3 layers, 3 ELF files: 0 findings\n"; got != want {
		t.Errorf("text report = %q, want %q", got, want)
	}
}

func TestForeignBinaryIsReportedWithItsPathAndLayer(t *testing.T) {
	reg := testutil.NewRegistry(t)
	base := layer(t, "gzip", file{"usr/lib/libc.so.6", arm64ELF(t)})
	app := layer(t, "gzip", file{"usr/bin/ok", arm64ELF(t)}, file{"usr/local/bin/agent", amd64ELF(t)})
	arm64 := image(t, mustPlatform(t, "linux/arm64"), base, app)
	ref := pushIndex(t, reg, "org/agent:v1", index(
		entry{img: goodImage(t, "linux/amd64"), platform: ptr(mustPlatform(t, "linux/amd64"))},
		entry{img: arm64, platform: ptr(mustPlatform(t, "linux/arm64"))},
	))

	rep, err := verify.Verify(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	want := verify.Finding{
		Kind: verify.KindELF, Platform: "linux/arm64", Manifest: digest(t, arm64), Layer: digest(t, app),
		Path: "usr/local/bin/agent", Message: "ELF 64-bit LSB x86-64, expected aarch64",
	}
	if got := rep.Findings(); len(got) != 1 || got[0] != want {
		t.Fatalf("findings = %+v, want exactly %+v", got, want)
	}
	if c := rep.Children[1]; c.Layers != 2 || c.ELFFiles != 3 {
		t.Errorf("arm64 child scanned %d layers, %d ELF files; want 2 and 3", c.Layers, c.ELFFiles)
	}

	err = rep.Err()
	if !errors.Is(err, verify.ErrFindings) || err.Error() != ref.String()+": 1 finding" {
		t.Errorf("Err() = %v, want %q wrapping ErrFindings", err, ref.String()+": 1 finding")
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	lines := strings.Split(strings.TrimSpace(text.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "usr/local/bin/agent") || !strings.Contains(lines[0], digest(t, app).String()) ||
		!strings.Contains(lines[0], "ELF 64-bit LSB x86-64, expected aarch64") || lines[1] != "verified 2 platforms, 3 layers, 4 ELF files: 1 finding" {
		t.Errorf("text report:\n%s\nwant the finding's path, layer and message on line 1 and the summary on line 2", text.String())
	}

	var js bytes.Buffer
	rep.WriteJSON(&js)
	var decoded struct {
		Digest   string
		Children []struct {
			Platform string
			Findings []struct{ Kind, Platform, Manifest, Layer, Path, Message string }
		}
		Summary struct{ Platforms, Layers, ELFFiles, Findings int }
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, js.String())
	}
	f := decoded.Children[1].Findings
	if decoded.Digest != rep.Digest.String() || len(f) != 1 || f[0].Kind != "elf-architecture" || f[0].Layer != digest(t, app).String() ||
		f[0].Manifest != digest(t, arm64).String() || f[0].Path != "usr/local/bin/agent" || decoded.Summary.Findings != 1 || decoded.Summary.ELFFiles != 4 {
		t.Errorf("JSON report does not carry the finding:\n%s", js.String())
	}
}

func TestPlatformLints(t *testing.T) {
	type child struct {
		descriptor string // as the index says it
		config     string // as the image config says it
		binary     string // the platform of the binary inside
	}
	tests := []struct {
		name     string
		children []child
		want     []verify.Kind // in report order
	}{
		{"config amd64 under an arm64 descriptor", []child{{"linux/arm64", "linux/amd64", "linux/arm64"}}, []verify.Kind{verify.KindMismatch}},
		{"config and binaries amd64 under arm64", []child{{"linux/arm64", "linux/amd64", "linux/amd64"}}, []verify.Kind{verify.KindMismatch, verify.KindELF}},
		{"config aarch64 is a spelling, not a mismatch", []child{{"linux/arm64", "linux/aarch64", "linux/arm64"}}, []verify.Kind{verify.KindSpelling}},
		{"descriptor x86_64", []child{{"linux/x86_64", "linux/amd64", "linux/amd64"}}, []verify.Kind{verify.KindSpelling}},
		{"arm without a variant", []child{{"linux/arm", "linux/arm", "linux/arm/v7"}}, []verify.Kind{verify.KindArmVariant}},
		{"arm/v6 whose config has no variant", []child{{"linux/arm/v6", "linux/arm", "linux/arm/v6"}}, nil},
		{"config arm/v6 under arm/v7", []child{{"linux/arm/v7", "linux/arm/v6", "linux/arm/v7"}}, []verify.Kind{verify.KindMismatch}},
		{"arm64/v8 is how the image-spec spells it", []child{{"linux/arm64/v8", "linux/arm64", "linux/arm64"}}, nil},
		{"unknown architecture", []child{{"linux/x86", "linux/x86", "linux/amd64"}}, []verify.Kind{verify.KindUnknownPlatform, verify.KindUnknownPlatform}},
		{"duplicate platforms", []child{{"linux/amd64", "linux/amd64", "linux/amd64"}, {"linux/arm64", "linux/arm64", "linux/arm64"}, {"linux/aarch64", "linux/arm64", "linux/arm64"}},
			[]verify.Kind{verify.KindSpelling, verify.KindDuplicate}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := testutil.NewRegistry(t)
			var entries []entry
			for i, c := range tc.children {
				img := image(t, mustPlatform(t, c.config), layer(t, "gzip",
					file{"usr/bin/app", nativeELF(t, c.binary)}, file{fmt.Sprintf("etc/id-%d", i), []byte(c.descriptor)}))
				entries = append(entries, entry{img: img, platform: ptr(mustPlatform(t, c.descriptor))})
			}
			ref := pushIndex(t, reg, "org/lint:v1", index(entries...))
			rep, err := verify.Verify(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			var got []verify.Kind
			for _, f := range rep.Findings() {
				got = append(got, f.Kind)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("finding kinds = %v, want %v; findings:\n%s", got, tc.want, findingLines(rep))
			}
			if (rep.Err() == nil) != (len(tc.want) == 0) {
				t.Errorf("Err() = %v with %d findings", rep.Err(), len(tc.want))
			}
		})
	}
}

func findingLines(rep *verify.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings() {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

func TestDuplicateNamesTheFirstChild(t *testing.T) {
	reg := testutil.NewRegistry(t)
	first := goodImage(t, "linux/arm/v7")
	second := image(t, mustPlatform(t, "linux/arm/v7"), layer(t, "gzip", file{"usr/bin/other", armELF(t)}))
	ref := pushIndex(t, reg, "org/dup:v1", index(
		entry{img: first, platform: ptr(mustPlatform(t, "linux/arm/v7"))},
		entry{img: second, platform: ptr(mustPlatform(t, "linux/armhf"))},
	))
	rep, err := verify.Verify(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	var dup *verify.Finding
	for _, f := range rep.Findings() {
		if f.Kind == verify.KindDuplicate {
			dup = &f
		}
	}
	if dup == nil || dup.Manifest != digest(t, second) || dup.Platform != "linux/armhf" || !strings.Contains(dup.Message, digest(t, first).String()) {
		t.Errorf("duplicate finding = %+v, want one on the armhf child naming %s\n%s", dup, digest(t, first), findingLines(rep))
	}
}

func TestMissingChild(t *testing.T) {
	reg := testutil.NewRegistry(t)
	amd64, arm64 := goodImage(t, "linux/amd64"), goodImage(t, "linux/arm64")
	ref := pushIndex(t, reg, "org/agent:v1", index(
		entry{img: amd64, platform: ptr(mustPlatform(t, "linux/amd64"))},
		entry{img: arm64, platform: ptr(mustPlatform(t, "linux/arm64"))},
	))
	// The registry refuses an index whose children are missing, so the child
	// goes after the index is in.
	if err := remote.Delete(ref.Context().Digest(digest(t, arm64).String())); err != nil {
		t.Fatal(err)
	}

	rep, err := verify.Verify(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Findings()
	if len(got) != 1 || got[0].Kind != verify.KindMissingChild || got[0].Platform != "linux/arm64" || got[0].Manifest != digest(t, arm64) {
		t.Fatalf("findings:\n%swant one missing-child on linux/arm64 %s", findingLines(rep), digest(t, arm64))
	}
	if c := rep.Children[0]; c.Layers != 1 || c.ELFFiles != 1 {
		t.Errorf("the amd64 child present was not scanned: %+v", c)
	}
	if c := rep.Children[1]; c.Layers != 0 || c.ConfigPlatform != "" {
		t.Errorf("the missing child = %+v, want nothing scanned", c)
	}
}

func TestLayerCompressions(t *testing.T) {
	for _, comp := range []string{"gzip", "zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			reg := testutil.NewRegistry(t)
			l := layer(t, comp, file{"usr/bin/ok", arm64ELF(t)}, file{"opt/x86/tool", amd64ELF(t)}, file{"README", []byte("hello")})
			if mt, _ := l.MediaType(); comp == "zstd" && mt != types.OCILayerZStd || comp == "none" && mt != types.OCIUncompressedLayer {
				t.Fatalf("layer media type %s for %s", mt, comp)
			}
			ref := pushImage(t, reg, "org/one:"+comp, image(t, mustPlatform(t, "linux/arm64"), l))
			rep, err := verify.Verify(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			got := rep.Findings()
			if len(got) != 1 || got[0].Path != "opt/x86/tool" || got[0].Layer != digest(t, l) || rep.Children[0].Files != 3 || rep.Children[0].ELFFiles != 2 {
				t.Errorf("%s layer: children %+v, want the x86-64 opt/x86/tool among 3 files, 2 ELF", comp, rep.Children)
			}
		})
	}
}

func TestSingleImageIsCheckedAgainstItsConfig(t *testing.T) {
	reg := testutil.NewRegistry(t)
	ref := pushImage(t, reg, "org/armv:v1", image(t, mustPlatform(t, "linux/arm"), layer(t, "gzip",
		file{"bin/busybox", armELF(t)}, file{"bin/x", amd64ELF(t)})))
	rep, err := verify.Verify(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.MediaType.IsImage() || len(rep.Children) != 1 || rep.Children[0].Platform != "linux/arm" {
		t.Fatalf("report = %+v, want the image itself as the one child", rep)
	}
	got := rep.Findings()
	if len(got) != 2 || got[0].Kind != verify.KindArmVariant || got[1].Kind != verify.KindELF || got[1].Path != "bin/x" ||
		got[1].Message != "ELF 64-bit LSB x86-64, expected ARM" {
		t.Errorf("findings:\n%swant arm-without-variant, then bin/x as x86-64 in an ARM image", findingLines(rep))
	}
}

func TestIgnore(t *testing.T) {
	reg := testutil.NewRegistry(t)
	ref := pushImage(t, reg, "org/go:v1", image(t, mustPlatform(t, "linux/arm64"), layer(t, "gzip",
		file{"usr/local/go/bin/go", arm64ELF(t)},
		file{"usr/local/go/src/debug/elf/testdata/go-relocation-test-gcc620-x86-64.obj", amd64ELF(t)},
		file{"usr/local/go/src/cmd/link/testdata/x86", amd64ELF(t)},
		file{"usr/bin/x86-tool", amd64ELF(t)},
	)))
	for _, tc := range []struct {
		globs     []string
		wantPaths []string
		ignored   int
	}{
		{nil, []string{"usr/local/go/src/debug/elf/testdata/go-relocation-test-gcc620-x86-64.obj", "usr/local/go/src/cmd/link/testdata/x86", "usr/bin/x86-tool"}, 0},
		{[]string{"usr/local/go/src/**/testdata"}, []string{"usr/bin/x86-tool"}, 2},
		{[]string{"/usr/local/go/src/*/*/testdata/*.obj", "./usr/bin/x86-*"}, []string{"usr/local/go/src/cmd/link/testdata/x86"}, 2},
		{[]string{"**/x86*"}, []string{"usr/local/go/src/debug/elf/testdata/go-relocation-test-gcc620-x86-64.obj"}, 2},
		{[]string{"usr/local"}, []string{"usr/bin/x86-tool"}, 3},
	} {
		t.Run(strings.Join(tc.globs, ","), func(t *testing.T) {
			rep, err := verify.Verify(context.Background(), ref, verify.WithIgnore(tc.globs...))
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range rep.Findings() {
				paths = append(paths, f.Path)
			}
			if fmt.Sprint(paths) != fmt.Sprint(tc.wantPaths) || rep.Children[0].Ignored != tc.ignored {
				t.Errorf("reported %v with %d ignored, want %v with %d", paths, rep.Children[0].Ignored, tc.wantPaths, tc.ignored)
			}
		})
	}
	if _, err := verify.Verify(context.Background(), ref, verify.WithIgnore("usr/[bin")); err == nil || !strings.Contains(err.Error(), "usr/[bin") {
		t.Errorf("a bad glob gave %v, want an error naming it", err)
	}
}

func TestAttestationsAreSkipped(t *testing.T) {
	reg := testutil.NewRegistry(t)
	amd64 := goodImage(t, "linux/amd64")
	// buildkit's attestation manifest: an in-toto statement, not a filesystem.
	att := image(t, v1.Platform{OS: "unknown", Architecture: "unknown"}, static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`), "application/vnd.in-toto+json"))
	ref := pushIndex(t, reg, "org/att:v1", index(
		entry{img: amd64, platform: ptr(mustPlatform(t, "linux/amd64"))},
		entry{img: att, platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}, annotations: map[string]string{
			"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": digest(t, amd64).String()}},
	))
	rep, err := verify.Verify(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Children) != 1 || rep.Attestations != 1 || rep.Err() != nil {
		t.Errorf("children %+v, %d attestations, err %v; want the amd64 child only, 1 attestation skipped, no findings", rep.Children, rep.Attestations, rep.Err())
	}
}

// countingTransport counts GETs per URL path.
type countingTransport struct {
	mu   sync.Mutex
	gets map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		c.mu.Lock()
		c.gets[r.URL.Path]++
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestSharedLayerIsReadOnceAndCheckedPerPlatform(t *testing.T) {
	reg := testutil.NewRegistry(t)
	// A layer both children carry, with an amd64 binary: wrong only for arm64.
	shared := layer(t, "gzip", file{"opt/plugins/x", amd64ELF(t)}, file{"usr/share/doc/README", []byte("docs")})
	amd64 := image(t, mustPlatform(t, "linux/amd64"), layer(t, "gzip", file{"usr/bin/app", amd64ELF(t)}), shared)
	arm64 := image(t, mustPlatform(t, "linux/arm64"), layer(t, "gzip", file{"usr/bin/app", arm64ELF(t)}), shared)
	ref := pushIndex(t, reg, "org/shared:v1", index(
		entry{img: amd64, platform: ptr(mustPlatform(t, "linux/amd64"))},
		entry{img: arm64, platform: ptr(mustPlatform(t, "linux/arm64"))},
	))

	ct := &countingTransport{gets: map[string]int{}}
	rep, err := verify.Verify(context.Background(), ref, verify.WithRemote(remote.WithTransport(ct)), verify.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Findings()
	if len(got) != 1 || got[0].Platform != "linux/arm64" || got[0].Path != "opt/plugins/x" || got[0].Layer != digest(t, shared) {
		t.Errorf("findings:\n%swant opt/plugins/x in the shared layer, for linux/arm64 only", findingLines(rep))
	}
	if rep.Summary.Layers != 4 {
		t.Errorf("summary counts %d layers, want 4 (2 per child)", rep.Summary.Layers)
	}
	if n := ct.gets["/v2/org/shared/blobs/"+digest(t, shared).String()]; n != 1 {
		t.Errorf("the shared layer was downloaded %d times, want 1 (GETs: %v)", n, ct.gets)
	}
}

func TestRegistryErrorsNameTheReference(t *testing.T) {
	reg := testutil.NewRegistry(t)
	missing := testutil.Ref(t, reg.Host+"/org/nothing:v1")
	if _, err := verify.Verify(context.Background(), missing); err == nil || !strings.Contains(err.Error(), missing.String()) || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("missing tag: err = %v, want one naming %s and MANIFEST_UNKNOWN", err, missing)
	}

	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	hash, _ := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	os.WriteFile(htpasswd, []byte("ci:"+string(hash)+"\n"), 0o600)
	locked := testutil.NewRegistry(t, registry.WithHtpasswd(htpasswd))
	denied := testutil.Ref(t, locked.Host+"/org/agent:v1")
	if _, err := verify.Verify(context.Background(), denied); err == nil || !strings.Contains(err.Error(), denied.String()) || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("registry with auth, no credentials: err = %v, want one naming %s and UNAUTHORIZED", err, denied)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	good := pushImage(t, reg, "org/agent:v1", goodImage(t, "linux/amd64"))
	if _, err := verify.Verify(ctx, good); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), good.String()) {
		t.Errorf("cancelled context: err = %v, want context.Canceled naming %s", err, good)
	}

	gone := testutil.NewRegistry(t)
	gone.Server.Close()
	unreachable := testutil.Ref(t, gone.Host+"/org/agent:v1")
	if _, err := verify.Verify(context.Background(), unreachable); err == nil || !strings.Contains(err.Error(), unreachable.String()) {
		t.Errorf("unreachable registry: err = %v, want one naming %s", err, unreachable)
	}
}

func TestCorruptLayerIsAnError(t *testing.T) {
	reg := testutil.NewRegistry(t)
	good := tarOf(t, file{"usr/bin/app", arm64ELF(t)})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	b := gz.Bytes()
	b[len(b)-8] ^= 0xff // the CRC-32 in gzip's trailer
	bad := static.NewLayer(b, types.OCILayer)
	ref := pushImage(t, reg, "org/corrupt:v1", image(t, mustPlatform(t, "linux/arm64"), bad))
	_, err := verify.Verify(context.Background(), ref)
	if err == nil || !strings.Contains(err.Error(), digest(t, bad).String()) || !strings.Contains(err.Error(), ref.String()) {
		t.Errorf("err = %v, want one naming %s and layer %s", err, ref, digest(t, bad))
	}
}
