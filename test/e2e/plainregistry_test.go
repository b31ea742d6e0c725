package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/polyarch/polyarch/internal/testutil"
)

// startPlainRegistry runs distribution's own registry binary (v3.1.2, as
// it ships: no referrers API) on a free loopback port.
func startPlainRegistry(t *testing.T) *served {
	t.Helper()
	bin := testutil.Tool(t, "registry")
	host := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := writeConfig(t, "version: 0.1\nlog: {level: info}\nstorage: {filesystem: {rootdirectory: "+t.TempDir()+"}, delete: {enabled: true}}\n"+
		"http: {addr: "+host+", secret: polyarch-e2e}\n")
	s := start(t, bin, "serve", cfg)
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
	if resp, err := http.Get("http://" + host + "/v2/base/referrers/sha256:" + strings.Repeat("0", 64)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("this registry answers the referrers API: the test proves nothing")
		}
	}
	return s
}

// The "done means": release and a rerun against plain distribution
// v3.1.2, which has no referrers API: the tests are recorded (under the
// referrers tag schema), found again and not rerun, publish works, and the
// user is told once which mode the registry is in.
func TestReleaseAgainstPlainDistribution(t *testing.T) {
	crane := testutil.Tool(t, "crane")
	srv := startPlainRegistry(t)
	base := testutil.Busybox(t, srv.host)
	proj := gitProject(t, map[string]string{
		"app/Dockerfile": "FROM " + base + "\nRUN uname -m > /arch\n",
		"polyarch.yaml": "registry: " + srv.host + "\nimages:\n  - name: app\n    repository: org/app\n    context: app\n" +
			"    platforms: [linux/amd64, linux/arm64]\n    archRef: \"org/app:{{.Version}}-{{.Arch}}\"\n    version: \"1.0\"\n" +
			"    test:\n      commands:\n        - {name: arch file, command: [cat, /arch]}\n",
	})
	mode := regexp.MustCompile(`(?m)^registry ` + regexp.QuoteMeta(srv.host) + ` has no OCI referrers API: test records are kept under the referrers tag schema \(sha256-<digest> tags\)$`)

	out, code, rep, _ := release(t, proj)
	if code != 0 || !rep.OK || rep.Units[0].Status != "published" {
		t.Fatalf("release: exit %d, %+v\n%s", code, rep.Units, out)
	}
	if n := len(mode.FindAllString(out, -1)); n != 1 {
		t.Errorf("told %d times which mode the registry is in, want once:\n%s", n, out)
	}
	tags := run(t, crane, "--insecure", "ls", srv.host+"/org/app")
	for _, tr := range rep.Units[0].Targets {
		if tr.TestsReused {
			t.Errorf("%s: tests reused on the first release", tr.Platform)
		}
		fallback := strings.Replace(tr.Digest, ":", "-", 1)
		if !strings.Contains(tags, fallback+"\n") {
			t.Errorf("%s: no referrers tag %s for its test record; tags:\n%s", tr.Platform, fallback, tags)
		}
		if got := digestFor(t, crane, srv.host+"/org/app:1.0", tr.Platform); got != tr.Digest {
			t.Errorf("%s host gets %s, tested %s", tr.Platform, got, tr.Digest)
		}
	}

	// A rerun finds the records: nothing is tested again, nothing written.
	out, code, rep, _ = release(t, proj)
	if code != 0 || rep.Units[0].Status != "unchanged" {
		t.Fatalf("rerun: exit %d, status %q\n%s", code, rep.Units[0].Status, out)
	}
	for _, tr := range rep.Units[0].Targets {
		if !tr.TestsReused {
			t.Errorf("rerun: %s tested again although its record is in the registry", tr.Platform)
		}
	}
	if n := len(mode.FindAllString(out, -1)); n != 1 {
		t.Errorf("rerun: told %d times which mode the registry is in, want once:\n%s", n, out)
	}

	// The merge job reads the same records.
	out, code = polyarchIn(t, proj, "publish", "--report", filepath.Join(t.TempDir(), "publish.json"))
	if code != 0 || !strings.Contains(out, "unchanged") || len(mode.FindAllString(out, -1)) != 1 {
		t.Errorf("polyarch publish: exit %d, want 0, unchanged, and the registry's mode told once\n%s", code, out)
	}
}
