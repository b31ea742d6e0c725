package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
)

// projectFlags locate polyarch.yaml and the local builder.
type projectFlags struct {
	file      string
	platforms string
	builder   string
	logDir    string
	// cache is set by the commands that build (cacheFlags.register).
	cache cacheFlags
}

func (f *projectFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "polyarch.yaml", "the project's config")
	fl.StringVar(&f.platforms, "platform", "", "only these platforms, comma-separated")
	fl.StringVar(&f.builder, "builder-dir", "", "state directory of the local builder node (default "+localnode.DefaultDir()+")")
	fl.StringVar(&f.logDir, "log-dir", "", "where each build's log is kept (default .polyarch/logs beside polyarch.yaml)")
}

func (f *projectFlags) load() (*config.Config, error) { return config.Load(f.file) }

func (f *projectFlags) logs(cfg *config.Config) string {
	if f.logDir != "" {
		return f.logDir
	}
	return filepath.Join(cfg.Dir, ".polyarch", "logs")
}

func (f *projectFlags) plan(cfg *config.Config, args []string, noArchTags bool) (*pipeline.Plan, error) {
	ps, err := parsePlatforms("platform", f.platforms)
	if err != nil {
		return nil, err
	}
	return pipeline.NewPlan(cfg, args, pipeline.Options{Platforms: ps, NoArchTags: noArchTags, NoCache: f.cache.noCache, NoCacheExport: f.cache.noExport})
}

func (f *projectFlags) localOptions(cfg *config.Config) localnode.Options {
	return localOptionsFor(cfg, f.builder)
}

// localOptionsFor locates the local builder node for a project, which
// pushes to the project's registry.
func localOptionsFor(cfg *config.Config, builderDir string) localnode.Options {
	o := localnode.Options{Dir: builderDir, Settings: registriesOf(cfg)}
	if cfg.Registry != "" {
		o.Registries = []string{cfg.Registry}
	}
	return o
}

func newBuildCmd(g *globals) *cobra.Command {
	var f projectFlags
	cmd := &cobra.Command{
		Use:   "build [IMAGE[@VERSION]...]",
		Short: "Build every platform of images from polyarch.yaml and push each under its arch-named ref",
		Long: `Build images from polyarch.yaml. Every (image, version, platform) is its own
BuildKit solve, run on the builder node that builds that platform natively,
else on the local node under QEMU emulation (started on demand), in parallel
up to each node's capacity. Each result is pushed under its arch-named ref.

Each build imports its BuildKit cache from the registry and exports it
there again (one ref per image, version and platform: images[].cache), so a
fresh builder node rebuilds an unchanged commit without running its steps;
--no-cache runs every step again, --no-cache-export leaves the registry's
cache alone.

BuildKit's own progress is streamed: on a terminal its tty view of every
build at once, each step under its build's name; elsewhere plain lines, each
prefixed with its build. Every build's whole log is kept in --log-dir. A failing platform shows its log
tail and error, the others go on, and the exit status is 1.`,
		Example: `  polyarch build                       # every image, version and platform
  polyarch build builder               # every version of builder
  polyarch build builder@2.4           # one version
  polyarch build agent --platform linux/arm64,linux/arm/v7`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			plan, err := f.plan(cfg, args, false)
			if err != nil {
				return err
			}
			nodes := builderNodes(g, cfg, &f)
			warnEmulatedCompiles(g, plan, nodes)
			as, err := nodes.Route(cmd.Context(), plan.Jobs())
			if err != nil {
				return err
			}
			opts := build.RunOptions{LogDir: f.logs(cfg), Console: g.stderr}
			if isTerminal(g.stderr) {
				// BuildKit's own terminal view of every build at once; each
				// build's plain log stays in --log-dir.
				d, err := buildkit.NewDisplay(cmd.Context(), g.stderr)
				if err != nil {
					return err
				}
				for _, n := range nodes.All() {
					n.Display = d
				}
				opts.Console = nil
				results := build.Run(cmd.Context(), as, opts)
				d.Close()
				printBuildTable(g.stdout, results)
				return buildFailures(g.stderr, results)
			}
			results := build.Run(cmd.Context(), as, opts)
			printBuildTable(g.stdout, results)
			return buildFailures(g.stderr, results)
		},
	}
	f.register(cmd)
	f.cache.register(cmd.Flags())
	return cmd
}

func printBuildTable(w io.Writer, rs []build.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tVERSION\tPLATFORM\tNODE\tMODE\tDIGEST\tDURATION\tRESULT")
	for _, r := range rs {
		mode := "emulated"
		if r.Native {
			mode = "native"
		}
		result, digest := "ok", short(r.Output.Digest)
		if r.Err != nil {
			result, digest = "FAILED", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Job.Image, orDash(r.Job.Version), platform.Format(r.Job.Platform), r.Node, mode, digest, r.Duration.Round(100*time.Millisecond), result)
	}
	tw.Flush()
}

// buildFailures prints each failed build's log tail and error, and returns
// an error counting them.
func buildFailures(w io.Writer, rs []build.Result) error {
	failed := 0
	for _, r := range rs {
		if r.Err == nil {
			continue
		}
		failed++
		fmt.Fprintf(w, "\n--- %s failed on node %s: %v\n", r.Job.Name(), r.Node, r.Err)
		if t := build.Tail(r.LogFile, 15); t != "" {
			fmt.Fprintf(w, "%s\n--- whole log: %s\n", t, r.LogFile)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d builds failed", failed, len(rs))
	}
	return nil
}

// warnEmulatedCompiles prints lint's emulation warnings before a build.
func warnEmulatedCompiles(g *globals, plan *pipeline.Plan, nodes pipeline.Nodes) {
	fs, err := pipeline.Lint(plan, nodes)
	if err != nil {
		fmt.Fprintf(g.stderr, "warning: lint: %v\n", err)
		return
	}
	printLint(g.stderr, fs)
}
