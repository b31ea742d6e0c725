// Command verifybench measures polyarch's layer scan (verify's ELF check)
// against plain `gunzip -c > /dev/null` on the same 512 MiB of gzip layers,
// taking turns, and prints MB/s for each and the ratios. Goal: the scan at
// no less than 0.7 of gunzip's speed.
//
// It generates the layers once into -work (deterministic: ChaCha8 streams
// seeded by -seed), pushes them as one linux/amd64 image to a `polyarch
// registry serve` it starts on a loopback port, then runs one untimed
// warm-up round and -rounds timed ones. Each round times, in an order that
// reverses every round:
//
//   - gunzip: `gunzip -c LAYER > /dev/null` for each layer file, one after
//     the other (Debian's gzip, single-threaded);
//   - scan: verify.ScanLayer on each layer file, one after the other (the
//     same single stream of work as gunzip: decompress, walk the tar, read
//     every file's ELF header);
//   - verify -jobs 1 and verify -jobs J: verify.Verify of the image from the
//     registry, as `polyarch verify` runs it, one layer at a time and J at
//     once (the CLI's default is 8).
//
// MB/s are decimal megabytes of gzip bytes per second. bench/verify.sh
// builds everything and runs it.
//
//	verifybench -work DIR -polyarch bin/polyarch [-rounds 5] [-mib 512] [-layers 16]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/verify"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

type config struct {
	work     string
	polyarch string
	gunzip   string
	rounds   int
	mib      int
	layers   int
	jobs     int
	seed     uint64
	timeout  time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.work, "work", "", "scratch directory for the layers and the registry's root (required)")
	flag.StringVar(&c.polyarch, "polyarch", "bin/polyarch", "polyarch binary, for `registry serve`")
	flag.StringVar(&c.gunzip, "gunzip", "gunzip", "the gunzip to compare with")
	flag.IntVar(&c.rounds, "rounds", 5, "timed rounds after one warm-up")
	flag.IntVar(&c.mib, "mib", 512, "gzip bytes to generate, in MiB")
	flag.IntVar(&c.layers, "layers", 16, "layers to split them into")
	flag.IntVar(&c.jobs, "jobs", client.DefaultJobs, "layers verify scans at once in the concurrent end-to-end turn")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the generated content")
	flag.DurationVar(&c.timeout, "timeout", 15*time.Minute, "give up after this long")
	flag.Parse()

	harness.Run("verifybench", func(ctx context.Context) error { return run(ctx, c) })
}

// turn is one timed measurement.
type turn struct {
	name string
	fn   func(context.Context) error
}

