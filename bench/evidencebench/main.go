// Command evidencebench measures what signing and attaching evidence adds
// to a release: `polyarch sign` of a published 5-platform index (every
// child signed, an SPDX SBOM and a SLSA provenance statement attached to
// each, signed; the index signed last), its idempotent rerun, a
// signature-only run (--no-evidence) and `polyarch verify --signatures`,
// each timed and its requests counted through a proxy in front of
// `polyarch registry serve`; then what a sign: section adds to a release of
// the examples (agent, validation, builder) on the local builder, each
// release to a fresh registry, without and with signing. See bench/README.md.
//
//	evidencebench -polyarch bin/polyarch -rootfs .cache/rootfs [-rounds 5] [-release agent,validation,builder] [-release-rounds 2] [-json out.json]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/bench/internal/harness"
	"github.com/polyarch/polyarch/importer"
	"github.com/polyarch/polyarch/index"
)

var arches = []struct {
	debian   string
	platform v1.Platform
}{
	{"amd64", v1.Platform{OS: "linux", Architecture: "amd64"}},
	{"arm64", v1.Platform{OS: "linux", Architecture: "arm64"}},
	{"armhf", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
	{"ppc64el", v1.Platform{OS: "linux", Architecture: "ppc64le"}},
	{"s390x", v1.Platform{OS: "linux", Architecture: "s390x"}},
}

func main() {
	bin := flag.String("polyarch", "bin/polyarch", "the polyarch binary")
	rootfs := flag.String("rootfs", ".cache/rootfs", "the busybox root filesystems (scripts/busybox-rootfs.sh)")
	rounds := flag.Int("rounds", 5, "measured rounds of polyarch sign and verify")
	release := flag.String("release", "agent,validation,builder", "the examples to release without and with signing (empty: none; needs root for the local builder)")
	releaseRounds := flag.Int("release-rounds", 2, "measured rounds of the releases")
	repo := flag.String("repo", ".", "the polyarch repository (its examples and scripts)")
	out := flag.String("json", "", "write the samples and medians here")
	flag.Parse()
	if err := harness.AbsPaths(bin, rootfs, repo); err != nil {
		fmt.Fprintln(os.Stderr, "evidencebench:", err)
		os.Exit(1)
	}
	harness.Run("evidencebench", func(ctx context.Context) error {
		return run(ctx, *bin, *rootfs, *repo, *rounds, splitList(*release), *releaseRounds, *out)
	})
}

// sample is one timed command.
type sample struct {
	Seconds  float64        `json:"seconds"`
	Requests int            `json:"requests"`
	ByMethod map[string]int `json:"byMethod"`
}

func run(ctx context.Context, bin, rootfs, repo string, rounds int, examples []string, releaseRounds int, out string) error {
	work, err := os.MkdirTemp("", "polyarch-evidencebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	reg, err := harness.StartPolyarch(ctx, bin, filepath.Join(work, "registry"))
	if err != nil {
		return err
	}
	defer reg.Stop()
	p, err := startProxy(reg.Addr)
	if err != nil {
		return err
	}
	host := p.addr

	// The busybox fixture, as the tests publish it.
	var sources []index.Source
	for _, a := range arches {
		ref, err := name.ParseReference(host + "/base/busybox:" + a.debian)
		if err != nil {
			return err
		}
		if _, err := importer.Import(ctx, filepath.Join(rootfs, a.debian), a.platform, ref, importer.Options{Cmd: []string{"/bin/sh"}}); err != nil {
			return fmt.Errorf("importing busybox %s: %w", a.debian, err)
		}
		pl := a.platform
		sources = append(sources, index.Source{Ref: ref, Platform: &pl})
	}
	base, _ := name.ParseReference(host + "/base/busybox:latest")
	if _, err := index.Publish(ctx, index.Request{Target: base, Sources: sources}); err != nil {
		return err
	}
	os.Setenv("COSIGN_PASSWORD", "bench")
	key := filepath.Join(work, "cosign")
	if err := cmd(bin, "sign", "--generate-key", "--output-key-prefix", key); err != nil {
		return err
	}

	names := []string{"sign (signatures + SBOM + provenance)", "sign again (nothing to do)", "sign --no-evidence", "verify --signatures"}
	samples := map[string][]sample{}
	timed := func(what string, args ...string) error {
		p.take()
		start := time.Now()
		if err := cmd(bin, args...); err != nil {
			return err
		}
		c := p.take()
		samples[what] = append(samples[what], sample{Seconds: time.Since(start).Seconds(), Requests: c.Requests, ByMethod: c.ByMethod})
		return nil
	}
	for r := 0; r <= rounds; r++ { // round 0 warms up and is dropped
		a, b := fmt.Sprintf("%s/bench/full%d:latest", host, r), fmt.Sprintf("%s/bench/sigonly%d:latest", host, r)
		for _, dst := range []string{a, b} {
			if err := cmd(bin, "copy", host+"/base/busybox:latest", dst); err != nil {
				return err
			}
		}
		steps := [][]string{
			{"sign", a, "--key", key + ".key"},
			{"sign", a, "--key", key + ".key"},
			{"sign", b, "--key", key + ".key", "--no-evidence"},
			{"verify", a, "--signatures", "--key", key + ".pub"},
		}
		for i, s := range steps {
			if err := timed(names[i], s...); err != nil {
				return err
			}
		}
		if r == 0 {
			samples = map[string][]sample{}
		}
	}

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("medians of %d rounds: a 5-platform busybox index on polyarch registry serve (loopback), through a counting proxy\n", rounds)
	fmt.Printf("    %-40s %8s %9s %13s   %s\n", "step", "wall s", "requests", "per platform", "requests by method")
	med := map[string]sample{}
	for _, n := range names {
		m := median(samples[n])
		med[n] = m
		fmt.Printf("    %-40s %8.2f %9d %13.1f   %s\n", n, m.Seconds, m.Requests, float64(m.Requests)/float64(len(arches)), methods(m.ByMethod))
	}
	fmt.Printf("    load average at end: %s", load)
	results := map[string]any{"samples": samples, "medians": med, "platforms": len(arches)}
	if len(examples) > 0 {
		rel, err := benchRelease(ctx, bin, repo, work, examples, releaseRounds)
		if err != nil {
			return err
		}
		results["release"] = map[string]any{"samples": rel.Samples, "medians": printRelease(rel)}
		fmt.Printf("    load average at end: %.1f\n", harness.LoadAverage())
	}
	return harness.SaveResults(out, results)
}

func cmd(bin string, args ...string) error {
	c := exec.Command(bin, args...)
	if b, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("polyarch %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

func median(s []sample) sample {
	if len(s) == 0 {
		return sample{}
	}
	byTime := append([]sample{}, s...)
	sort.Slice(byTime, func(i, j int) bool { return byTime[i].Seconds < byTime[j].Seconds })
	return byTime[len(byTime)/2]
}

func methods(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// proxy counts requests on their way to the registry, keeping the client's
// Host so the upload locations the registry hands out point back at it.
type proxy struct {
	addr     string
	mu       sync.Mutex
	requests int
	byMethod map[string]int
}

type counts struct {
	Requests int
	ByMethod map[string]int
}

func startProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{addr: ln.Addr().String(), byMethod: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests++
		p.byMethod[r.Method]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	return p, nil
}

// take returns the counts since the last take and starts again.
func (p *proxy) take() counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := counts{Requests: p.requests, ByMethod: p.byMethod}
	p.requests, p.byMethod = 0, map[string]int{}
	return c
}
