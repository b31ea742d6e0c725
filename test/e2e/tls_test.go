package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polyarch/polyarch/internal/testutil"
)

// The TLS tests need a registry host that is not loopback: a network
// namespace made by the test (a veth pair, 10.213.N.1 here and 10.213.N.2
// there, N from the test's pid), serving "registry.test", a name that
// resolves only inside a mount namespace of the test's own, where
// /etc/hosts (and /etc/docker/certs.d) are bind mounts of test files: the
// test binary runs itself again under unshare(1), so polyarch, buildkitd and
// every tool they start see the name, and the machine's own files are never
// touched, whatever way the test ends.
const tlsChild = "POLYARCH_E2E_TLS_CHILD"

// inMountNamespace runs the calling test in a private mount namespace: in
// the parent, it runs the test binary again for this test only, under
// unshare, and returns false (the test is done); in that child, true.
func inMountNamespace(t *testing.T) bool {
	t.Helper()
	if os.Getenv(tlsChild) == t.Name() {
		return true
	}
	testutil.Tool(t, "unshare")
	testutil.Tool(t, "ip")
	if os.Geteuid() != 0 {
		if testutil.E2E() {
			t.Fatal("the TLS tests need root: network and mount namespaces")
		}
		t.Skip("the TLS tests need root: network and mount namespaces")
	}
	testutil.Tool(t, "buildkitd") // skipped (or failed) here, not in the child
	testutil.Tool(t, "runc")
	args := []string{"--mount", "--propagation", "private", os.Args[0], "-test.run", "^" + t.Name() + "$", "-test.v", "-test.count=1", "-test.timeout=20m"}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), tlsChild+"="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	t.Logf("in a mount namespace of its own:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the test failed in its mount namespace: %v", err)
	}
	return false
}

// bindOver bind-mounts a file or directory of the test's over path, in this
// (private) mount namespace only.
func bindOver(t *testing.T, src, path string) {
	t.Helper()
	if err := syscall.Mount(src, path, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting %s over %s: %v", src, path, err)
	}
	t.Cleanup(func() { syscall.Unmount(path, syscall.MNT_DETACH) })
}

// testHost is a network namespace reachable at addr from here.
type testHost struct {
	ns   string
	addr string // its address
}

func newTestHost(t *testing.T) *testHost {
	t.Helper()
	n := 20 + os.Getpid()%200
	h := &testHost{ns: fmt.Sprintf("polyarch-e2e-%d", os.Getpid()), addr: fmt.Sprintf("10.213.%d.2", n)}
	here := fmt.Sprintf("pa%dh", os.Getpid()%100000)
	there := fmt.Sprintf("pa%dn", os.Getpid()%100000)
	if out, _ := exec.Command("ip", "-4", "addr").CombinedOutput(); strings.Contains(string(out), fmt.Sprintf("10.213.%d.", n)) {
		t.Fatalf("10.213.%d.0/24 is already in use here:\n%s", n, out)
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	ip("netns", "add", h.ns)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", h.ns).Run()
		exec.Command("ip", "link", "del", here).Run()
	})
	ip("link", "add", here, "type", "veth", "peer", "name", there)
	ip("link", "set", there, "netns", h.ns)
	ip("addr", "add", fmt.Sprintf("10.213.%d.1/24", n), "dev", here)
	ip("link", "set", here, "up")
	ip("netns", "exec", h.ns, "ip", "addr", "add", h.addr+"/24", "dev", there)
	ip("netns", "exec", h.ns, "ip", "link", "set", there, "up")
	ip("netns", "exec", h.ns, "ip", "link", "set", "lo", "up")
	return h
}

// privateCA writes a CA and a server certificate for dnsName signed by it.
func privateCA(t *testing.T, dir, dnsName string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "polyarch e2e private CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(srvKey)
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	writeFile(t, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER})))
	writeFile(t, key, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	return ca, cert, key
}

