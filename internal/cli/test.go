package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
)

func newTestCmd(g *globals) *cobra.Command {
	var (
		rf       remoteFlags
		specFile string
		cfgFile  string
		builder  string
		plat     string
		junit    string
		asJSON   bool
		ignore   []string
	)
	cmd := &cobra.Command{
		Use:   "test [IMAGE...|REF]",
		Short: "Test each per-arch image on its own architecture, by digest",
		Long: `Test each per-architecture image on its own platform, through BuildKit on the
node that serves that platform (natively, or under QEMU on the local node),
addressing each image by digest.

With IMAGE names (or none), the images of polyarch.yaml are tested: each
per-arch image its last build pushed, with the spec under images[].test.
With a REF, every platform of that image or index is tested with the spec
given by -f.

Every image also gets the automatic architecture test: 'uname -m' inside it
matches its platform, and no layer holds a binary of another architecture.
Results are a table (platform x test); --junit writes JUnit XML for CI
systems, --json the results. Exit status 1 when a test fails.`,
		Example: `  polyarch test                                  # every image of polyarch.yaml
  polyarch test agent --junit results.xml
  polyarch test 127.0.0.1:5000/org/agent:v1.4 -f tests.yaml --platform linux/arm64`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ps, err := parsePlatforms("platform", plat)
			if err != nil {
				return err
			}
			cfg, cfgErr := loadOptionalConfig(cfgFile)
			refMode := len(args) == 1 && (cfg == nil || !hasImage(cfg, args[0]))
			if !refMode && cfgErr != nil {
				return cfgErr
			}
			if !refMode && cfg == nil {
				return usagef("no polyarch.yaml here: give an image reference (polyarch test REF -f tests.yaml) or --config")
			}
			opts := rf.client().Remote(ctx)
			var jobs []imagetest.Job
			if refMode {
				spec := &imagetest.Spec{}
				if specFile != "" {
					if spec, err = imagetest.LoadSpec(specFile); err != nil {
						return err
					}
				}
				ref, err := rf.parseRef("REF", args[0])
				if err != nil {
					return err
				}
				targets, err := targetsOf(ctx, ref, ps, opts)
				if err != nil {
					return err
				}
				for _, t := range targets {
					jobs = append(jobs, imagetest.Job{Target: t, Spec: spec})
				}
			} else {
				if specFile != "" {
					return usagef("-f is for testing a REF; the images of polyarch.yaml use their own test: spec")
				}
				if jobs, err = configJobs(ctx, cfg, args, ps, opts); err != nil {
					return err
				}
			}
			if cfg == nil {
				cfg = &config.Config{}
			}
			nodes := pipeline.NodesFor(cfg, localOptionsFor(cfg, builder))
			nodeFor := func(ctx context.Context, p v1.Platform) (imagetest.Executor, error) { return nodes.ForPlatform(ctx, p) }
			results, err := imagetest.RunAll(ctx, jobs, nodeFor, imagetest.Options{Remote: opts, Log: discardUnlessDebug(g), Ignore: ignore})
			if err != nil {
				return err
			}
			return reportTests(g, results, junit, asJSON)
		},
	}
	rf.register(cmd)
	f := cmd.Flags()
	f.StringVarP(&specFile, "file", "f", "", "test spec (YAML) for a REF")
	f.StringVar(&cfgFile, "config", "", "polyarch.yaml (default ./polyarch.yaml)")
	f.StringVar(&builder, "builder-dir", "", "state directory of the local builder node")
	f.StringVar(&plat, "platform", "", "only these platforms, comma-separated")
	f.StringVar(&junit, "junit", "", "write JUnit XML results to this file")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	f.StringArrayVar(&ignore, "ignore", nil, "glob of paths the layer scan skips (repeatable)")
	return cmd
}

// reportTests prints results, writes JUnit, and fails when a test failed.
func reportTests(g *globals, results []imagetest.Result, junit string, asJSON bool) error {
	if junit != "" {
		f, err := os.Create(junit)
		if err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
		if err := imagetest.WriteJUnit(f, results); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", junit, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if asJSON {
		if err := writeJSON(g.stdout, results); err != nil {
			return err
		}
	} else {
		imagetest.WriteTable(g.stdout, results)
	}
	if s := imagetest.Summarize(results); s.Failed > 0 {
		return fmt.Errorf("%d of %d tests failed", s.Failed, len(results))
	}
	return nil
}

func loadOptionalConfig(file string) (*config.Config, error) {
	if file == "" {
		if _, err := os.Stat("polyarch.yaml"); err != nil {
			return nil, nil
		}
		file = "polyarch.yaml"
	}
	return config.Load(file)
}

func hasImage(cfg *config.Config, name string) bool {
	_, ok := cfg.Image(name)
	return ok
}

// targetsOf pins each platform of ref (an index or an image) by digest.
func targetsOf(ctx context.Context, ref name.Reference, only []v1.Platform, opts []remote.Option) ([]*imagetest.Target, error) {
	ins, err := index.Inspect(ctx, ref, opts...)
	if err != nil {
		return nil, err
	}
	var out []*imagetest.Target
	for _, m := range ins.Manifests {
		if m.AttestationFor != "" || !m.MediaType.IsImage() {
			continue
		}
		t, err := imagetest.TargetByDigest(ctx, ref.Context().Digest(m.Digest), opts...)
		if err != nil {
			return nil, err
		}
		if len(only) > 0 && !platform.Contains(only, t.Platform) {
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no image for %s", ref, formatList(only))
	}
	return out, nil
}

// configJobs pins the per-arch images of polyarch.yaml's images by digest.
func configJobs(ctx context.Context, cfg *config.Config, args []string, only []v1.Platform, opts []remote.Option) ([]imagetest.Job, error) {
	plan, err := pipeline.NewPlan(cfg, args, pipeline.Options{Platforms: only})
	if err != nil {
		return nil, err
	}
	var jobs []imagetest.Job
	for _, u := range plan.Units {
		spec, err := pipeline.TestSpec(cfg, u.Image)
		if err != nil {
			return nil, err
		}
		for _, t := range u.Targets {
			ref, err := name.ParseReference(t.Job.Ref)
			if err != nil {
				return nil, err
			}
			desc, err := remote.Head(ref, opts...)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %s is not in the registry (build it first: polyarch build %s): %w", u.Name(), platform.Format(t.Platform), ref, u.Name(), err)
			}
			target, err := imagetest.TargetByDigest(ctx, ref.Context().Digest(desc.Digest.String()), opts...)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, imagetest.Job{Target: target, Spec: spec})
		}
	}
	return jobs, nil
}

func formatList(ps []v1.Platform) string {
	if len(ps) == 0 {
		return "any platform"
	}
	return platform.FormatList(ps)
}
