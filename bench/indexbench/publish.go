package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// publishSample is one tool's turn in one round: a publish into a new
// target repository, then the same command again.
type publishSample struct {
	Tool             string  `json:"tool"`
	Round            int     `json:"round"`
	PublishSeconds   float64 `json:"publish_seconds"`
	PublishCPU       float64 `json:"publish_cpu_seconds"`
	RepublishSeconds float64 `json:"republish_seconds"`
	RepublishCPU     float64 `json:"republish_cpu_seconds"`
}

// publishResult is the publish scenario's input, samples and counts.
type publishResult struct {
	Platforms  int                `json:"platforms"`
	BlobBytes  int64              `json:"source_blob_bytes"` // of the 5 arch images together
	Rounds     int                `json:"rounds"`
	Samples    []publishSample    `json:"samples"`
	Publish    map[string]counts  `json:"publish_counts"`   // tool -> counting pass
	Republish  map[string]counts  `json:"republish_counts"` // tool -> counting pass
	Tools      []string           `json:"tools"`
	Medians    map[string]summary `json:"medians"` // "publish/<tool>", "republish/<tool>"
	GoalRatio  float64            `json:"goal_ratio"`
	GoalBlobUp int64              `json:"goal_blob_bytes"`
}

// publishScenario runs (a) and (c): one registry holds the five arch-named
// images; every turn publishes them as one index into a repository no tool
// has used (so nothing is present yet and blobs must be mounted or copied),
// then runs the same command again.
func publishScenario(ctx context.Context, c config, rn *runner, tools []tool) (*publishResult, error) {
	dir := filepath.Join(c.work, "publish")
	reg, err := harness.StartPolyarch(ctx, c.polyarch, dir)
	if err != nil {
		return nil, err
	}
	defer reg.Stop()
	px, err := startProxy(reg.Addr)
	if err != nil {
		return nil, err
	}
	defer px.close()

	srcs, template, want, blobBytes, err := pushArchImages(ctx, reg.Addr, c.layers, c.layerBytes)
	if err != nil {
		return nil, err
	}
	res := &publishResult{
		Platforms: len(srcs), BlobBytes: blobBytes, Rounds: c.publishRounds,
		Publish: map[string]counts{}, Republish: map[string]counts{},
		GoalRatio: 1.0, GoalBlobUp: 0,
	}
	for _, t := range tools {
		res.Tools = append(res.Tools, t.name)
	}
	fmt.Printf("\n(a) publish: %d arch-named images (%d x %d layers x %.1f MB, %.1f MB of blobs) -> one index in the same registry; (c) the same command again\n",
		len(srcs), len(srcs), c.layers, harness.MB(c.layerBytes), harness.MB(blobBytes))

	for round := -1; round <= c.publishRounds; round++ {
		label := roundLabel(round, c.publishRounds)
		for _, t := range rotate(tools, round) {
			// In the counting pass the tools reach the registry through
			// the proxy, by its address.
			host := reg.Addr
			if round == 0 {
				host = px.addr
				px.take()
			}
			at := func(s string) string { return strings.Replace(s, reg.Addr, host, 1) }
			var hostSrcs []source
			for _, s := range srcs {
				hostSrcs = append(hostSrcs, source{ref: at(s.ref), platform: s.platform})
			}
			repo := fmt.Sprintf("pub/%s-%d", t.name, round+1)
			target := host + "/" + repo + ":v1"
			cmds := t.publish(hostSrcs, at(template), target, []string{host})

			first, err := rn.run(ctx, cmds)
			if err != nil {
				return nil, fmt.Errorf("publish, %s, %s: %w", label, t.name, err)
			}
			if err := checkIndex(ctx, reg.Addr+"/"+repo+":v1", want); err != nil {
				return nil, fmt.Errorf("publish, %s, %s: %w", label, t.name, err)
			}
			if round == 0 {
				res.Publish[t.name] = px.take()
				if err := writeTrace(c.trace, "publish-"+t.name, res.Publish[t.name]); err != nil {
					return nil, err
				}
			}
			again, err := rn.run(ctx, cmds)
			if err != nil {
				return nil, fmt.Errorf("republish, %s, %s: %w", label, t.name, err)
			}
			if err := checkIndex(ctx, reg.Addr+"/"+repo+":v1", want); err != nil {
				return nil, fmt.Errorf("republish, %s, %s: %w", label, t.name, err)
			}
			if round == 0 {
				res.Republish[t.name] = px.take()
				if err := writeTrace(c.trace, "republish-"+t.name, res.Republish[t.name]); err != nil {
					return nil, err
				}
			}
			fmt.Printf("%-12s %-8s publish %6.3fs (CPU %5.3fs)   republish %6.3fs (CPU %5.3fs)\n",
				label, t.name, first.wall.Seconds(), first.cpu.Seconds(), again.wall.Seconds(), again.cpu.Seconds())
			if round > 0 {
				res.Samples = append(res.Samples, publishSample{
					Tool: t.name, Round: round,
					PublishSeconds: first.wall.Seconds(), PublishCPU: first.cpu.Seconds(),
					RepublishSeconds: again.wall.Seconds(), RepublishCPU: again.cpu.Seconds(),
				})
			}
		}
	}
	res.summarise()
	return res, nil
}

// checkIndex reads ref straight from the registry (not through the proxy)
// and checks that it is an index of exactly the wanted children: platform
// -> manifest digest.
func checkIndex(ctx context.Context, ref string, want map[string]string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	idx, err := remote.Index(r, remote.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("reading %s: %w", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading %s: %w", ref, err)
	}
	got := map[string]string{}
	for _, m := range im.Manifests {
		p := "none"
		if m.Platform != nil {
			p = formatPlatform(*m.Platform)
		}
		got[p] = m.Digest.String()
	}
	if len(im.Manifests) != len(want) || len(got) != len(want) {
		return fmt.Errorf("%s lists %d manifests (%v), want %d", ref, len(im.Manifests), got, len(want))
	}
	for p, d := range want {
		if got[p] != d {
			return fmt.Errorf("%s: %s is %q, want %s", ref, p, got[p], d)
		}
	}
	return nil
}
