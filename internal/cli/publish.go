package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
	"github.com/polyarch/polyarch/report"
)

func newPublishCmd(g *globals) *cobra.Command {
	var (
		file       string
		rf         remoteFlags
		registry   string
		dryRun     bool
		force      bool
		noArchTags bool
		asJSON     bool
		jsonReport string
		htmlReport string
		requirePub bool
	)
	cmd := &cobra.Command{
		Use:   "publish [IMAGE[@VERSION]...]",
		Short: "Publish each index from what the registry holds: the merge job of a release split across CI runners",
		Long: `Publish the multi-arch index of each image version from the state the
registry holds, without building or testing anything: the last job of a
release whose platforms were built and tested by separate CI runners
('polyarch release --platform ...' on each).

For every platform of the image (not only some), it reads the image at its
arch ref (with --no-arch-tags, at its temporary polyarch-pending tag), the
commit and version that image was built from (its OCI annotations), and the
newest test record of that digest for the current test spec. The index is
written, then its tags, only when every required platform is present, passed
and was built from the checkout's commit; otherwise nothing is written and
the exit status is 1, naming every platform that is missing and why (not
pushed yet, not tested, tests failed, built from another commit). An index of
a newer commit is never replaced (--force does, and says so). Publishing an
index that is already there writes nothing and says unchanged.`,
		Example: `  polyarch publish                      # every image of polyarch.yaml
  polyarch publish agent --dry-run      # what would be published, or what it waits for
  polyarch publish --json > publish.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := config.Load(file)
			if err != nil {
				return err
			}
			if registry != "" {
				cfg.Registry = registry
			}
			plan, err := pipeline.NewPlan(cfg, args, pipeline.Options{NoArchTags: noArchTags})
			if err != nil {
				return err
			}
			signing, err := pipeline.SigningFromConfig(cfg)
			if err != nil {
				return err
			}
			sayReferrers(ctx, g.stderr, plan, rf.forProject(cfg).Remote(ctx))
			started := time.Now()
			results, pubErr := pipeline.Publish(ctx, plan, pipeline.PublishOptions{
				Remote: rf.forProject(cfg).Remote(ctx), DryRun: dryRun, Force: force, Signing: signing,
			})
			rep := pipeline.PublishReport(started, results)
			if jsonReport != "" {
				if err := writeFile(jsonReport, func(w io.Writer) error { return report.WriteJSON(w, rep) }); err != nil {
					return err
				}
			}
			if htmlReport != "" {
				if err := writeFile(htmlReport, func(w io.Writer) error { return report.WriteHTML(w, rep) }); err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			} else {
				printPublishResults(g.stdout, results)
			}
			if errors.Is(pubErr, pipeline.ErrNotPublished) && !requirePub && !anyFailed(results) {
				return nil // --require-publish=false: waiting and superseded are fine
			}
			if errors.Is(pubErr, pipeline.ErrNotPublished) {
				return fmt.Errorf("%d of %d image version(s) not published: %s", notDone(results), len(plan.Units), strings.TrimPrefix(pubErr.Error(), pipeline.ErrNotPublished.Error()+": "))
			}
			return pubErr
		},
	}
	rf.register(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&file, "file", "f", "polyarch.yaml", "the project's config")
	fl.StringVar(&registry, "registry", "", "registry for repositories that name none (overrides polyarch.yaml's registry:)")
	fl.BoolVar(&dryRun, "dry-run", false, "gather and decide, write nothing: what would be published, or what it waits for")
	fl.BoolVar(&force, "force", false, "publish even over an index (or beside platforms) built from a newer commit")
	fl.BoolVar(&noArchTags, "no-arch-tags", false, "the runners pushed per-arch images by digest only (release --no-arch-tags)")
	fl.BoolVar(&asJSON, "json", false, "print what was decided, per image version and platform, as JSON")
	fl.StringVar(&jsonReport, "report", "", "write the run report, rebuilt from the registry's test records, as JSON to this file")
	fl.StringVar(&htmlReport, "html", "", "write the run report as HTML to this file")
	fl.BoolVar(&requirePub, "require-publish", true, "exit 1 unless every image version is published or unchanged; =false: waiting or superseded is exit 0 too")
	return cmd
}

func anyFailed(rs []*pipeline.PublishResult) bool {
	for _, r := range rs {
		if r.Outcome == pipeline.Failed || r.CheckFailed() {
			return true
		}
	}
	return false
}

func notDone(rs []*pipeline.PublishResult) int {
	n := 0
	for _, r := range rs {
		if !(r.Outcome.Done() || r.Outcome == pipeline.WouldPublish) || r.Reason != "" {
			n++
		}
	}
	return n
}

// printPublishResults prints each unit's outcome and every platform's state.
func printPublishResults(w io.Writer, rs []*pipeline.PublishResult) {
	for _, r := range rs {
		fmt.Fprintf(w, "%-20s %-14s %s %s\n", r.Unit, r.Outcome, r.IndexRef, short(r.Digest))
		if r.State != nil {
			printStates(w, r.State)
		}
		if r.Reason != "" {
			fmt.Fprintf(w, "  %s\n", r.Reason)
		}
		for _, c := range r.Cleaned {
			fmt.Fprintf(w, "  deleted temporary tag %s\n", c)
		}
	}
}

// printStates prints one line per platform: its state and where it came from.
func printStates(w io.Writer, st *pipeline.UnitState) {
	for _, p := range st.Platforms {
		line := p.Why()
		if p.Wait == pipeline.Ready {
			line = "ready " + short(p.Digest)
			if rec := p.Record; rec != nil {
				line += ", tests passed"
				if rec.Node != "" {
					line += fmt.Sprintf(" on %s (%s)", rec.Node, mode(rec.Native))
				}
				if rec.CI != nil {
					line += ", " + rec.CI.String()
				}
			}
		}
		opt := ""
		if p.Optional {
			opt = " (optional)"
		}
		fmt.Fprintf(w, "  %-14s %s%s\n", platform.Format(p.Platform), line, opt)
	}
}
