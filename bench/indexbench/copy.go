package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// copyRepo is where the copied image lives in both registries.
const copyRepo = "bench/multiarch:v1"

// copySample is one tool's cold copy in one round.
type copySample struct {
	Tool    string  `json:"tool"`
	Round   int     `json:"round"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s"`
	// CPU seconds (user+system) of the tool's process and of each registry
	// over the turn (the destination's include its start and stop).
	ToolCPU float64 `json:"tool_cpu_seconds"`
	SrcCPU  float64 `json:"source_registry_cpu_seconds"`
	DstCPU  float64 `json:"destination_registry_cpu_seconds"`
}

// copyResult is the copy scenario's input, samples and counts.
type copyResult struct {
	Digest    string             `json:"digest"`
	BlobBytes int64              `json:"blob_bytes"` // layers and configs
	Blobs     int                `json:"blobs"`
	Rounds    int                `json:"rounds"`
	DestDir   string             `json:"destination_dir"` // parent of the destination registries' roots
	SHA256    [2]float64         `json:"sha256_mb_per_s"` // one core, at start and end
	Samples   []copySample       `json:"samples"`
	Counts    map[string]counts  `json:"counts"` // tool -> counting pass, both registries
	Tools     []string           `json:"tools"`
	Medians   map[string]summary `json:"medians"`
	GoalRatio float64            `json:"goal_ratio"`
}

// copyScenario runs (b): one source registry holds the image; every turn
// copies it, every platform, into a fresh registry over an empty root.
func copyScenario(ctx context.Context, c config, rn *runner, tools []tool) (*copyResult, error) {
	dir := filepath.Join(c.work, "copy")
	src, err := harness.StartPolyarch(ctx, c.polyarch, filepath.Join(dir, "source"))
	if err != nil {
		return nil, err
	}
	defer src.Stop()
	digest, bytes, blobs, err := pushLayout(ctx, c.layout, src.Addr+"/"+copyRepo)
	if err != nil {
		return nil, err
	}
	res := &copyResult{Digest: digest, BlobBytes: bytes, Blobs: blobs, Rounds: c.copyRounds, Counts: map[string]counts{}, GoalRatio: 0.9}
	for _, t := range tools {
		res.Tools = append(res.Tools, t.name)
	}
	dstRoot := dir
	if c.copyDest != "" {
		if dstRoot, err = os.MkdirTemp(c.copyDest, "indexbench-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dstRoot)
	}
	res.DestDir = dstRoot
	res.SHA256[0] = sha256Limit()
	fmt.Printf("\n(b) cold copy of %s: %.0f MB in %d blobs, between two registries, a fresh destination each turn (roots in %s); SHA-256 on one core %.0f MB/s\n",
		digest, harness.MB(bytes), blobs, dstRoot, res.SHA256[0])

	for round := -1; round <= c.copyRounds; round++ {
		label := roundLabel(round, c.copyRounds)
		for _, t := range rotate(tools, round) {
			dstDir := filepath.Join(dstRoot, fmt.Sprintf("%s-%d", t.name, round+1))
			smp, cnt, err := copyTurn(ctx, c, rn, t, src, dstDir, digest, bytes, round == 0)
			if err != nil {
				return nil, fmt.Errorf("copy, %s, %s: %w", label, t.name, err)
			}
			smp.Round = round
			fmt.Printf("%-12s %-8s copy %6.3fs %6.1f MB/s   CPU: tool %5.2fs, source registry %5.2fs, destination registry %5.2fs\n",
				label, t.name, smp.Seconds, smp.MBps, smp.ToolCPU, smp.SrcCPU, smp.DstCPU)
			if round == 0 {
				res.Counts[t.name] = cnt
				if err := writeTrace(c.trace, "copy-"+t.name, cnt); err != nil {
					return nil, err
				}
			}
			if round > 0 {
				res.Samples = append(res.Samples, smp)
			}
		}
	}
	res.SHA256[1] = sha256Limit()
	res.summarise()
	return res, nil
}

// copyTurn starts an empty destination registry, times the tool's copy
// into it (through counting proxies when counting), checks that the
// destination serves the source's digest, and stops it, deleting its root.
func copyTurn(ctx context.Context, c config, rn *runner, t tool, src *harness.Server, dir, digest string, bytes int64, counting bool) (copySample, counts, error) {
	smp := copySample{Tool: t.name}
	var cnt counts
	defer os.RemoveAll(dir)
	dst, err := harness.StartPolyarch(ctx, c.polyarch, dir)
	if err != nil {
		return smp, cnt, err
	}
	defer dst.Stop()
	srcHost, dstHost := src.Addr, dst.Addr
	var ps, pd *proxy
	if counting {
		if ps, err = startProxy(src.Addr); err != nil {
			return smp, cnt, err
		}
		defer ps.close()
		if pd, err = startProxy(dst.Addr); err != nil {
			return smp, cnt, err
		}
		defer pd.close()
		srcHost, dstHost = ps.addr, pd.addr
	}

	// Write back what earlier turns left dirty, so no copy pays for
	// another's writeback.
	syscall.Sync()
	before := src.CPUSoFar()
	tm, err := rn.run(ctx, t.copy(srcHost+"/"+copyRepo, dstHost+"/"+copyRepo, []string{srcHost, dstHost}))
	if err != nil {
		return smp, cnt, err
	}
	after := src.CPUSoFar()
	if counting {
		cnt = ps.take().add(pd.take())
	}

	ref, err := name.ParseReference(dst.Addr + "/" + copyRepo)
	if err != nil {
		return smp, cnt, err
	}
	d, err := remote.Head(ref, remote.WithContext(ctx))
	if err != nil {
		return smp, cnt, fmt.Errorf("checking the copy: %w", err)
	}
	if d.Digest.String() != digest {
		return smp, cnt, fmt.Errorf("destination has %s, want %s", d.Digest, digest)
	}
	dst.Stop()
	smp.Seconds = tm.wall.Seconds()
	smp.MBps = harness.MB(bytes) / tm.wall.Seconds()
	smp.ToolCPU = tm.cpu.Seconds()
	smp.SrcCPU = (after - before).Seconds()
	smp.DstCPU = dst.CPU().Seconds()
	return smp, cnt, nil
}