func run(ctx context.Context, c config) error {
	if c.work == "" {
		return errors.New("-work is required")
	}
	if c.rounds < 1 || c.mib < 1 || c.layers < 1 || c.jobs < 1 {
		return errors.New("-rounds, -mib, -layers and -jobs must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	gunzipPath, err := exec.LookPath(c.gunzip)
	if err != nil {
		return err
	}
	gzipVersion, _ := exec.Command(gunzipPath, "--version").Output()

	fmt.Printf("==> generating %d MiB of gzip layers in %d layers\n", c.mib, c.layers)
	start := time.Now()
	layers, err := generate(c.work, int64(c.mib)<<20, c.layers, c.seed)
	if err != nil {
		return err
	}
	var gz, tarBytes int64
	var files, elfFiles, foreign int
	for _, l := range layers {
		gz += l.size
		tarBytes += l.uncompressed
		files += l.files
		elfFiles += l.elfFiles
		foreign += l.foreign
	}
	fmt.Printf("    %d layers: %.1f MB gzip, %.1f MB tar (%.2f:1), %d files, %d ELF (%d not x86-64), in %s\n",
		len(layers), harness.MB(gz), harness.MB(tarBytes), float64(tarBytes)/float64(gz), files, elfFiles, foreign, time.Since(start).Round(100*time.Millisecond))

	fmt.Println("==> starting polyarch registry serve and pushing the image")
	reg, err := harness.StartPolyarch(ctx, c.polyarch, c.work)
	if err != nil {
		return err
	}
	defer reg.Stop()
	ref, err := name.ParseReference(reg.Addr + "/bench/verify:v1")
	if err != nil {
		return err
	}
	img, err := benchImage(layers)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, client.Options{}.Remote(ctx)...); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}

	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()
	verifyTurn := func(jobs int) func(context.Context) error {
		return func(ctx context.Context) error {
			o := client.Options{Jobs: jobs}
			rep, err := verify.Verify(ctx, ref, verify.WithRemote(o.Remote(ctx)...), verify.WithConcurrency(jobs))
			if err != nil {
				return err
			}
			if s := rep.Summary; s.Layers != len(layers) || s.ELFFiles != elfFiles || s.Findings != foreign {
				return fmt.Errorf("verify saw %d layers, %d ELF files, %d findings; the image has %d, %d, %d", s.Layers, s.ELFFiles, s.Findings, len(layers), elfFiles, foreign)
			}
			return nil
		}
	}
	turns := []turn{
		{"gunzip", func(ctx context.Context) error {
			for _, l := range layers {
				cmd := exec.CommandContext(ctx, gunzipPath, "-c", l.path)
				var stderr strings.Builder
				cmd.Stdout, cmd.Stderr = devNull, &stderr
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("gunzip -c %s: %v %s", l.path, err, stderr.String())
				}
			}
			return nil
		}},
		{"scan", func(ctx context.Context) error {
			var nELF, nFindings int
			for _, l := range layers {
				f, err := os.Open(l.path)
				if err != nil {
					return err
				}
				findings, stats, err := verify.ScanLayer(f, amd64)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", l.path, err)
				}
				nELF += stats.ELFFiles
				nFindings += len(findings)
			}
			if nELF != elfFiles || nFindings != foreign {
				return fmt.Errorf("scan saw %d ELF files and %d findings, want %d and %d", nELF, nFindings, elfFiles, foreign)
			}
			return nil
		}},
		{"verify -jobs 1", verifyTurn(1)},
		{fmt.Sprintf("verify -jobs %d", c.jobs), verifyTurn(c.jobs)},
	}

	fmt.Printf("==> %s, GOMAXPROCS %d, %s; load average %s\n", firstLine(gzipVersion), runtime.GOMAXPROCS(0), runtime.Version(), loadavg())
	fmt.Printf("==> 1 warm-up round, then %d timed rounds; the order of turns reverses every round\n", c.rounds)
	samples := map[string][]float64{}
	for round := 0; round <= c.rounds; round++ {
		order := slices.Clone(turns)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		var line []string
		for _, t := range order {
			exec.Command("sync").Run()
			start := time.Now()
			if err := t.fn(ctx); err != nil {
				return fmt.Errorf("round %d, %s: %w", round, t.name, err)
			}
			rate := harness.MB(gz) / time.Since(start).Seconds()
			if round > 0 {
				samples[t.name] = append(samples[t.name], rate)
			}
			line = append(line, fmt.Sprintf("%s %.1f", t.name, rate))
		}
		label := fmt.Sprintf("round %d", round)
		if round == 0 {
			label = "warm-up"
		}
		fmt.Printf("%-8s MB/s: %s\n", label, strings.Join(line, ", "))
	}

	base := harness.Median(samples["gunzip"])
	fmt.Printf("\nmedians over %d rounds, MB/s of gzip input (%.1f MB gzip, %.1f MB tar):\n", c.rounds, harness.MB(gz), harness.MB(tarBytes))
	fmt.Printf("  %-44s %7.1f\n", "gunzip -c > /dev/null, one layer at a time", base)
	for _, t := range turns[1:] {
		desc := map[string]string{
			"scan":           "ScanLayer from local files, one at a time",
			"verify -jobs 1": "Verify from the registry, one layer at a time",
		}[t.name]
		if desc == "" {
			desc = fmt.Sprintf("Verify from the registry, %d layers at once", c.jobs)
		}
		m := harness.Median(samples[t.name])
		var perRound []float64
		for i, s := range samples[t.name] {
			perRound = append(perRound, s/samples["gunzip"][i])
		}
		fmt.Printf("  %-44s %7.1f   ratio %.2f (median of round ratios %.2f)\n", desc, m, m/base, harness.Median(perRound))
	}
	scanRatio := harness.Median(samples["scan"]) / base
	verdict := "met"
	if scanRatio < 0.7 {
		verdict = "NOT met"
	}
	fmt.Printf("goal: scan >= 0.7 of gunzip: %s (%.2f); load average now %s\n", verdict, scanRatio, loadavg())
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}
