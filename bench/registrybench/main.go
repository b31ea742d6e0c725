// Command registrybench compares polyarch's embedded registry with plain
// distribution v3 on the same image, same client and same machine, taking
// turns: round 1 polyarch then plain, round 2 plain then polyarch, and so on,
// each server on a fresh empty root. In every turn it times, with crane as the
// client, a push of the whole multi-platform index from an OCI layout and a
// pull of it back into a layout, then counts manifest GETs per second from a
// bounded pool of Go workers, and records the CPU time the server process
// used for all of that. It prints each server's medians and the
// polyarch/plain ratios, both of the medians and the median of each round's
// ratio (turns next to each other in time see nearly the same machine).
//
// bench/registry.sh builds everything and runs it; see bench/README.md.
//
//	registrybench -layout DIR -polyarch bin/polyarch -plain bin/plainregistry -crane bin/crane -work DIR
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// repo is where every server stores the image.
const repo = "bench/multiarch:v1"

// config is what the flags set.
type config struct {
	layout   string // OCI layout written by genimage
	polyarch string // polyarch binary
	plain    string // plainregistry binary
	crane    string // crane binary
	work     string // scratch directory for roots, pulls and server logs
	rounds   int
	gets     int // manifest GETs per turn
	workers  int // concurrent manifest GETs
	jsonOut  string
	timeout  time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.layout, "layout", "", "OCI layout to push, as genimage writes it (required)")
	flag.StringVar(&c.polyarch, "polyarch", "bin/polyarch", "polyarch binary")
	flag.StringVar(&c.plain, "plain", "bin/plainregistry", "plainregistry binary (distribution v3 alone)")
	flag.StringVar(&c.crane, "crane", "bin/crane", "crane binary")
	flag.StringVar(&c.work, "work", "", "scratch directory for server roots, pulls and logs (required)")
	flag.IntVar(&c.rounds, "rounds", 10, "counted rounds after one warm-up; each runs both servers on fresh roots, who goes first alternating (keep it even)")
	flag.IntVar(&c.gets, "gets", 10000, "manifest GETs timed per server per round")
	flag.IntVar(&c.workers, "workers", 8, "concurrent manifest GETs")
	flag.StringVar(&c.jsonOut, "json", "", "also write every sample and the summary as JSON to this file")
	flag.DurationVar(&c.timeout, "timeout", 9*time.Minute, "give up after this long")
	flag.Parse()

	harness.Run("registrybench", func(ctx context.Context) error { return run(ctx, c) })
}

func run(ctx context.Context, c config) error {
	if c.layout == "" || c.work == "" {
		return errors.New("-layout and -work are required")
	}
	if c.rounds < 1 || c.gets < 1 || c.workers < 1 {
		return errors.New("-rounds, -gets and -workers must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	img, err := readImage(c.layout)
	if err != nil {
		return err
	}
	cl, err := newClient(ctx, c.crane, filepath.Join(c.work, "docker-config"))
	if err != nil {
		return err
	}
	servers := []server{polyarchServer(c.polyarch), plainServer(c.plain)}

	rep := report{
		Started:   time.Now().UTC(),
		CPUs:      runtime.NumCPU(),
		Crane:     cl.version,
		Image:     img,
		Rounds:    c.rounds,
		Gets:      c.gets,
		Workers:   c.workers,
		Goal:      throughputGoal,
		LoadStart: harness.LoadAverage(),
	}
	fmt.Printf("image %s: %.0f MB in %d blobs, %d platforms; %d rounds after a warm-up, %d manifest GETs x %d workers; crane %s; %d CPUs\n",
		img.Digest, harness.MB(img.Bytes), img.Blobs, img.Platforms, c.rounds, c.gets, c.workers, cl.version, rep.CPUs)
	// Round 0 warms up (binaries, page cache, CPU clocks) and is not
	// counted: the first turn of a run is reliably slower. Who goes first
	// alternates between rounds, because the second turn of a round runs a
	// little faster (about 2% on pulls) whichever server takes it.
	for round := 0; round <= c.rounds; round++ {
		label := harness.RoundLabel(round, c.rounds)
		order := servers
		if round%2 == 0 {
			order = []server{servers[1], servers[0]}
		}
		for _, s := range order {
			smp, err := turn(ctx, c, cl, img, s, round)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", label, s.name, err)
			}
			fmt.Printf("%-11s %-8s push %5.2fs %6.1f MB/s   pull %5.2fs %6.1f MB/s   %d GETs %5.2fs %7.0f/s   server CPU %5.2fs\n",
				label, s.name, smp.PushSeconds, smp.PushMBps, smp.PullSeconds, smp.PullMBps, c.gets, smp.GetSeconds, smp.GetsPerSec, smp.ServerCPU)
			if round > 0 {
				rep.Samples = append(rep.Samples, smp)
			}
		}
	}
	rep.LoadEnd = harness.LoadAverage()
	rep.summarise(servers[0].name, servers[1].name)
	rep.printTable(os.Stdout)
	if err := harness.SaveResults(c.jsonOut, &rep); err != nil {
		return err
	}
	return nil
}

// turn starts s on a fresh root, measures push, pull and manifest GETs, and
// stops it again, deleting everything it stored.
func turn(ctx context.Context, c config, cl *client, img image, s server, round int) (sample, error) {
	dir := filepath.Join(c.work, fmt.Sprintf("%s-%d", s.name, round))
	defer os.RemoveAll(dir)
	srv, err := s.start(ctx, dir)
	if err != nil {
		return sample{}, err
	}
	defer srv.Stop()
	ref := srv.Addr + "/" + repo

	smp := sample{Server: s.name, Round: round}
	// Write back what earlier steps left dirty, so that neither push nor
	// pull pays for another step's writeback.
	syscall.Sync()
	d, err := cl.push(ctx, c.layout, ref, img.Digest)
	if err != nil {
		return smp, err
	}
	smp.PushSeconds, smp.PushMBps = d.Seconds(), harness.MB(img.Bytes)/d.Seconds()

	syscall.Sync()
	d, err = cl.pull(ctx, ref, filepath.Join(dir, "pulled"), img.Bytes)
	if err != nil {
		return smp, err
	}
	smp.PullSeconds, smp.PullMBps = d.Seconds(), harness.MB(img.Bytes)/d.Seconds()

	d, err = getManifests(ctx, srv.Addr, repo, img.Digest, c.gets, c.workers)
	if err != nil {
		return smp, err
	}
	smp.GetSeconds, smp.GetsPerSec = d.Seconds(), float64(c.gets)/d.Seconds()

	srv.Stop()
	smp.ServerCPU = srv.CPU().Seconds()
	return smp, nil
}
