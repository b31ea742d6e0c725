// Command gobuildbench measures a real compile workload, the gobuild
// example (a Go program, examples/gobuild) built for linux/amd64, arm64 and
// s390x on an amd64 machine, in one run:
//
//   - cross-compiled (Dockerfile: FROM --platform=$BUILDPLATFORM, GOARCH)
//     against compiled under QEMU emulation (Dockerfile.emulated), both cold;
//   - the cold cross build against a rebuild of the same commit on a FRESH
//     builder node (its state directory deleted) from the registry cache;
//   - polyarch build against raw buildctl (one process per platform, the
//     same frontend options, exporter and cache flags), cold and from the
//     registry cache.
//
// Every build gets a builder node of its own, started before the clock
// starts and deleted after, so each is cold except for what it imports
// from the registry. The Go toolchain image is made from the Go installed
// here (scripts/go-image.sh) and the base from the busybox fixture
// (scripts/base-image.sh): nothing is pulled.
//
// bench/gobuild.sh builds everything and runs it; see bench/README.md.
//
//	gobuildbench -work DIR -repo . -polyarch bin/polyarch -buildctl bin/buildctl
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// config is what the flags set.
type config struct {
	repo     string // the polyarch checkout: examples/gobuild and scripts/
	polyarch string
	buildctl string
	buildkit string
	work     string
	rounds   int
	jsonOut  string
	timeout  time.Duration
}

// Goals, as ratios measured in one run.
const (
	rebuildGoal  = 0.30 // fresh-node rebuild from the registry cache / cold build
	crossGoal    = 0.25 // cross-compiled / emulated
	overheadGoal = 1.05 // polyarch / buildctl
)

func main() {
	var c config
	flag.StringVar(&c.repo, "repo", ".", "the polyarch checkout (examples/gobuild, scripts/go-image.sh, scripts/base-image.sh)")
	flag.StringVar(&c.polyarch, "polyarch", "bin/polyarch", "polyarch binary")
	flag.StringVar(&c.buildctl, "buildctl", "bin/buildctl", "buildctl binary (the version buildkitd is)")
	flag.StringVar(&c.buildkit, "buildkit-version", "unknown", "the BuildKit version buildctl and buildkitd were built from, for the report")
	flag.StringVar(&c.work, "work", "", "scratch directory: registry, builder nodes, project, logs (required)")
	flag.IntVar(&c.rounds, "rounds", 2, "rounds of the cold cross build by polyarch and by buildctl (who goes first alternates); the emulated build and each rebuild run once")
	flag.StringVar(&c.jsonOut, "json", "", "also write every sample and the summary as JSON to this file")
	flag.DurationVar(&c.timeout, "timeout", 90*time.Minute, "give up after this long")
	flag.Parse()

	harness.Run("gobuildbench", func(ctx context.Context) error { return run(ctx, c) })
}

func run(ctx context.Context, c config) error {
	switch {
	case c.work == "":
		return errors.New("-work is required")
	case c.rounds < 1:
		return errors.New("-rounds must be at least 1")
	case os.Geteuid() != 0:
		return errors.New("needs root: the local builder runs buildkitd with runc")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := harness.AbsPaths(&c.work, &c.repo, &c.polyarch, &c.buildctl); err != nil {
		return err
	}

	reg, err := harness.StartPolyarch(ctx, c.polyarch, filepath.Join(c.work, "registry"))
	if err != nil {
		return err
	}
	defer reg.Stop()
	fmt.Printf("==> base images into %s: busybox (scripts/base-image.sh), the Go toolchain (scripts/go-image.sh)\n", reg.Addr)
	if err := baseImages(ctx, c, reg.Addr); err != nil {
		return err
	}
	p, err := newProject(ctx, c, reg.Addr)
	if err != nil {
		return err
	}

	rep := report{
		Started: time.Now().UTC(), CPUs: runtime.NumCPU(),
		Polyarch: version(ctx, c.polyarch, "version"), BuildKit: c.buildkit,
		Platforms: platformNames(), Rounds: c.rounds, LoadStart: harness.LoadAverage(),
		Goals: goals{Rebuild: rebuildGoal, Cross: crossGoal, Overhead: overheadGoal},
	}
	fmt.Printf("==> %s | buildctl and buildkitd %s; %d CPUs, load average %.1f\n", rep.Polyarch, rep.BuildKit, rep.CPUs, rep.LoadStart)
	fmt.Printf("==> %s, each build on a fresh builder node of its own\n", joinPlatforms())

	measure := func(v variant, round int) error {
		s, err := p.measure(ctx, c, v, round)
		if err != nil {
			return fmt.Errorf("%s: %w", v, err)
		}
		fmt.Printf("%-46s wall %7.1fs   %s\n", s.Variant, s.Seconds, s.perPlatform())
		rep.Samples = append(rep.Samples, s)
		return nil
	}
	// The cold cross builds, polyarch and buildctl taking turns first.
	for round := 1; round <= c.rounds; round++ {
		order := []variant{polyarchCross, buildctlCross}
		if round%2 == 0 {
			order = []variant{buildctlCross, polyarchCross}
		}
		for _, v := range order {
			if err := measure(v, round); err != nil {
				return err
			}
		}
	}
	// Their caches are in the registry now: rebuild on fresh nodes.
	for _, v := range []variant{polyarchRebuild, buildctlRebuild, polyarchEmulated} {
		if err := measure(v, 0); err != nil {
			return err
		}
	}
	rep.LoadEnd = harness.LoadAverage()
	rep.summarise()
	rep.print(os.Stdout)
	if err := harness.SaveResults(c.jsonOut, &rep); err != nil {
		return err
	}
	if !rep.Met {
		return errors.New("a goal was missed (see above)")
	}
	return nil
}
