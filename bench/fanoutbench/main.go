// Command fanoutbench measures a release split across CI runners against one
// release of every platform on one machine: the same project, the same
// commit content, the same registry, on this machine.
//
//   - fan-out: three runners at once, each its own clone and its own
//     builder node (`polyarch release --platform P --builder-dir D`), then
//     the merge job (`polyarch publish`);
//   - single: one `polyarch release` of the three platforms on one builder
//     node.
//
// Every turn builds a new commit (a new file in the build context), so
// every build really runs; the base image stays cached in every node alike.
// It also measures the publish step alone, as a merge job runs it: with
// every platform ready and the index tags deleted, `polyarch publish`
// writes the index, and a second `polyarch publish` finds it unchanged. A
// counting reverse proxy in front of the registry counts every request.
// Goal: the publish step adds under 10 requests per platform and under 1 s.
//
// bench/fanout.sh builds everything and runs it; see bench/README.md.
//
//	fanoutbench -work DIR -polyarch bin/polyarch -rootfs .cache/rootfs
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
	polyarch string
	rootfs   string
	work     string
	rounds   int
	jsonOut  string
	timeout  time.Duration
	trace    bool
}

func main() {
	var c config
	flag.StringVar(&c.polyarch, "polyarch", "bin/polyarch", "polyarch binary")
	flag.StringVar(&c.rootfs, "rootfs", ".cache/rootfs", "busybox root filesystems, one directory per Debian architecture (scripts/setup.sh prepares them)")
	flag.StringVar(&c.work, "work", "", "scratch directory: registry root, builder states, clones, logs (required)")
	flag.IntVar(&c.rounds, "rounds", 3, "counted rounds after a warm-up; each runs both variants, who goes first alternating")
	flag.StringVar(&c.jsonOut, "json", "", "also write every sample and the summary as JSON to this file")
	flag.DurationVar(&c.timeout, "timeout", 15*time.Minute, "give up after this long")
	flag.BoolVar(&c.trace, "trace", false, "print every request of the publish step (the merge job writing the index)")
	flag.Parse()

	harness.Run("fanoutbench", func(ctx context.Context) error { return run(ctx, c) })
}

func run(ctx context.Context, c config) error {
	switch {
	case c.work == "":
		return errors.New("-work is required")
	case c.rounds < 1:
		return errors.New("-rounds must be positive")
	case os.Geteuid() != 0:
		return errors.New("needs root: the builder nodes run buildkitd with runc")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := harness.AbsPaths(&c.work, &c.polyarch, &c.rootfs); err != nil {
		return err
	}

	reg, err := harness.StartPolyarch(ctx, c.polyarch, filepath.Join(c.work, "registry"))
	if err != nil {
		return err
	}
	defer reg.Stop()
	px, err := startProxy(reg.Addr)
	if err != nil {
		return err
	}
	defer px.close()
	fmt.Printf("==> registry %s behind the counting proxy %s; importing the busybox base image\n", reg.Addr, px.addr)
	if err := importBase(ctx, c, px.addr); err != nil {
		return err
	}

	p, err := newProject(ctx, c, px.addr)
	if err != nil {
		return err
	}
	defer p.stopBuilders()
	if err := p.startBuilders(ctx); err != nil {
		return err
	}

	rep := report{
		Started: time.Now().UTC(), CPUs: runtime.NumCPU(), Polyarch: version(ctx, c.polyarch),
		Platforms: platforms, Rounds: c.rounds, LoadStart: harness.LoadAverage(),
		GoalRequestsPerPlatform: goalRequestsPerPlatform, GoalPublishSeconds: goalPublishSeconds.Seconds(),
	}
	fmt.Printf("==> %s; %d CPUs, load average %.1f; platforms %v\n", rep.Polyarch, rep.CPUs, rep.LoadStart, platforms)

	for round := 0; round <= c.rounds; round++ {
		label := harness.RoundLabel(round, c.rounds)
		order := []string{"fan-out", "single"}
		if round%2 == 1 {
			order = []string{"single", "fan-out"}
		}
		for _, v := range order {
			var s sample
			var err error
			if v == "fan-out" {
				s, err = p.fanOut(ctx, px, round)
			} else {
				s, err = p.single(ctx, round)
			}
			if err != nil {
				return fmt.Errorf("%s, %s: %w", label, v, err)
			}
			s.Round = round
			fmt.Println(s.line(label))
			if round > 0 {
				rep.Samples = append(rep.Samples, s)
			}
		}
	}
	rep.LoadEnd = harness.LoadAverage()
	rep.summarise()
	rep.print(os.Stdout)
	if err := harness.SaveResults(c.jsonOut, &rep); err != nil {
		return err
	}
	if !rep.GoalMet {
		return errors.New("the publish step missed its goal (see above)")
	}
	return nil
}
