package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/drift"
	"github.com/polyarch/polyarch/pipeline"
)

func newDriftCmd(g *globals) *cobra.Command {
	var (
		file    string
		asJSON  bool
		offline bool
	)
	cmd := &cobra.Command{
		Use:   "drift [IMAGE[@VERSION]...]",
		Short: "Compare each version's tool versions with its upstream Dockerfile and version files",
		Long: `Compare the tool versions of each version's Dockerfile with those of the
upstream it names in polyarch.yaml (versions[].upstream): a Dockerfile in a git
repository at a branch or tag, at a URL or a local path, and version files
such as .bazelversion.

A tool version is an ARG or ENV whose name ends in VERSION (ARG
GOLANG_VERSION=1.17.5), a tagged image (FROM golang:1.17.5, ARG
GOLANG_IMAGE=golang:1.17.5), go install pkg@vX, an apt-get/apk, pip or npm
package pinned to a version, or a version file's first line; polyarch.yaml's
build args override our Dockerfile's ARG defaults. Tools named differently in
the two files are paired by drift.aliases.

The table names each tool, both versions, the status (same, differs, only
ours, only upstream) and where each was read (file:line). Git upstreams are
fetched shallow, one ref without file contents but the file read, into
.polyarch/upstream beside polyarch.yaml; when an upstream cannot be reached
(or with --offline) the cached copy is read and a note says so.

Exit status 1 on drift: a tool that differs, or one only upstream has.`,
		Example: `  polyarch drift                  # every version that names an upstream
  polyarch drift builder@2.2      # one version
  polyarch drift --json | jq '.[].tools[] | select(.status != "same")'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(file)
			if err != nil {
				return err
			}
			units, err := upstreamUnits(cfg, args)
			if err != nil {
				return err
			}
			f := &drift.Fetcher{Cache: upstreamCache(cfg), Dir: cfg.Dir, Offline: offline}
			var reports []*drift.Report
			var errs []error
			for _, u := range units {
				r, err := drift.Check(cmd.Context(), cfg, u.img, u.unit, f)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, c := range r.Cached {
					fmt.Fprintf(g.stderr, "note: %s: %s\n", r.Name(), c)
				}
				reports = append(reports, r)
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if reports == nil {
					reports = []*drift.Report{}
				}
				if err := enc.Encode(reports); err != nil {
					return err
				}
			} else {
				printDrift(g.stdout, reports)
			}
			var drifted []string
			for _, r := range reports {
				if r.Drift {
					drifted = append(drifted, r.Name())
				}
			}
			if len(drifted) > 0 {
				errs = append(errs, fmt.Errorf("drift in %s", strings.Join(drifted, ", ")))
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "polyarch.yaml", "the project's config")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the reports as JSON")
	cmd.Flags().BoolVar(&offline, "offline", false, "read upstreams from the cache only")
	return cmd
}

// upstreamCache is where upstream files are cached for a project.
func upstreamCache(cfg *config.Config) string {
	return filepath.Join(cfg.Dir, ".polyarch", "upstream")
}

type selectedUnit struct {
	img  *config.Image
	unit config.Unit
}

// upstreamUnits are the versions args select (every version without args)
// that name an upstream. A version named on its own must name one.
func upstreamUnits(cfg *config.Config, args []string) ([]selectedUnit, error) {
	if len(args) == 0 {
		for _, img := range cfg.Images {
			args = append(args, img.Name)
		}
	}
	var out []selectedUnit
	for _, a := range args {
		sel := pipeline.ParseSelector(a)
		img, err := sel.Lookup(cfg)
		if err != nil {
			return nil, err
		}
		for _, u := range img.Units() {
			if sel.Version != "" && u.Version != sel.Version {
				continue
			}
			if drift.UpstreamOf(img, u) == nil {
				if sel.Version != "" {
					return nil, fmt.Errorf("%s: %s@%s names no upstream (give versions[].upstream)", cfg.At(versionPath(cfg, img, u)), img.Name, u.Version)
				}
				continue
			}
			out = append(out, selectedUnit{img, u})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no version of %s names an upstream (give versions[].upstream)", cfg.File, strings.Join(args, ", "))
	}
	return out, nil
}

// versionPath is the field path of one version: images[0].versions[1].
func versionPath(cfg *config.Config, img *config.Image, u config.Unit) string {
	for i := range cfg.Images {
		if cfg.Images[i].Name == img.Name {
			if u.Index < 0 {
				return fmt.Sprintf("images[%d]", i)
			}
			return fmt.Sprintf("images[%d].versions[%d]", i, u.Index)
		}
	}
	return "images"
}

func printDrift(w io.Writer, reports []*drift.Report) {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s against %s\n", r.Name(), displayPath(r.Dockerfile), strings.Join(mapStrings(r.Upstream, displayPath), ", "))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TOOL\tOURS\tUPSTREAM\tSTATUS\tOURS AT\tUPSTREAM AT")
		for _, row := range r.Rows {
			ours, oursAt, theirs, theirsAt := "-", "-", "-", "-"
			if row.Ours != nil {
				ours, oursAt = row.Ours.Version, displayAt(*row.Ours)
			}
			if row.Upstream != nil {
				theirs, theirsAt = row.Upstream.Version, displayAt(*row.Upstream)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Tool, ours, theirs, row.Status, oursAt, theirsAt)
		}
		tw.Flush()
		var counts []string
		for _, s := range []drift.Status{drift.Differs, drift.OnlyUpstream, drift.OnlyOurs, drift.Same} {
			if n := r.Count(s); n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, s))
			}
		}
		verdict := "no drift"
		if r.Drift {
			verdict = "drift"
		}
		fmt.Fprintf(w, "%s: %s (%s)\n", r.Name(), verdict, strings.Join(counts, ", "))
	}
}

// displayAt is file:line with the file as displayPath shows it.
func displayAt(t drift.Tool) string { return fmt.Sprintf("%s:%d", displayPath(t.File), t.Line) }

// displayPath shows a local file relative to the working directory when it
// is below it; upstream names (URLs, repo@ref:path) as they are.
func displayPath(p string) string {
	if !filepath.IsAbs(p) {
		return p
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}

func mapStrings(ss []string, f func(string) string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}
