// Command indexbench compares polyarch's index commands with peer tools on
// the same registries, the same data and the same machine, taking turns:
//
//   - publish: a 5-platform index from arch-named repositories in one
//     registry (`polyarch manifest push from-args` vs `crane index append`,
//     `regctl index create`, `docker manifest create` + `push`), then the
//     same command again, a no-op republish;
//   - copy: a cold copy of a 4-platform x 4-layer x 32 MiB image between two
//     registries (`polyarch copy` vs `crane copy`, `regctl image copy`),
//     each turn into a fresh, empty destination registry.
//
// Every registry is `polyarch registry serve` on 127.0.0.1. Who goes first
// rotates from round to round. Wall times are of the tools' processes, as
// a user runs them, without anything in between; requests and blob bytes
// are counted in one extra pass in which every tool talks to the registries
// through the same counting reverse proxy. It prints each tool's medians and
// polyarch's ratios to each peer, both of the medians and the median of the
// per-round ratios.
//
// bench/index.sh builds everything and runs it; see bench/README.md.
//
//	indexbench -layout DIR -work DIR -polyarch bin/polyarch -crane bin/crane -regctl bin/regctl -docker docker
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
	layout        string // OCI layout of the copy scenario, as genimage writes it
	work          string // scratch directory for registry roots and tool state
	polyarch      string
	crane         string
	regctl        string
	docker        string
	publishRounds int
	copyRounds    int
	layers        int64 // layers per arch image of the publish scenario
	layerBytes    int64
	only          string
	copyDest      string // where the copy's destination registries keep their roots
	trace         string // directory for the counting pass's request logs
	jsonOut       string
	timeout       time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.layout, "layout", "", "OCI layout to copy, as genimage writes it (required unless -only publish)")
	flag.StringVar(&c.work, "work", "", "scratch directory for registry roots and tool state (required)")
	flag.StringVar(&c.polyarch, "polyarch", "bin/polyarch", "polyarch binary")
	flag.StringVar(&c.crane, "crane", "bin/crane", "crane binary")
	flag.StringVar(&c.regctl, "regctl", "bin/regctl", "regctl binary")
	flag.StringVar(&c.docker, "docker", "docker", "Docker CLI binary (no engine needed)")
	flag.IntVar(&c.publishRounds, "publish-rounds", 12, "counted publish rounds after a warm-up and the counting pass; who goes first rotates over the 4 tools")
	flag.IntVar(&c.copyRounds, "copy-rounds", 12, "counted copy rounds after a warm-up and the counting pass; who goes first rotates over the 3 tools")
	flag.Int64Var(&c.layers, "publish-layers", 2, "layers of each arch-named image of the publish scenario")
	flag.Int64Var(&c.layerBytes, "publish-layer-bytes", 4<<20, "bytes of each of those layers")
	flag.StringVar(&c.copyDest, "copy-dest", "", "directory for the roots of the copy's destination registries (default: under -work); /dev/shm takes the disk out of the copy")
	flag.StringVar(&c.only, "only", "", "run only this scenario: publish (with the republish) or copy")
	flag.StringVar(&c.trace, "trace", "", "write every request of the counting pass, per tool and step, to files in this directory")
	flag.StringVar(&c.jsonOut, "json", "", "also write every sample and the summary as JSON to this file")
	flag.DurationVar(&c.timeout, "timeout", 9*time.Minute, "give up after this long")
	flag.Parse()

	harness.Run("indexbench", func(ctx context.Context) error { return run(ctx, c) })
}

func run(ctx context.Context, c config) error {
	switch {
	case c.work == "":
		return errors.New("-work is required")
	case c.layout == "" && c.only != "publish":
		return errors.New("-layout is required for the copy scenario")
	case c.only != "" && c.only != "publish" && c.only != "copy":
		return fmt.Errorf("-only %q: want publish or copy", c.only)
	case c.publishRounds < 1 || c.copyRounds < 1:
		return errors.New("-publish-rounds and -copy-rounds must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	rn, err := newRunner(filepath.Join(c.work, "client"))
	if err != nil {
		return err
	}
	pa, cr, rc, dk := polyarchTool(c.polyarch), craneTool(c.crane), regctlTool(c.regctl), dockerTool(c.docker)
	pa.version = rn.version(ctx, c.polyarch, "version")
	cr.version = rn.version(ctx, c.crane, "version")
	rc.version = rn.version(ctx, c.regctl, "version", "--format", "{{.VCSTag}}")
	dk.version = rn.version(ctx, c.docker, "--version")

	rep := report{
		Started:   time.Now().UTC(),
		CPUs:      runtime.NumCPU(),
		Versions:  map[string]string{},
		LoadStart: harness.LoadAverage(),
	}
	for _, t := range []tool{pa, cr, rc, dk} {
		rep.Versions[t.name] = t.version
	}
	fmt.Printf("tools: %s | crane %s | regctl %s | %s; %d CPUs, load average %.1f\n",
		pa.version, cr.version, rc.version, dk.version, rep.CPUs, rep.LoadStart)

	if c.only != "copy" {
		if rep.Publish, err = publishScenario(ctx, c, rn, []tool{pa, cr, rc, dk}); err != nil {
			return err
		}
	}
	if c.only != "publish" {
		if rep.Copy, err = copyScenario(ctx, c, rn, []tool{pa, cr, rc}); err != nil {
			return err
		}
	}
	rep.LoadEnd = harness.LoadAverage()
	rep.print(os.Stdout)
	if err := harness.SaveResults(c.jsonOut, &rep); err != nil {
		return err
	}
	return nil
}

// rotate returns the tools in the order of one round: round r starts with
// tool r mod n, so over n rounds every tool takes every position once.
func rotate(tools []tool, round int) []tool {
	n := len(tools)
	k := ((round % n) + n) % n
	return append(append([]tool{}, tools[k:]...), tools[:k]...)
}

// roundLabel names the untimed passes: -1 warms up, 0 counts requests.
func roundLabel(round, rounds int) string {
	switch round {
	case -1:
		return "warm-up"
	case 0:
		return "counting"
	}
	return fmt.Sprintf("round %d/%d", round, rounds)
}
