package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// releaseRun is one `polyarch release` of one example, timed, its requests
// counted.
type releaseRun struct {
	sample
	// Signing is the signing step's own time, as the run report says it.
	Signing float64 `json:"signingSeconds,omitempty"`
	// Written counts the signatures and attestations the run wrote.
	Written int `json:"written,omitempty"`
}

// releaseResults are the samples of every round, by variant and example.
type releaseResults struct {
	Examples []string                           `json:"examples"`
	Samples  map[string]map[string][]releaseRun `json:"samples"` // variant -> example -> rounds
}

const (
	unsigned = "unsigned"
	signed   = "signed"
)

// benchRelease releases each example as the quick start does, with a
// running local builder whose cache is warm, once without and once with a
// sign: section per round (the order alternating), each variant to a fresh
// registry holding only the base images, so that every run builds (from the
// cache), pushes, tests and publishes for real.
func benchRelease(ctx context.Context, bin, repo, work string, examples []string, rounds int) (*releaseResults, error) {
	fmt.Println("==> preparing the release benchmark: the builder node, the base images, the builder example's upstream repositories")
	if err := cmd(bin, "builder", "start"); err != nil {
		return nil, err
	}
	seed, err := harness.StartPolyarch(ctx, bin, filepath.Join(work, "seed"))
	if err != nil {
		return nil, err
	}
	defer seed.Stop()
	for _, s := range []string{"scripts/base-image.sh", "scripts/go-image.sh"} {
		c := exec.CommandContext(ctx, filepath.Join(repo, s), seed.Addr)
		c.Dir, c.Stdout, c.Stderr = repo, os.Stderr, os.Stderr
		c.Env = append(os.Environ(), "POLYARCH="+bin)
		if err := c.Run(); err != nil {
			return nil, fmt.Errorf("%s %s: %w", s, seed.Addr, err)
		}
	}
	if err := exec.CommandContext(ctx, filepath.Join(repo, "scripts/upstream-fixture.sh"), filepath.Join(repo, "examples/builder")).Run(); err != nil {
		return nil, fmt.Errorf("scripts/upstream-fixture.sh: %w", err)
	}
	var bases []string
	for _, r := range []string{"base/busybox", "base/go"} {
		rp, err := name.NewRepository(seed.Addr + "/" + r)
		if err != nil {
			return nil, err
		}
		tags, err := remote.List(rp, remote.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", rp, err)
		}
		for _, t := range tags {
			bases = append(bases, r+":"+t)
		}
	}

	// Each variant's copies of the examples; the signed one with a key and a
	// sign: section in each polyarch.yaml.
	dirs := map[string]string{}
	for _, v := range []string{unsigned, signed} {
		dirs[v] = filepath.Join(work, "examples-"+v)
		if err := exec.Command("cp", "-a", filepath.Join(repo, "examples"), dirs[v]).Run(); err != nil {
			return nil, err
		}
	}
	for _, ex := range examples {
		d := filepath.Join(dirs[signed], ex)
		if err := cmd(bin, "sign", "--generate-key", "--output-key-prefix", filepath.Join(d, "cosign")); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(filepath.Join(d, "polyarch.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		_, err = f.WriteString("\nsign:\n  key: cosign.key\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}

	res := &releaseResults{Examples: examples, Samples: map[string]map[string][]releaseRun{unsigned: {}, signed: {}}}
	for r := 0; r <= rounds; r++ { // round 0 warms the builder's cache up and is dropped
		order := []string{unsigned, signed}
		if r%2 == 0 {
			order = []string{signed, unsigned}
		}
		for _, v := range order {
			runs, err := releaseAll(ctx, bin, work, dirs[v], examples, bases, seed.Addr, v, r)
			if err != nil {
				return nil, err
			}
			for _, ex := range examples {
				run := runs[ex]
				fmt.Printf("    %-9s %-8s %-10s %7.2f s %6d requests", harness.RoundLabel(r, rounds), v, ex, run.Seconds, run.Requests)
				if v == signed {
					fmt.Printf("   signing %.2f s, %d written", run.Signing, run.Written)
				}
				fmt.Println()
				if r > 0 {
					res.Samples[v][ex] = append(res.Samples[v][ex], run)
				}
			}
		}
	}
	return res, nil
}

// releaseAll releases the examples in dir, one after another, to a fresh
// registry seeded with the base images.
func releaseAll(ctx context.Context, bin, work, dir string, examples, bases []string, seed, variant string, round int) (map[string]releaseRun, error) {
	regDir := filepath.Join(work, fmt.Sprintf("registry-%s-%d", variant, round))
	defer os.RemoveAll(regDir)
	srv, err := harness.StartPolyarch(ctx, bin, regDir)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	p, err := startProxy(srv.Addr)
	if err != nil {
		return nil, err
	}
	for _, b := range bases {
		if err := cmd(bin, "copy", seed+"/"+b, p.addr+"/"+b); err != nil {
			return nil, err
		}
	}
	out := map[string]releaseRun{}
	for _, ex := range examples {
		report := filepath.Join(regDir, ex+".json")
		p.take()
		start := time.Now()
		c := exec.CommandContext(ctx, bin, "release", "-f", filepath.Join(dir, ex, "polyarch.yaml"), "--registry", p.addr,
			"--quiet-build", "--log-dir", filepath.Join(regDir, "logs", ex), "--report", report)
		c.Env = append(os.Environ(), "COSIGN_PASSWORD=bench") // the password the keys were made with
		if b, err := c.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s release of %s: %v\n%s", variant, ex, err, b)
		}
		secs := time.Since(start).Seconds()
		n := p.take()
		run := releaseRun{sample: sample{Seconds: secs, Requests: n.Requests, ByMethod: n.ByMethod}}
		run.Signing, run.Written, err = signingOf(report)
		if err != nil {
			return nil, err
		}
		if variant == signed && run.Written == 0 {
			return nil, fmt.Errorf("the signed release of %s signed nothing (report %s)", ex, report)
		}
		out[ex] = run
	}
	return out, nil
}

// signingOf sums what the run report says signing took and wrote.
func signingOf(report string) (float64, int, error) {
	b, err := os.ReadFile(report)
	if err != nil {
		return 0, 0, err
	}
	var rep struct {
		OK    bool
		Units []struct {
			Name   string
			Signed *struct {
				Written  int
				Duration time.Duration
			}
		}
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", report, err)
	}
	if !rep.OK {
		return 0, 0, fmt.Errorf("%s: the release failed", report)
	}
	var secs float64
	var written int
	for _, u := range rep.Units {
		if u.Signed != nil {
			secs += u.Signed.Duration.Seconds()
			written += u.Signed.Written
		}
	}
	return secs, written, nil
}

// printRelease prints the medians per example and over all of them, and
// the verdict on the goal (what signing adds < 10% of a release).
func printRelease(res *releaseResults) map[string]any {
	fmt.Printf("\nrelease of the examples (warm builder cache, fresh registry each time), medians of %d rounds\n", len(res.Samples[unsigned][res.Examples[0]]))
	fmt.Printf("    %-10s %10s %10s %9s %7s   %s\n", "example", "unsigned s", "signed s", "added s", "added", "requests unsigned -> signed; signing step (report)")
	med := map[string]any{}
	var totU, totS, totSign float64
	for _, ex := range res.Examples {
		u, s := medianRun(res.Samples[unsigned][ex]), medianRun(res.Samples[signed][ex])
		totU, totS, totSign = totU+u.Seconds, totS+s.Seconds, totSign+s.Signing
		fmt.Printf("    %-10s %10.2f %10.2f %9.2f %6.1f%%   %d -> %d (+%d); %.2f s, %d written\n", ex, u.Seconds, s.Seconds, s.Seconds-u.Seconds,
			100*(s.Seconds-u.Seconds)/u.Seconds, u.Requests, s.Requests, s.Requests-u.Requests, s.Signing, s.Written)
		med[ex] = map[string]releaseRun{unsigned: u, signed: s}
	}
	added := (totS - totU) / totU
	verdict := "met"
	if added >= 0.10 || totSign/totU >= 0.10 {
		verdict = "NOT met"
	}
	fmt.Printf("    %-10s %10.2f %10.2f %9.2f %6.1f%%   signing steps %.2f s = %.1f%% of the unsigned release\n", "all", totU, totS, totS-totU, 100*added, totSign, 100*totSign/totU)
	fmt.Printf("    goal: signing and evidence add < 10%% to a release of the examples: %s\n", verdict)
	med["all"] = map[string]float64{"unsignedSeconds": totU, "signedSeconds": totS, "added": added, "signingSeconds": totSign}
	return med
}

// medianRun is the run of median wall time.
func medianRun(runs []releaseRun) releaseRun {
	if len(runs) == 0 {
		return releaseRun{}
	}
	s := make([]sample, len(runs))
	for i, r := range runs {
		s[i] = r.sample
	}
	m := median(s)
	for _, r := range runs {
		if r.sample.Seconds == m.Seconds {
			return r
		}
	}
	return runs[0]
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
