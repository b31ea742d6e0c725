package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestVerifyExitCodes runs `polyarch verify` on indexes pushed to
// `polyarch registry serve`: 0 when every label is true, 1 with the report
// on stdout and one error line on stderr when one is not, 2 for a bad
// command line.
func TestVerifyExitCodes(t *testing.T) {
	bin := polyarchBinary(t)
	host := startServe(t, "--quiet").host

	amd64 := verifyImage(t, "amd64", elf.EM_X86_64, "usr/bin/agent")
	arm64 := verifyImage(t, "arm64", elf.EM_AARCH64, "usr/bin/agent")
	good := host + "/org/agent:v1"
	verifyPushIndex(t, good, amd64, arm64)
	// The arm64 image of this one ships the x86-64 build of its agent.
	wrong := verifyImage(t, "arm64", elf.EM_X86_64, "usr/bin/agent")
	bad := host + "/org/agent:v1-broken"
	verifyPushIndex(t, bad, amd64, wrong)
	wrongLayer, _ := wrong.Layers()
	layerDigest, _ := wrongLayer[0].Digest()

	stdout, stderr, code := runSplit(t, bin, "verify", good)
	if code != 0 || stdout != "verified 2 platforms, 2 layers, 2 ELF files: 0 findings\n" || stderr != "" {
		t.Errorf("verify %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0 and the summary line only", good, code, stdout, stderr)
	}

	stdout, stderr, code = runSplit(t, bin, "verify", bad)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], "linux/arm64 elf-architecture: usr/bin/agent: ELF 64-bit LSB x86-64, expected aarch64") ||
		!strings.Contains(lines[0], layerDigest.String()) || lines[1] != "verified 2 platforms, 2 layers, 2 ELF files: 1 finding" {
		t.Errorf("verify %s: exit %d, stdout:\n%s\nwant exit 1, the finding with its layer %s, then the summary", bad, code, stdout, layerDigest)
	}
	if stderr != "polyarch: "+bad+": 1 finding\n" {
		t.Errorf("verify %s: stderr %q, want one line naming the reference and the count", bad, stderr)
	}

	stdout, _, code = runSplit(t, bin, "verify", "--json", bad)
	var rep struct {
		Children []struct {
			Platform string
			Findings []struct{ Kind, Layer, Path string }
		}
		Summary struct{ Findings int }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, stdout)
	}
	if code != 1 || rep.Summary.Findings != 1 || len(rep.Children) != 2 || len(rep.Children[1].Findings) != 1 ||
		rep.Children[1].Findings[0].Path != "usr/bin/agent" || rep.Children[1].Findings[0].Layer != layerDigest.String() {
		t.Errorf("verify --json %s: exit %d, report:\n%s", bad, code, stdout)
	}

	if stdout, _, code = runSplit(t, bin, "verify", "--ignore", "usr/bin/*", bad); code != 0 || !strings.HasSuffix(stdout, ": 0 findings\n") {
		t.Errorf("verify --ignore 'usr/bin/*': exit %d, stdout:\n%s\nwant 0 findings", code, stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no reference", []string{"verify"}, 2, "takes 1 argument"},
		{"bad reference", []string{"verify", "Not A Ref"}, 2, "Not A Ref"},
		{"bad glob", []string{"verify", "--ignore", "usr/[bin", good}, 2, "usr/[bin"},
		{"zero jobs", []string{"verify", "--jobs", "0", good}, 2, "--jobs 0"},
		{"missing tag", []string{"verify", host + "/org/agent:nope"}, 1, host + "/org/agent:nope"},
		{"unreachable registry", []string{"verify", "127.0.0.1:1/org/agent:v1"}, 1, "127.0.0.1:1/org/agent:v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runSplit(t, bin, tc.args...)
			if code != tc.code || !strings.HasPrefix(stderr, "polyarch: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("polyarch %v: exit %d, stderr:\n%s\nwant exit %d and an error naming %q", tc.args, code, stderr, tc.code, tc.want)
			}
		})
	}
}

// runSplit runs a command and returns its stdout, stderr and exit status.
func runSplit(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// verifyImage is a linux/arch image whose one layer holds an ELF binary for
// machine at path.
func verifyImage(t *testing.T, arch string, machine elf.Machine, path string) v1.Image {
	t.Helper()
	var bin bytes.Buffer
	binary.Write(&bin, binary.LittleEndian, elf.Header64{
		Ident: [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:  uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64,
	})
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: path, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(bin.Len())})
	tw.Write(bin.Bytes())
	tw.Close()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), static.NewLayer(layer.Bytes(), types.OCIUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// verifyPushIndex pushes an OCI index of images, each under its config's platform.
func verifyPushIndex(t *testing.T, ref string, imgs ...v1.Image) {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cfg, _ := img.ConfigFile()
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cfg.Platform()}})
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}