// polyarchEnv runs polyarch in dir with env; combined output and exit code.
func polyarchEnv(t *testing.T, env []string, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(polyarchBinary(t), args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// The "done means": the whole release of a project into a registry
// served with TLS from a private CA and htpasswd auth, on a host name that
// is not loopback, credentials only in a Docker config and the CA given once
// (in polyarch.yaml, or in certs.d): builds push, tests pull, publish and
// check succeed; without the CA the release fails naming the registry and
// the certificate problem; and no plain-HTTP request ever reaches the
// registry (its log says so, and it would).
func TestReleaseToATLSRegistryWithAPrivateCA(t *testing.T) {
	if !inMountNamespace(t) {
		return
	}
	crane := testutil.Tool(t, "crane")
	const name = "registry.test"
	th := newTestHost(t)
	host := name + ":5443"
	hosts := filepath.Join(t.TempDir(), "hosts")
	orig, _ := os.ReadFile("/etc/hosts")
	writeFile(t, hosts, string(orig)+"\n"+th.addr+" "+name+"\n")
	bindOver(t, hosts, "/etc/hosts")
	if addrs, err := net.LookupHost(name); err != nil || len(addrs) == 0 || addrs[0] != th.addr {
		t.Fatalf("%s resolves to %v (%v), want %s", name, addrs, err, th.addr)
	}

	pki := t.TempDir()
	ca, cert, key := privateCA(t, pki, name)
	htpasswd := testutil.Htpasswd(t, "ci", "s3cret-pass")
	// The registry, in its own network namespace, killed with the test.
	regLog := &syncBuffer{}
	srv := exec.Command("ip", "netns", "exec", th.ns, polyarchBinary(t), "registry", "serve", "--addr", th.addr+":5443",
		"--root", t.TempDir(), "--htpasswd", htpasswd, "--tls-cert", cert, "--tls-key", key)
	srv.Stdout, srv.Stderr = regLog, regLog
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 2 * time.Second}
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := hc.Get("https://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry did not come up on %s (%v):\n%s", host, err, regLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Credentials only in a Docker config; nothing trusts the CA unless told.
	env := dockerConfigEnv(t, host, "ci", "s3cret-pass")
	for i, kv := range env {
		if strings.HasPrefix(kv, "SSL_CERT_FILE=") || strings.HasPrefix(kv, "SSL_CERT_DIR=") {
			env[i] = "POLYARCH_E2E_UNSET=1"
		}
	}
	craneEnv := append(append([]string{}, env...), "SSL_CERT_FILE="+ca) // the independent checker trusts it its own way
	local := startServe(t)
	testutil.Busybox(t, local.host)
	runEnv(t, craneEnv, crane, "copy", local.host+"/base/busybox:latest", host+"/base/busybox:latest")

	yaml := func(version, registries string) string {
		return "registry: " + host + "\n" + registries + "images:\n  - name: app\n    repository: org/app\n    context: app\n" +
			"    platforms: [linux/amd64, linux/arm64]\n    version: \"" + version + "\"\n" +
			"    test:\n      commands:\n        - {name: built here, command: [cat, /arch]}\n"
	}
	dockerfile := "ARG POLYARCH_REGISTRY\nFROM ${POLYARCH_REGISTRY}/base/busybox:latest\nRUN uname -m > /arch\n"
	releaseIn := func(proj string, args ...string) (string, int, runReport) {
		t.Helper()
		tmp := t.TempDir()
		jsonFile := filepath.Join(tmp, "run.json")
		out, code := polyarchEnv(t, env, proj, append([]string{"release", "--builder-dir", freshBuilder(t), "--quiet-build",
			"--log-dir", filepath.Join(tmp, "logs"), "--report", jsonFile, "--html", filepath.Join(tmp, "run.html")}, args...)...)
		var rep runReport
		if _, err := os.Stat(jsonFile); err == nil {
			rep = readReport(t, jsonFile)
		}
		return out, code, rep
	}
	checkPublished := func(index string, rep runReport) {
		t.Helper()
		for _, tr := range rep.Units[0].Targets {
			if tr.TestsReused || tr.Status != "passed" {
				t.Errorf("%s: status %s, tests reused %v: want tested by this release (pulled from %s)", tr.Platform, tr.Status, tr.TestsReused, host)
			}
			got := strings.TrimSpace(runEnv(t, craneEnv, crane, "digest", "--platform", tr.Platform, index))
			if got != tr.Digest {
				t.Errorf("a %s host gets %s from %s, the tested digest is %s", tr.Platform, got, index, tr.Digest)
			}
		}
	}

	t.Run("CA in polyarch.yaml", func(t *testing.T) {
		proj := gitProject(t, map[string]string{
			"app/Dockerfile": dockerfile,
			"polyarch.yaml":  yaml("1.0", "registries:\n  "+host+": {ca: "+ca+"}\n"),
		})
		out, code, rep := releaseIn(proj)
		if code != 0 || !rep.OK || rep.Units[0].Status != "published" {
			t.Fatalf("release: exit %d\n%s\n--- registry log:\n%s", code, out, regLog.String())
		}
		checkPublished(host+"/org/app:1.0", rep)
		// BuildKit pushed the build cache there too, with the same credentials and CA.
		for _, p := range []string{"linux-amd64", "linux-arm64"} {
			if out, err := runErr(craneEnv, crane, "manifest", host+"/org/app-buildcache:"+p); err != nil || !strings.Contains(out, "application/vnd.buildkit.cacheconfig.v0") {
				t.Errorf("no build cache %s in %s: %v\n%s", p, host, err, out)
			}
		}
		out, code = polyarchEnv(t, env, proj, "publish")
		if code != 0 || !strings.Contains(out, "unchanged") {
			t.Errorf("polyarch publish: exit %d\n%s", code, out)
		}
	})

	t.Run("CA in certs.d", func(t *testing.T) {
		certsD := t.TempDir()
		os.MkdirAll(filepath.Join(certsD, host), 0o755)
		writeFile(t, filepath.Join(certsD, host, "ca.crt"), string(caPEM))
		if _, err := os.Stat("/etc/docker/certs.d"); err != nil {
			// Docker's directory, made empty if this machine has none (the
			// mount namespace shows the test's files in it, no one else).
			if err := os.MkdirAll("/etc/docker/certs.d", 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove("/etc/docker/certs.d"); os.Remove("/etc/docker") })
		}
		bindOver(t, certsD, "/etc/docker/certs.d")
		proj := gitProject(t, map[string]string{"app/Dockerfile": dockerfile, "polyarch.yaml": yaml("2.0", "")})
		out, code, rep := releaseIn(proj)
		if code != 0 || !rep.OK || rep.Units[0].Status != "published" {
			t.Fatalf("release: exit %d\n%s\n--- registry log:\n%s", code, out, regLog.String())
		}
		checkPublished(host+"/org/app:2.0", rep)
	})

	t.Run("without the CA", func(t *testing.T) {
		proj := gitProject(t, map[string]string{"app/Dockerfile": dockerfile, "polyarch.yaml": yaml("3.0", "")})
		out, code, _ := releaseIn(proj)
		if code != 1 || !strings.Contains(out, host) || !strings.Contains(out, "x509: certificate signed by unknown authority") {
			t.Errorf("release without the CA: exit %d, want 1 naming %s and the certificate problem\n%s", code, host, out)
		}
		if strings.Contains(runEnv(t, craneEnv, crane, "ls", host+"/org/app"), "3.0") {
			t.Errorf("a release that could not trust the registry pushed 3.0")
		}
	})

	// By its private address, which its certificate does not name:
	// go-containerregistry would fall back to plain HTTP there (RFC 1918).
	t.Run("by its private address", func(t *testing.T) {
		out, code := polyarchEnv(t, env, t.TempDir(), "inspect", th.addr+":5443/org/app:1.0")
		if code != 1 || !strings.Contains(out, "x509: cannot validate certificate for "+th.addr) || !strings.Contains(out, "plain HTTP to registry "+th.addr+":5443 refused") {
			t.Errorf("inspect by address: exit %d\n%s", code, out)
		}
	})

	// No plain-HTTP request reached the registry; and one would be seen.
	const plain = "plain HTTP request from"
	if strings.Contains(regLog.String(), plain) {
		t.Errorf("plain-HTTP requests reached %s:\n%s", host, regLog.String())
	}
	if resp, err := http.Get("http://" + host + "/v2/"); err == nil {
		resp.Body.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(regLog.String(), plain) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(regLog.String(), plain) {
		t.Errorf("the registry's log does not show a plain-HTTP request: the check above proves nothing")
	}
}
