package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/report"
)

func newReleaseCmd(g *globals) *cobra.Command {
	var (
		f          projectFlags
		rf         remoteFlags
		registry   string
		dryRun     bool
		noArchTags bool
		jsonReport string
		htmlReport string
		quietBuild bool
		requirePub bool
		force      bool
	)
	cmd := &cobra.Command{
		Use:   "release [IMAGE[@VERSION]...]",
		Short: "Build, push, test and publish: the whole pipeline, with an atomic publish",
		Long: `Release images from polyarch.yaml: plan images x versions x platforms, build
every platform in parallel on its node, push the arch-named refs, test each
per-arch image by digest, then publish each image version's multi-arch index
(and its extra tags, last), and check from every platform's point of view that
the published name gives that platform's tested digest.

An index is written only when every required platform built and passed its
tests; otherwise the previously published index is left untouched and the
failing image, version and platform are named. Optional platforms that fail
are left out and reported. A rerun rebuilds from BuildKit's cache (kept in
the registry too, per image, version and platform, so a fresh builder node
has it: --no-cache, --no-cache-export), skips tests
that passed for the same digest and spec (their results are kept in the
registry as referrers), and never republishes an unchanged index.

The publish step looks at every platform of the image, not only this run's:
a release split across CI runners runs 'polyarch release --platform P' on
each, and the runner whose platform completes the set publishes. For the
platforms it did not build it reads, from the registry alone, the image at
the arch ref, the commit it was built from and its test record; until every
required platform is there, passed, and is of this commit, the image version
is "waiting" (exit 0: the runner did its part; --require-publish makes it
exit 1), each platform named with what it waits for. An index of a newer
commit is never replaced ("superseded"; --force does). 'polyarch publish' is
the publish step alone, for a last job.

A JSON report (--report) and a self-contained HTML report (--html, default
.polyarch/report.html beside polyarch.yaml) describe every ref, digest,
platform, node, duration and test result.`,
		Example: `  polyarch release                      # every image
  polyarch release builder@2.4          # one version of one image
  polyarch release --dry-run            # the plan: refs, nodes, native or emulated
  polyarch release --platform linux/arm64   # one CI runner's share of the release
  polyarch release --report run.json --html run.html`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// Load and plan check the whole file (test specs, every rendered
			// tag and archRef) before anything is built, dry run or not.
			cfg, err := f.load()
			if err != nil {
				return err
			}
			if registry != "" {
				cfg.Registry = registry
			}
			plan, err := f.plan(cfg, args, noArchTags)
			if err != nil {
				return err
			}
			nodes := builderNodes(g, cfg, &f)
			if dryRun {
				if err := printPlan(g.stdout, plan, nodes); err != nil {
					return err
				}
				printPreview(ctx, g.stdout, plan, rf.forProject(cfg).Remote(ctx))
				return nil
			}
			// A sign: section that cannot be honoured is refused before anything is built.
			signing, err := pipeline.SigningFromConfig(cfg)
			if err != nil {
				return err
			}
			warnEmulatedCompiles(g, plan, nodes)
			sayReferrers(ctx, g.stderr, plan, rf.forProject(cfg).Remote(ctx))
			var buildLog io.Writer
			if !quietBuild {
				buildLog = g.stderr
			}
			view := newReleaseView(g.stdout, plan, "release")
			if view.tty && !quietBuild {
				// BuildKit's plain lines would scroll the matrix away.
				buildLog = nil
			}
			rep, relErr := pipeline.Release(ctx, plan, nodes, pipeline.ReleaseOptions{
				LogDir: f.logs(cfg), Remote: rf.forProject(cfg).Remote(ctx), OnEvent: view.Event, BuildLog: buildLog, Force: force,
				Signing: signing,
			})
			if rep == nil {
				return relErr
			}
			if jsonReport != "" {
				if err := writeFile(jsonReport, func(w io.Writer) error { return report.WriteJSON(w, rep) }); err != nil {
					return err
				}
			}
			if htmlReport == "" {
				htmlReport = filepath.Join(cfg.Dir, ".polyarch", "report.html")
			}
			if err := writeFile(htmlReport, func(w io.Writer) error { return report.WriteHTML(w, rep) }); err != nil {
				return err
			}
			printSummary(g.stdout, rep)
			fmt.Fprintf(g.stdout, "report: %s\n", htmlReport)
			if relErr == nil && requirePub {
				return requirePublished(rep)
			}
			return relErr
		},
	}
	f.register(cmd)
	f.cache.register(cmd.Flags())
	rf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&registry, "registry", "", "registry for repositories that name none (overrides polyarch.yaml's registry:)")
	fl.BoolVar(&dryRun, "dry-run", false, "print the plan: every ref to be pushed, the node of each platform, native or emulated")
	fl.BoolVar(&noArchTags, "no-arch-tags", false, "push per-arch images by digest only, into the index's repository")
	fl.StringVar(&jsonReport, "report", "", "write the run report as JSON to this file")
	fl.StringVar(&htmlReport, "html", "", "write the HTML report here (default .polyarch/report.html beside polyarch.yaml)")
	fl.BoolVar(&force, "force", false, "publish even over an index (or beside platforms) built from a newer commit")
	fl.BoolVar(&requirePub, "require-publish", false, "exit 1 unless every image version is published or unchanged (a runner's waiting or superseded is exit 0 without it)")
	fl.BoolVar(&quietBuild, "quiet-build", false, "do not stream BuildKit's progress (each build's log is still kept; on a terminal the live matrix replaces it)")
	return cmd
}

