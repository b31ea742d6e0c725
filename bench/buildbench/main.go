// Command buildbench measures what `polyarch build` adds to raw BuildKit:
// the same Dockerfile, the same five platforms, the same buildkitd and the
// same registry, built by `polyarch build` and by `buildctl build` (one
// process per platform), taking turns. Each tool builds the five platforms
// one after another and all at once, so the run also says what building in
// parallel gains.
//
// Every build really runs: the Dockerfile's RUN step reads a build argument
// that is new in every turn (a nonce), so BuildKit cannot take it from its
// cache, while the base image stays cached for both tools alike. buildbench
// checks both in each build's log, and checks that each pushed image has
// its platform.
//
// bench/build.sh builds everything and runs it; see bench/README.md.
//
//	buildbench -work DIR -polyarch bin/polyarch -buildctl bin/buildctl -rootfs .cache/rootfs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// config is what the flags set.
type config struct {
	polyarch string
	buildctl string
	rootfs   string // busybox root filesystems by Debian architecture
	buildkit string // the version buildctl and buildkitd were built from
	work     string
	rounds   int
	loop     int // shell-loop iterations of the RUN step
	payload  int // KiB of random data the RUN step writes (the new layer)
	jsonOut  string
	timeout  time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.polyarch, "polyarch", "bin/polyarch", "polyarch binary")
	flag.StringVar(&c.buildctl, "buildctl", "bin/buildctl", "buildctl binary (the version buildkitd is)")
	flag.StringVar(&c.buildkit, "buildkit-version", "unknown", "the BuildKit version buildctl and buildkitd were built from, for the report (they say v0.0.0+unknown)")
	flag.StringVar(&c.rootfs, "rootfs", ".cache/rootfs", "busybox root filesystems, one directory per Debian architecture (scripts/setup.sh prepares them)")
	flag.StringVar(&c.work, "work", "", "scratch directory: registry root, builder state, project, logs (required)")
	flag.IntVar(&c.rounds, "rounds", 12, "counted rounds after a warm-up; each runs the 4 variants, who goes first rotating (keep it a multiple of 4)")
	flag.IntVar(&c.loop, "loop", 100000, "iterations of the shell loop in the RUN step (about 1.4 s under QEMU on the reference machine)")
	flag.IntVar(&c.payload, "payload-kib", 4096, "KiB of random data the RUN step writes, the layer each build pushes")
	flag.StringVar(&c.jsonOut, "json", "", "also write every sample and the summary as JSON to this file")
	flag.DurationVar(&c.timeout, "timeout", 9*time.Minute, "give up after this long")
	flag.Parse()

	harness.Run("buildbench", func(ctx context.Context) error { return run(ctx, c) })
}

func run(ctx context.Context, c config) error {
	switch {
	case c.work == "":
		return errors.New("-work is required")
	case c.rounds < 1 || c.loop < 0 || c.payload < 0:
		return errors.New("-rounds must be positive, -loop and -payload-kib not negative")
	case os.Geteuid() != 0:
		return errors.New("needs root: the local builder runs buildkitd with runc")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// polyarch build runs in the project directory: every path absolute.
	if err := harness.AbsPaths(&c.work, &c.polyarch, &c.buildctl, &c.rootfs); err != nil {
		return err
	}

	reg, err := harness.StartPolyarch(ctx, c.polyarch, filepath.Join(c.work, "registry"))
	if err != nil {
		return err
	}
	defer reg.Stop()
	fmt.Printf("==> importing the busybox base image for %d platforms into %s\n", len(platforms), reg.Addr)
	base, err := importBase(ctx, c, reg.Addr)
	if err != nil {
		return err
	}

	b := &builder{polyarch: c.polyarch, dir: filepath.Join(c.work, "builder")}
	if err := b.start(ctx, reg.Addr); err != nil {
		return err
	}
	defer b.stop()

	p, err := newProject(filepath.Join(c.work, "project"), reg.Addr, c.loop, c.payload)
	if err != nil {
		return err
	}
	rep := report{
		Started: time.Now().UTC(), CPUs: runtime.NumCPU(),
		Polyarch: version(ctx, c.polyarch, "version"), BuildKit: c.buildkit,
		Base: base, Platforms: platformNames(), Loop: c.loop, PayloadKiB: c.payload,
		Rounds: c.rounds, Goal: overheadGoal, LoadStart: harness.LoadAverage(),
	}
	fmt.Printf("==> %s | buildctl and buildkitd %s; %d CPUs, load average %.1f\n", rep.Polyarch, rep.BuildKit, rep.CPUs, rep.LoadStart)
	fmt.Printf("==> each build: FROM busybox, RUN a %d-iteration shell loop and write %d KiB (a nonce makes it run every time), push\n", c.loop, c.payload)

	for round := 0; round <= c.rounds; round++ {
		label := harness.RoundLabel(round, c.rounds)
		for _, v := range rotate(variants, round) {
			t, err := p.turn(ctx, c, b, reg.Addr, v, round)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", label, v.name(), err)
			}
			fmt.Printf("%-11s %-24s wall %6.2fs   builder CPU %6.2fs   client CPU %5.2fs\n",
				label, v.name(), t.Seconds, t.BuilderCPU, t.ClientCPU)
			if round > 0 {
				rep.Samples = append(rep.Samples, t)
			}
		}
	}
	rep.LoadEnd = harness.LoadAverage()
	rep.summarise()
	rep.print(os.Stdout)
	if err := harness.SaveResults(c.jsonOut, &rep); err != nil {
		return err
	}
	return nil
}

// rotate returns the variants in the order of one round: round r starts
// with variant r mod n, so over n rounds each takes every position once.
func rotate(vs []variant, round int) []variant {
	k := round % len(vs)
	return append(append([]variant{}, vs[k:]...), vs[:k]...)
}

// builder is the local builder node, started and stopped with polyarch,
// which buildctl reaches on the same socket: one daemon, one cache.
type builder struct {
	polyarch string
	dir      string
	pid      int
}

func (b *builder) address() string { return "unix://" + filepath.Join(b.dir, "buildkitd.sock") }

func (b *builder) start(ctx context.Context, registry string) error {
	if out, err := command(ctx, b.polyarch, "builder", "start", "--builder-dir", b.dir, "--insecure-registry", registry).CombinedOutput(); err != nil {
		return fmt.Errorf("polyarch builder start: %w\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(b.dir, "buildkitd.pid"))
	if err != nil {
		return err
	}
	b.pid, err = strconv.Atoi(strings.TrimSpace(string(raw)))
	return err
}

// stop ends buildkitd and unmounts what it left (bench/build.sh's trap
// does the same if buildbench never gets here).
func (b *builder) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := command(ctx, b.polyarch, "builder", "stop", "--builder-dir", b.dir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "buildbench: polyarch builder stop: %v\n%s", err, out)
	}
}

// version asks a tool for its version and keeps the first line.
func version(ctx context.Context, args ...string) string {
	out, err := command(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}
