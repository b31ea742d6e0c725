package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/pipeline"
)

func newTestCmd(g *globals) *cobra.Command {
	var (
		rf       remoteFlags
		cfgFile  string
		specFile string
		builder  string
		plat     string
		junit    string
		asJSON   bool
		ignore   []string
	)
	cmd := &cobra.Command{
		Use:   "test [IMAGE[@VERSION]...|REF]",
		Short: "Test each per-arch image on its own architecture, by digest",
		Long: `Test each per-architecture image on its own platform, through BuildKit on the
node that serves that platform (natively, or under QEMU on the local node),
addressing each image by digest.

With IMAGE or IMAGE@VERSION selectors, as build and release take them (or
none: every image), the images of polyarch.yaml are tested: each per-arch
image its last build pushed, with the spec under images[].test. An argument
that selects no image of polyarch.yaml is a REF: every platform of that
image or index is tested with the spec given by --spec.

Every image also gets the automatic architecture test: 'uname -m' inside it
matches its platform, and no layer holds a binary of another architecture.
Results are a table (platform x test); --junit writes JUnit XML for CI
systems, --json the results. Exit status 1 when a test fails or cannot run, 2
when the command line is wrong.`,
		Example: `  polyarch test                                  # every image of polyarch.yaml
  polyarch test builder@2.4 --junit results.xml  # one version of one image
  polyarch test 127.0.0.1:5000/org/agent:v1.4 --spec tests.yaml --platform linux/arm64`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ps, err := parsePlatforms("platform", plat)
			if err != nil {
				return err
			}
			cfg, err := loadOptionalConfig(cfgFile)
			if err != nil {
				return err
			}
			o := pipeline.TestOptions{Platforms: ps, Client: rf.forProject(cfg)}
			if specFile != "" {
				if o.Spec, err = imagetest.LoadSpec(specFile); err != nil {
					return err
				}
			}
			jobs, err := pipeline.TestJobs(ctx, cfg, args, o)
			switch {
			case errors.Is(err, pipeline.ErrSpecForConfig):
				return usagef("--spec %s: %v", specFile, err)
			case errors.Is(err, pipeline.ErrTestArgs):
				return usageError{err}
			case err != nil:
				return err
			}
			if cfg == nil {
				cfg = &config.Config{}
			}
			nodes := pipeline.NodesFor(cfg, localOptionsFor(cfg, builder))
			nodeFor := func(ctx context.Context, p v1.Platform) (imagetest.Executor, error) { return nodes.ForPlatform(ctx, p) }
			results, err := imagetest.RunAll(ctx, jobs, nodeFor, imagetest.Options{Remote: rf.forProject(cfg).Remote(ctx), Log: discardUnlessDebug(g), Ignore: ignore})
			if err != nil {
				return err
			}
			return reportTests(g, results, junit, asJSON)
		},
	}
	rf.register(cmd)
	f := cmd.Flags()
	f.StringVarP(&cfgFile, "file", "f", "", "the project's polyarch.yaml: its images, their tests and its builders (default ./polyarch.yaml if present)")
	f.StringVarP(&specFile, "spec", "s", "", "test spec (YAML) for a REF; images of polyarch.yaml use their own test:")
	f.StringVar(&builder, "builder-dir", "", "state directory of the local builder node (default "+localnode.DefaultDir()+")")
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

// loadOptionalConfig loads file, or ./polyarch.yaml when file is "" and it
// exists; nil when there is none.
func loadOptionalConfig(file string) (*config.Config, error) {
	if file == "" {
		if _, err := os.Stat("polyarch.yaml"); err != nil {
			return nil, nil
		}
		file = "polyarch.yaml"
	}
	return config.Load(file)
}