func writeFile(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// printPlan prints where each target is built; a required platform that no
// node can build is an error naming it and why, an optional one is left out.
func printPlan(w io.Writer, plan *pipeline.Plan, nodes pipeline.Nodes) error {
	var unserved build.UnservedErrors
	for _, u := range plan.Units {
		fmt.Fprintf(w, "%s: index %s", u.Name(), u.IndexRef())
		if len(u.Tags) > 1 {
			fmt.Fprintf(w, " (also tagged %s)", strings.Join(u.Tags[1:], ", "))
		}
		fmt.Fprintln(w)
		for _, t := range u.Targets {
			node, native, err := nodes.Describe(t.Platform)
			opt := ""
			if t.Optional {
				opt = " (optional)"
			}
			ref := t.Job.Ref
			if t.Job.ByDigest {
				ref += "@<digest>"
			}
			if err != nil {
				if t.Optional {
					fmt.Fprintf(w, "  %-14s %s left out (optional): %v\n", platform.Format(t.Platform), ref, err)
				} else {
					fmt.Fprintf(w, "  %-14s %s CANNOT BE BUILT: %v\n", platform.Format(t.Platform), ref, err)
					unserved = append(unserved, fmt.Errorf("%s %s: %w", u.Name(), platform.Format(t.Platform), err))
				}
				continue
			}
			fmt.Fprintf(w, "  %-14s %s on %s, %s%s\n", platform.Format(t.Platform), ref, node, mode(native), opt)
		}
	}
	if len(unserved) > 0 {
		return unserved
	}
	return nil
}

// printPreview says, for each unit this run builds only some platforms of,
// what its publish step would wait for given what the registry holds now.
func printPreview(ctx context.Context, w io.Writer, plan *pipeline.Plan, remote []remote.Option) {
	for _, u := range plan.Units {
		if len(u.Targets) == len(u.Image.TargetPlatforms()) {
			continue
		}
		res, err := pipeline.PreviewPublish(ctx, plan.Config, u, pipeline.PublishOptions{Remote: remote})
		if err != nil {
			fmt.Fprintf(w, "%s: this run builds %s; could not read the registry for the others: %v\n", u.Name(), targetList(u), err)
			continue
		}
		fmt.Fprintf(w, "%s: this run builds %s; its publish step ", u.Name(), targetList(u))
		switch res.Outcome {
		case pipeline.WouldPublish:
			fmt.Fprintf(w, "would publish %s once they pass: every other platform is ready\n", u.IndexRef())
		case pipeline.Superseded:
			fmt.Fprintf(w, "would publish nothing: %s\n", res.Reason)
		default:
			fmt.Fprintf(w, "%s\n", res.Reason)
		}
		printStates(w, res.State)
	}
}

func targetList(u *pipeline.Unit) string {
	ps := make([]string, len(u.Targets))
	for i, t := range u.Targets {
		ps[i] = platform.Format(t.Platform)
	}
	return strings.Join(ps, ", ")
}

// requirePublished fails unless every unit's index is published or unchanged.
func requirePublished(rep *pipeline.Report) error {
	var not []string
	for _, u := range rep.Units {
		if !u.Status.Published() {
			not = append(not, fmt.Sprintf("%s %s: %s", u.Name, u.Status, u.Reason))
		}
	}
	if len(not) > 0 {
		return fmt.Errorf("--require-publish: %s", strings.Join(not, "; "))
	}
	return nil
}

func mode(native bool) string {
	if native {
		return "native"
	}
	return "emulated"
}

func printSummary(w io.Writer, rep *pipeline.Report) {
	fmt.Fprintln(w)
	for _, u := range rep.Units {
		fmt.Fprintf(w, "%-20s %-14s %s %s\n", u.Name, u.Status, u.IndexRef, short(u.Digest))
		for _, t := range u.Targets {
			if t.Status != pipeline.StatusPassed {
				first, _, _ := strings.Cut(t.Error, "\n")
				left := ""
				if t.LeftOut {
					left = " (optional, left out)"
				}
				fmt.Fprintf(w, "  %-14s %s%s: %s\n", t.Platform, t.Status, left, first)
			}
		}
		if u.Reason != "" {
			fmt.Fprintf(w, "  %s\n", u.Reason)
		}
	}
}
