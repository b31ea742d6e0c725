package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/internal/testutil"
)

// polyarch copy and manifest push through registries that fail a fifth of
// their requests (500, 503, 429 with Retry-After, reset; before or after
// handling them) succeed with the default retries, and a publish that
// exits 0 leaves every tag naming its index.
func TestCopyAndPublishThroughFaults(t *testing.T) {
	// Its own registries and proxies, and most of its time waiting out
	// retries: it runs beside the other tests that wait.
	t.Parallel()
	bin := polyarchBinary(t)
	src, dst := testutil.NewRegistry(t), testutil.NewRegistry(t)
	plats := []string{"amd64", "arm64", "s390x", "ppc64le", "riscv64"}
	for _, arch := range plats {
		testutil.Push(t, src.Host+"/org/app-"+arch+":1", testutil.Image(t, "linux", arch, "", types.OCIManifestSchema1))
	}
	srcFaults := testutil.NewFaultProxy(t, src.Server.URL, testutil.FaultOptions{Rate: 0.2, Seed: 11, RetryAfter: "1"})
	dstFaults := testutil.NewFaultProxy(t, dst.Server.URL, testutil.FaultOptions{Rate: 0.2, Seed: 12, RetryAfter: "1"})

	began := time.Now()
	for i, repo := range []string{"a", "b"} {
		target := dstFaults.Host + "/pub" + repo + "/app:v1"
		out := run(t, bin, "manifest", "push", "from-args", "--platforms", "linux/amd64,linux/arm64,linux/s390x,linux/ppc64le,linux/riscv64",
			"--template", srcFaults.Host+"/org/app-ARCH:1", "--target", target, "--tags", "latest,stable")
		digest := strings.TrimSpace(out)
		for _, tag := range []string{"v1", "latest", "stable"} {
			d, err := remote.Head(testutil.Ref(t, dst.Host+"/pub"+repo+"/app:"+tag))
			if err != nil || d.Digest.String() != digest {
				t.Errorf("publish %d exited 0 and :%s names %v (%v), not %s", i, tag, d, err, digest)
			}
		}
		mirror := dstFaults.Host + "/copy" + repo + "/app:v1"
		if got := strings.TrimSpace(run(t, bin, "copy", dst.Host+"/pub"+repo+"/app:v1", mirror)); got != digest {
			t.Errorf("copy %d printed %s, want %s", i, got, digest)
		}
		// And across registries, both behind faults.
		if got := strings.TrimSpace(run(t, bin, "copy", dstFaults.Host+"/pub"+repo+"/app:v1", srcFaults.Host+"/back"+repo+"/app:v1")); got != digest {
			t.Errorf("copy %d back printed %s, want %s", i, got, digest)
		}
	}
	t.Logf("2 publishes and 4 copies in %s; faults injected: source %v, destination %v", time.Since(began).Round(time.Millisecond), srcFaults.Injected(), dstFaults.Injected())
	for blob, n := range dstFaults.Commits() {
		if n > 1 {
			t.Errorf("%s was uploaded %d times", blob, n)
		}
	}
}
