package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/ci"
	"github.com/polyarch/polyarch/config"
)

func newCICmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ci",
		Short: "Generate CI pipelines from polyarch.yaml's ci: section, and audit GitHub workflows",
		Long: `Generate the CI pipelines of polyarch.yaml's ci: section: a GitHub Actions
workflow, or Jenkins Job Builder jobs. Each platform is released by its own job
on its runner (polyarch release --platform P), then a publish job publishes.
Self-hosted runners only ever run on trusted events; pull requests build on
GitHub-hosted runners, push nothing and get no secrets.

'polyarch ci check' audits any GitHub workflow for the mistakes that expose
self-hosted runners or secrets to a pull request's code.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	gen := &cobra.Command{
		Use:   "generate github|jenkins",
		Short: "Write the GitHub Actions workflow or the Jenkins jobs of polyarch.yaml",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	gen.AddCommand(
		newGenerateCmd(g, "github", ci.GitHubPath, ci.GitHub, `Write the GitHub Actions workflow of polyarch.yaml's ci: section: a release job
per platform on its runner (hosted, self-hosted or emulated), a publish job that
needs them all, and pull-request jobs on GitHub-hosted runners that push only to
a registry inside the job. Jobs on self-hosted runners run only on the
trusted events configured (push, release, schedule, manual dispatch).

The same polyarch.yaml always gives the same file; --check writes nothing and
exits 1 when the file differs (run it in CI to keep the workflow current).`),
		newGenerateCmd(g, "jenkins", ci.JenkinsPath, ci.Jenkins, `Write Jenkins Job Builder YAML for polyarch.yaml's ci: section: a parent
multijob (a timer trigger for the schedule, an SCM trigger polling the branch)
running one job per platform in parallel on its agent label, then the publish
job. Render it with 'jenkins-jobs test FILE', deploy it with 'jenkins-jobs update'.

--check writes nothing and exits 1 when the file differs.`),
	)
	cmd.AddCommand(gen, newCICheckCmd(g))
	return cmd
}

func newGenerateCmd(g *globals, name, defaultPath string, generate func(*config.Config, ci.Options) ([]byte, error), long string) *cobra.Command {
	var file, root, output string
	var check bool
	cmd := &cobra.Command{
		Use:   name,
		Short: "Write the " + name + " pipeline of polyarch.yaml's ci: section",
		Long:  long,
		Example: "  polyarch ci generate " + name + "            # writes " + defaultPath + " beside polyarch.yaml\n" +
			"  polyarch ci generate " + name + " --check    # exit 1 when it is out of date\n" +
			"  polyarch ci generate " + name + " -f deploy/polyarch.yaml --root .",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(file)
			if err != nil {
				return err
			}
			if root == "" {
				root = filepath.Dir(file)
			}
			rel, err := filepath.Rel(root, file)
			if err != nil || rel == ".." || filepath.IsAbs(rel) || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator) {
				return usagef("--root %s does not contain %s", root, file)
			}
			b, err := generate(cfg, ci.Options{ConfigPath: filepath.ToSlash(rel)})
			if err != nil {
				return err
			}
			if output == "-" {
				_, err := g.stdout.Write(b)
				return err
			}
			if output == "" {
				output = filepath.Join(root, filepath.FromSlash(defaultPath))
			}
			wrote, err := ci.Sync(output, b, check)
			var stale *ci.OutOfDateError
			if errors.As(err, &stale) {
				return fmt.Errorf("%w; run: polyarch ci generate %s -f %s", err, name, file)
			}
			if err != nil {
				return err
			}
			switch {
			case check:
				fmt.Fprintf(g.stdout, "%s is up to date\n", output)
			case wrote:
				fmt.Fprintf(g.stdout, "wrote %s\n", output)
			default:
				fmt.Fprintf(g.stdout, "%s unchanged\n", output)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "file", "f", "polyarch.yaml", "the project's config")
	fl.StringVar(&root, "root", "", "the repository root the jobs check out (default the directory of polyarch.yaml)")
	fl.StringVarP(&output, "output", "o", "", "where to write it, - for stdout (default <root>/"+defaultPath+")")
	fl.BoolVar(&check, "check", false, "write nothing; exit 1 when the file is missing or out of date")
	return cmd
}

func newCICheckCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [FILE...]",
		Short: "Audit GitHub workflows for mistakes that expose self-hosted runners or secrets",
		Long: `Audit GitHub Actions workflows (default ` + ci.DefaultWorkflows + `) for the
mistakes that let a pull request's code reach self-hosted runners or secrets:

  self-hosted-untrusted    a self-hosted job that pull_request, pull_request_target
                           or a comment event can start
  pr-target-checkout       a pull_request_target (or comment) job that checks out
                           the pull request's head
  secrets-in-pull-request  secrets in a job that runs a pull request's code
  permissions              permissions: write-all, or no permissions at all
  unpinned-action          a third-party action or image not pinned to a digest

Each finding names file:line:column, the job and the fix. An if: is read for
which events it admits (github.event_name); one that cannot be read is assumed
to admit every event. Exit status 1 when there is a finding.`,
		Example: `  polyarch ci check                                 # .github/workflows/*.yml and *.yaml
  polyarch ci check .github/workflows/release.yml --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := os.Getwd()
			if err != nil {
				return err
			}
			fs, checkErr := ci.CheckFiles(dir, args)
			if asJSON {
				if fs == nil {
					fs = []ci.Finding{}
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(fs); err != nil {
					return err
				}
			} else {
				for _, f := range fs {
					fmt.Fprintln(g.stdout, f)
				}
			}
			if checkErr != nil {
				return checkErr
			}
			if len(fs) > 0 {
				return fmt.Errorf("%d finding(s)", len(fs))
			}
			if !asJSON {
				fmt.Fprintln(g.stdout, "no findings")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON")
	return cmd
}
